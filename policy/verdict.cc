// policy/verdict.cc: names of verdict actions (see verdict.h).
#include "policy/verdict.h"

namespace mpp::policy {

std::string_view action_name(Action a) {
    switch (a) {
    case Action::none: return "none";
    case Action::accept: return "accept";
    case Action::greylist: return "greylist";
    case Action::defer: return "defer";
    case Action::reject: return "reject";
    }
    return "?";
}

bool valid_dsn(std::string_view dsn, char cls) {
    if (dsn.size() < 5 || dsn[0] != cls || dsn[1] != '.') return false;
    std::size_t dots = 0, run = 0;
    for (std::size_t i = 2; i < dsn.size(); ++i) {
        if (dsn[i] == '.') {
            if (run == 0 || ++dots > 1) return false;
            run = 0;
        } else if (dsn[i] >= '0' && dsn[i] <= '9') {
            if (++run > 3) return false;
        } else {
            return false;
        }
    }
    return dots == 1 && run > 0;
}

}  // namespace mpp::policy
