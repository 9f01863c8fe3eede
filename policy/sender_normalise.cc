// policy/sender_normalise.cc: see sender_normalise.h for the rules. Malformed tags (an SRS or
// BATV prefix without the fields that should follow) leave the address as it was: a sender we
// can't parse is still a valid key, only a less stable one.
#include "policy/sender_normalise.h"

#include <cctype>

namespace mpp::policy {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    return true;
}

// "HHH=TT=domain=local" -> "local@domain"; false when it does not have that shape.
bool srs0_body(std::string_view body, std::string& out) {
    std::size_t a = body.find('=');
    if (a == std::string_view::npos) return false;
    std::size_t b = body.find('=', a + 1);
    if (b == std::string_view::npos) return false;
    std::size_t c = body.find('=', b + 1);
    if (c == std::string_view::npos) return false;
    std::string_view domain = body.substr(b + 1, c - b - 1);
    std::string_view local = body.substr(c + 1);
    if (domain.empty() || local.empty()) return false;
    out.assign(local);
    out += '@';
    out += domain;
    return true;
}

// Rewrites `addr` in place when its local part is an SRS address.
void strip_srs(std::string& addr) {
    std::size_t at = addr.rfind('@');
    std::string_view local = std::string_view(addr).substr(0, at == std::string::npos ? addr.size() : at);
    if (local.size() < 6) return;
    bool srs0 = starts_with_nocase(local, "srs0");
    bool srs1 = starts_with_nocase(local, "srs1");
    char sep = local[4];
    if ((!srs0 && !srs1) || (sep != '=' && sep != '+' && sep != '-')) return;
    std::string_view body = local.substr(5);
    std::string out;
    if (srs1) {
        // HHH=forwarder=<sep>HHH=TT=domain=local
        std::size_t a = body.find('=');
        if (a == std::string_view::npos) return;
        std::size_t b = body.find('=', a + 1);
        if (b == std::string_view::npos || b + 1 >= body.size()) return;
        body = body.substr(b + 1);
        if (body[0] == '=' || body[0] == '+' || body[0] == '-') body.remove_prefix(1);
    }
    if (srs0_body(body, out)) addr = std::move(out);
}

// The BATV prvs tag: K DDD SSSSSS (key number, day, 6 hex digits of hash).
bool is_prvs_tag(std::string_view t) {
    if (t.size() != 10) return false;
    for (std::size_t i = 0; i < 4; ++i)
        if (!is_digit(t[i])) return false;
    for (std::size_t i = 4; i < 10; ++i)
        if (!is_hex(t[i])) return false;
    return true;
}

void strip_batv(std::string& addr) {
    std::size_t at = addr.rfind('@');
    std::size_t local_len = at == std::string::npos ? addr.size() : at;
    std::string_view local = std::string_view(addr).substr(0, local_len);
    std::string_view user;
    if (starts_with_nocase(local, "btv1==")) {
        std::size_t p = local.find("==", 6);
        if (p == std::string_view::npos) return;
        user = local.substr(p + 2);
    } else if (starts_with_nocase(local, "prvs=") || starts_with_nocase(local, "msprvs1=")) {
        std::string_view rest = local.substr(local.find('=') + 1);
        std::size_t p = rest.find('=');
        if (p == std::string_view::npos) return;
        std::string_view first = rest.substr(0, p);
        std::string_view second = rest.substr(p + 1);
        if (is_prvs_tag(first) || !is_prvs_tag(second)) {
            user = second;  // prvs=TAG=user (and msprvs1=TAG=user, whose tag differs)
        } else {
            user = first;  // the older prvs=user=TAG
        }
    } else {
        return;
    }
    if (user.empty()) return;
    addr = std::string(user) + addr.substr(local_len);
}

void strip_extension(std::string& addr) {
    std::size_t at = addr.rfind('@');
    std::size_t local_len = at == std::string::npos ? addr.size() : at;
    std::size_t plus = addr.find('+');
    if (plus == std::string::npos || plus >= local_len || plus == 0) return;
    addr.erase(plus, local_len - plus);
}

void replace_numbers(std::string& addr) {
    std::size_t at = addr.rfind('@');
    std::size_t local_len = at == std::string::npos ? addr.size() : at;
    std::string out;
    out.reserve(addr.size());
    std::size_t i = 0;
    while (i < local_len) {
        if (is_digit(addr[i]) && (i == 0 || !is_alnum(addr[i - 1]))) {
            std::size_t j = i;
            while (j < local_len && is_digit(addr[j])) ++j;
            if (j == local_len || !is_alnum(addr[j])) {
                out += '#';
                i = j;
                continue;
            }
            out.append(addr, i, j - i);
            i = j;
            continue;
        }
        out += addr[i++];
    }
    out.append(addr, local_len, std::string::npos);
    addr = std::move(out);
}

}  // namespace

std::string normalise_sender(std::string_view sender, const SenderNormalise& how) {
    std::string addr(sender);
    if (addr.empty()) return addr;
    if (how.lower)
        for (char& c : addr)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (how.srs) strip_srs(addr);
    if (how.batv) strip_batv(addr);
    if (how.extension) strip_extension(addr);
    if (how.verp) replace_numbers(addr);
    return addr;
}

}  // namespace mpp::policy
