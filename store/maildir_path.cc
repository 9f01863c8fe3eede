// store/maildir_path.cc: <store maildir> template expansion with sanitised values (see
// maildir_path.h).
#include "store/maildir_path.h"

#include <ctime>

#include "lib/template.h"

namespace mpp::store {
namespace {

bool safe_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
           c == '+' || c == '=';
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string letter(std::string_view value, std::size_t i) {
    if (i >= value.size()) return "_";
    char c = lower(value[i]);
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? std::string(1, c) : "_";
}

std::string day(std::int64_t received) {
    std::time_t t = static_cast<std::time_t>(received);
    std::tm tm{};
    if (!::gmtime_r(&t, &tm)) return "00000000";
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
    return buf;
}

}  // namespace

std::string sanitise_component(std::string_view value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (std::size_t i = 0; i < value.size() && out.size() < kMaxComponent; ++i) {
        auto c = static_cast<unsigned char>(lower(value[i]));
        if (safe_byte(c) && !(i == 0 && c == '.')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0x0f];
        }
    }
    if (out.size() > kMaxComponent) out.resize(kMaxComponent);
    return out.empty() ? "_" : out;
}

std::optional<std::string> maildir_path(std::string_view path_template, std::string_view address,
                                        std::string_view group, std::int64_t received,
                                        std::string* error) {
    std::size_t at = address.rfind('@');
    std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
    std::string_view domain = at == std::string_view::npos ? "" : address.substr(at + 1);
    if (local.size() >= 2 && local.front() == '<') local.remove_prefix(1);
    if (!domain.empty() && domain.back() == '>') domain.remove_suffix(1);
    const std::string u = sanitise_component(local), d = sanitise_component(domain);
    std::string path =
        tmpl::expand(path_template, [&](std::string_view m) -> std::optional<std::string> {
            if (m == "U") return u;
            if (m == "D") return d;
            if (m == "U1") return letter(local, 0);
            if (m == "U2") return letter(local, 1);
            if (m == "D1") return letter(domain, 0);
            if (m == "D2") return letter(domain, 1);
            if (m == "GROUP") return sanitise_component(group);
            if (m == "DATE") return day(received);
            return std::nullopt;
        });
    auto fail = [&](const std::string& why) {
        if (error) *error = "maildir template \"" + std::string(path_template) + "\": " + why;
        return std::nullopt;
    };
    if (path.empty() || path[0] != '/') return fail("not an absolute path");
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    for (std::size_t pos = 1; pos <= path.size();) {
        std::size_t end = path.find('/', pos);
        if (end == std::string::npos) end = path.size();
        std::string_view c(path.data() + pos, end - pos);
        if (c.empty() || c == "." || c == "..")
            return fail("gives \"" + path + "\", with an empty, \".\" or \"..\" component");
        pos = end + 1;
    }
    return path;
}

}  // namespace mpp::store
