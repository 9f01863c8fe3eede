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

}  // namespace mpp::policy
