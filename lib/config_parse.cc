// lib/config_parse.cc: parses one attribute value by its schema type (see Type in
// lib/config_schema.h), and resolves references to named definitions.
//
// State: none of its own; references are looked up in the load's Names table.
// Limits: an attribute value is at most kMaxValue bytes; a list attribute at most kMaxItems
// entries; regexes as in lib/regex.h.
// Failures: std::monostate plus an error text that quotes the offending value (control
// characters escaped, cut after 64 bytes), e.g. `"drop" is not one of: block, defer`.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "lib/config_loader.h"
#include "lib/quote.h"
#include "lib/socket_spec.h"
#include "lib/units.h"

namespace mpp::config::schema {

namespace {

constexpr std::size_t kMaxValue = 64 * 1024;
constexpr std::size_t kMaxItems = 10000;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::vector<std::string_view> split(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && is_space(text[i])) ++i;
        std::size_t j = i;
        while (j < text.size() && !is_space(text[j])) ++j;
        if (j > i) out.push_back(text.substr(i, j - i));
        i = j;
    }
    return out;
}

bool has_control(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return true;
    return false;
}

std::string out_of_range(std::string shown, std::string lo, std::string hi) {
    return shown + " is out of range " + lo + ".." + hi;
}

std::string_view list_type_name(ListType t) {
    switch (t) {
    case ListType::cidr: return "cidr";
    case ListType::address: return "address";
    case ListType::domain: return "domain";
    case ListType::regex: return "regex";
    }
    return "?";
}

std::string allowed_lists(unsigned mask) {
    std::string out;
    for (auto t : {ListType::cidr, ListType::address, ListType::domain, ListType::regex}) {
        if (!(mask & list_bit(t))) continue;
        if (!out.empty()) out += " or ";
        out += list_type_name(t);
    }
    return out;
}

// A reference to a <list>: defined, and of an allowed type.
bool list_ref(std::string_view name, unsigned mask, Names& names, Ref& ref, std::string* error) {
    auto it = names.lists.find(name);
    if (it == names.lists.end()) {
        *error = "undefined list " + quoted(name) + " (no <list name=" + quoted(name) + ">)";
        return false;
    }
    if (it->second.type_known && !(mask & list_bit(it->second.list_type))) {
        *error = "list " + quoted(name) + " is a " +
                 std::string(list_type_name(it->second.list_type)) + " list; this needs a " +
                 allowed_lists(mask) + " list";
        return false;
    }
    ref.name = std::string(name);
    ref.index = it->second.index;
    return true;
}

Value refs(Type type, const Attr& attr, std::string_view text, Names& names, std::string* error) {
    std::vector<Ref> out;
    for (auto item : split(text)) {
        Ref r;
        if (type == Type::list_refs) {
            if (!list_ref(item, attr.list_types ? attr.list_types : kAnyList, names, r, error))
                return {};
        } else {
            auto& table = type == Type::rbl_refs ? names.rbls : names.engines;
            auto it = table.find(item);
            if (it == table.end()) {
                *error =
                    type == Type::rbl_refs
                        ? "undefined rbl " + quoted(item) + " (no <rbl name=" + quoted(item) + ">)"
                        : "undefined engine " + quoted(item) +
                              " (no <spamd>, <clamd> or <command> with that name)";
                return {};
            }
            r.name = std::string(item);
            r.index = it->second.index;
            r.engine = it->second.engine;
        }
        out.push_back(std::move(r));
    }
    if (out.empty()) {
        *error = "expected at least one name";
        return {};
    }
    return out;
}

Value address_match(bool domains_only, std::string_view text, Names& names, std::string* error) {
    AddressMatch m;
    for (auto item : split(text)) {
        if (is_name(item) && item.find('.') == std::string_view::npos) {
            Ref r;
            unsigned mask = domains_only
                                ? list_bit(ListType::domain)
                                : list_bit(ListType::address) | list_bit(ListType::domain) |
                                      list_bit(ListType::regex);
            if (!list_ref(item, mask, names, r, error)) return {};
            m.lists.push_back(std::move(r));
            continue;
        }
        if (domains_only && item.find('@') != std::string_view::npos && item.front() != '@') {
            *error = quoted(item) + " is an address, not a domain pattern";
            return {};
        }
        auto p = AddressPattern::parse(item, error);
        if (!p) return {};
        m.patterns.push_back(std::move(*p));
    }
    if (m.empty()) {
        *error = "expected at least one pattern or list name";
        return {};
    }
    return m;
}

Value net_match(bool lists_ok, std::string_view text, Names& names, std::string* error) {
    NetMatch m;
    for (auto item : split(text)) {
        if (lists_ok && is_name(item)) {
            Ref r;
            if (!list_ref(item, list_bit(ListType::cidr), names, r, error)) return {};
            m.lists.push_back(std::move(r));
            continue;
        }
        auto c = Cidr::parse(item, error);
        if (!c) return {};
        m.nets.add(*c);
        m.entries.push_back(*c);
    }
    if (m.empty()) {
        *error = "expected at least one network";
        return {};
    }
    return m;
}

std::string check_url(std::string_view text, const Attr& attr) {
    static const std::string_view schemes[] = {"http://", "https://", "ftp://", "ftps://"};
    bool ok = false;
    for (auto s : schemes)
        if (text.substr(0, s.size()) == s && text.size() > s.size() && text[s.size()] != '/')
            ok = true;
    if (!ok)
        return "bad URL " + quoted(text) +
               ": expected http://, https://, ftp:// or ftps:// and a host";
    for (char c : text)
        if (c == ' ' || c == '"' || c == '<' || c == '>' || c == '\\' ||
            static_cast<unsigned char>(c) < 0x21)
            return "bad URL " + quoted(text) +
                   ": spaces, quotes and control characters are not allowed";
    return tmpl::check(text, attr.macros ? *attr.macros : tmpl::MacroSet{});
}

// mariadb://USER@HOST[:PORT]/DB[?socket=/path] (also mysql://); no password in the URL.
std::string check_database_url(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return "bad database URL " + quoted(text) + ": " + std::string(why);
    };
    std::string_view rest;
    if (text.substr(0, 10) == "mariadb://")
        rest = text.substr(10);
    else if (text.substr(0, 8) == "mysql://")
        rest = text.substr(8);
    else
        return bad("expected mariadb://USER@HOST[:PORT]/DATABASE");
    auto at = rest.find('@');
    if (at == std::string_view::npos || at == 0) return bad("missing USER@ before the host");
    if (rest.substr(0, at).find(':') != std::string_view::npos)
        return bad("no password in the URL: put it in database-password-file");
    rest = rest.substr(at + 1);
    auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return bad("missing HOST/DATABASE");
    std::string_view host = rest.substr(0, slash), db = rest.substr(slash + 1), query;
    if (auto q = db.find('?'); q != std::string_view::npos) {
        query = db.substr(q + 1);
        db = db.substr(0, q);
    }
    if (db.empty()) return bad("missing database name after '/'");
    for (char c : db)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'))
            return bad("bad database name");
    if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
        std::string_view port = host.substr(colon + 1);
        unsigned p = 0;
        auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (ec != std::errc{} || ptr != port.data() + port.size() || p == 0 || p > 65535)
            return bad("bad port");
        host = host.substr(0, colon);
    }
    if (host.empty() || has_control(host) || host.find(' ') != std::string_view::npos)
        return bad("bad host");
    if (!query.empty()) {
        if (query.substr(0, 8) != "socket=/" || has_control(query))
            return bad("the only option is ?socket=/path");
    }
    return {};
}

Value exit_codes(std::string_view text, std::string* error) {
    std::set<int> codes;
    for (auto item : split(text)) {
        auto num = [&](std::string_view s, int& v) {
            auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
            return ec == std::errc{} && ptr == s.data() + s.size() && !s.empty() && v >= 0 &&
                   v <= 255;
        };
        int lo = 0, hi = 0;
        auto dash = item.find('-');
        bool ok = dash == std::string_view::npos
                      ? num(item, lo) && num(item, hi)
                      : num(item.substr(0, dash), lo) && num(item.substr(dash + 1), hi);
        if (!ok || lo > hi) {
            *error = "bad exit code " + quoted(item) + ": expected 0..255 or a range such as 1-9";
            return {};
        }
        for (int c = lo; c <= hi; ++c) codes.insert(c);
    }
    return std::vector<int>(codes.begin(), codes.end());
}

bool mime_glob(std::string_view s) {
    auto slash = s.find('/');
    if (slash == 0 || slash == std::string_view::npos || slash + 1 == s.size()) return false;
    if (s.find('/', slash + 1) != std::string_view::npos) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) ||
              std::string_view("!#$&^_.+-*?/").find(c) != std::string_view::npos))
            return false;
    return true;
}

}  // namespace

bool is_name(std::string_view s) {
    if (s.empty() || s.size() > 64 || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    return true;
}

Value parse_value(const Attr& attr, std::string_view text, Names& names, std::string* error) {
    if (text.size() > kMaxValue) {
        *error = "value longer than 64 KiB";
        return {};
    }
    if (text.empty()) {
        if (attr.nonempty || attr.required) {
            *error = "must not be empty";
            return {};
        }
        switch (attr.type) {  // "" means "none" for these
        case Type::string:
        case Type::path:
        case Type::template_text:
        case Type::url_template:
        case Type::database_url:
        case Type::endpoint:
        case Type::header_name: return std::string();
        case Type::resolvers:
        case Type::globs:
        case Type::mime_globs:
        case Type::mail_addresses: return std::vector<std::string>();
        case Type::list_refs:
        case Type::engine_refs:
        case Type::rbl_refs: return std::vector<Ref>();
        case Type::exit_codes: return std::vector<int>();
        case Type::address_match:
        case Type::domain_match: return AddressMatch{};
        case Type::net_match: return NetMatch{};
        default: break;
        }
    }
    if (split(text).size() > kMaxItems) {
        *error = "more than 10000 entries";
        return {};
    }
    switch (attr.type) {
    case Type::string:
        if (has_control(text)) {
            *error = "control characters are not allowed";
            return {};
        }
        return std::string(text);
    case Type::name:
        if (!is_name(text)) {
            *error = "bad name " + quoted(text) +
                     ": a letter, then letters, digits, '-' or '_' (at most 64)";
            return {};
        }
        return std::string(text);
    case Type::boolean:
        if (text == "yes") return true;
        if (text == "no") return false;
        *error = quoted(text) + " is not yes or no";
        return {};
    case Type::integer: {
        auto p = parse_integer(text);
        if (!p.ok()) {
            *error = p.error;
            return {};
        }
        if (p.value < attr.min || p.value > attr.max) {
            *error = out_of_range(std::to_string(p.value), std::to_string(attr.min),
                                  std::to_string(attr.max));
            return {};
        }
        return p.value;
    }
    case Type::number: {
        std::size_t i = text[0] == '-' ? 1 : 0, digits = 0, frac = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
        if (i < text.size() && text[i] == '.') {
            ++i;
            while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
                ++i, ++frac;
            if (frac == 0) digits = 0;
        }
        if (digits == 0 || digits > 9 || frac > 6 || i != text.size()) {
            *error = "bad number " + quoted(text) +
                     ": expected digits with an optional fraction (4.5, -1)";
            return {};
        }
        double v = std::strtod(std::string(text).c_str(), nullptr);
        if (v < attr.min_number || v > attr.max_number) {
            auto fmt = [](double d) {
                char b[32];
                std::snprintf(b, sizeof b, "%g", d);
                return std::string(b);
            };
            *error = out_of_range(std::string(text), fmt(attr.min_number), fmt(attr.max_number));
            return {};
        }
        return v;
    }
    case Type::duration: {
        auto p = parse_duration(text);
        if (!p.ok()) {
            *error = p.error;
            return {};
        }
        if (p.value.count() < attr.min || p.value.count() > attr.max) {
            *error =
                out_of_range(std::string(text), format_duration(std::chrono::seconds(attr.min)),
                             format_duration(std::chrono::seconds(attr.max)));
            return {};
        }
        return p.value;
    }
    case Type::size: {
        auto p = parse_size(text);
        if (!p.ok()) {
            *error = p.error;
            return {};
        }
        if (p.value < static_cast<std::uint64_t>(std::max<std::int64_t>(attr.min, 0)) ||
            p.value > static_cast<std::uint64_t>(attr.max)) {
            *error = out_of_range(
                std::string(text),
                format_size(static_cast<std::uint64_t>(std::max<std::int64_t>(attr.min, 0))),
                format_size(static_cast<std::uint64_t>(attr.max)));
            return {};
        }
        return SizeValue{p.value};
    }
    case Type::choice: {
        std::string words;
        for (const auto& [word, value] : attr.choices->items) {
            if (word == text) return EnumValue{value, std::string(word)};
            words += (words.empty() ? "" : ", ") + std::string(word);
        }
        *error = quoted(text) + " is not one of: " + words;
        return {};
    }
    case Type::milter_socket:
        if (!SocketSpec::parse_milter(text, error)) return {};
        return std::string(text);
    case Type::listen_socket:
    case Type::endpoint:
        if (!SocketSpec::parse_listen(text, error)) return {};
        return std::string(text);
    case Type::resolvers: {
        std::vector<std::string> out;
        for (auto item : split(text)) {
            if (!IpAddr::parse(item)) {
                auto s = SocketSpec::parse_listen(item, error);
                if (!s) return {};
                if (s->kind == SocketSpec::Kind::unix_path) {
                    *error = "bad resolver " + quoted(item) + ": expected IP or IP:PORT";
                    return {};
                }
            }
            out.emplace_back(item);
        }
        return out;
    }
    case Type::path:
        if (text[0] != '/' || has_control(text) || text.size() > 4095) {
            *error = "bad path " + quoted(text) + ": expected an absolute file name";
            return {};
        }
        return std::string(text);
    case Type::list_refs:
    case Type::engine_refs:
    case Type::rbl_refs: return refs(attr.type, attr, text, names, error);
    case Type::group_ref: {
        auto it = names.groups.find(text);
        if (it == names.groups.end()) {
            *error = "undefined group " + quoted(text) + " (no <group name=" + quoted(text) + ">)";
            return {};
        }
        if (it->second.index == names.groups_done) {
            *error = "a group cannot inherit from itself";
            return {};
        }
        if (it->second.index > names.groups_done) {
            *error = "group " + quoted(text) + " is defined later in the file (line " +
                     std::to_string(it->second.line) +
                     "); a group inherits only from groups above it";
            return {};
        }
        return Ref{std::string(text), it->second.index, EngineKind::spamd};
    }
    case Type::regex: {
        auto c = Regex::compile(text);
        if (!c.ok()) {
            *error = "bad regex " + quoted(text) + ": " + c.error;
            return {};
        }
        return c.regex;
    }
    case Type::address_match: return address_match(false, text, names, error);
    case Type::domain_match: return address_match(true, text, names, error);
    case Type::net_match: return net_match(true, text, names, error);
    case Type::networks: return net_match(false, text, names, error);
    case Type::mail_address:
    case Type::mail_addresses: {
        std::vector<std::string> out;
        auto items = split(text);
        if (attr.type == Type::mail_address && items.size() != 1) {
            *error = "expected one address";
            return {};
        }
        for (auto item : items) {
            auto a = Address::parse(item);
            if (!a || a->null() || a->local.empty() || a->domain.empty() ||
                !valid_domain(a->domain)) {
                *error = "bad address " + quoted(item) + ": expected user@domain";
                return {};
            }
            out.push_back(a->str());
        }
        if (attr.type == Type::mail_address) return out.front();
        return out;
    }
    case Type::smtp_code:
        if (text.size() != 3 || (text[0] != '4' && text[0] != '5') || text[1] < '0' ||
            text[1] > '5' || text[2] < '0' || text[2] > '9') {
            *error = "bad SMTP code " + quoted(text) + ": expected 4xx or 5xx (such as 451, 550)";
            return {};
        }
        return static_cast<std::int64_t>((text[0] - '0') * 100 + (text[1] - '0') * 10 +
                                         (text[2] - '0'));
    case Type::dsn: {
        auto bad = [&] {
            *error = "bad enhanced status code " + quoted(text) +
                     ": expected CLASS.SUBJECT.DETAIL such as 5.7.1";
            return Value{};
        };
        if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') ||
            text[1] != '.')
            return bad();
        auto rest = text.substr(2);
        auto dot = rest.find('.');
        if (dot == std::string_view::npos) return bad();
        for (auto part : {rest.substr(0, dot), rest.substr(dot + 1)}) {
            if (part.empty() || part.size() > 3) return bad();
            for (char c : part)
                if (c < '0' || c > '9') return bad();
            if (part.size() > 1 && part[0] == '0') return bad();
        }
        return std::string(text);
    }
    case Type::file_mode: {
        unsigned v = 0;
        bool ok = text.size() >= 3 && text.size() <= 4;
        for (char c : text) {
            if (c < '0' || c > '7') ok = false;
            v = v * 8 + static_cast<unsigned>(c - '0');
        }
        if (!ok || v > 0777) {
            *error =
                "bad file mode " + quoted(text) + ": expected octal permission bits such as 0660";
            return {};
        }
        return static_cast<std::int64_t>(v);
    }
    case Type::template_text: {
        if (has_control(text)) {
            *error = "control characters are not allowed";
            return {};
        }
        std::string e = tmpl::check(text, attr.macros ? *attr.macros : tmpl::MacroSet{});
        if (!e.empty()) {
            *error = e;
            return {};
        }
        return std::string(text);
    }
    case Type::url_template: {
        std::string e = check_url(text, attr);
        if (!e.empty()) {
            *error = e;
            return {};
        }
        return std::string(text);
    }
    case Type::database_url: {
        std::string e = check_database_url(text);
        if (!e.empty()) {
            *error = e;
            return {};
        }
        return std::string(text);
    }
    case Type::globs:
    case Type::mime_globs: {
        std::vector<std::string> out;
        for (auto item : split(text)) {
            if (item.size() > 255 || has_control(item) ||
                (attr.type == Type::mime_globs && !mime_glob(item))) {
                *error = attr.type == Type::globs ? "bad pattern " + quoted(item)
                                                  : "bad content type " + quoted(item) +
                                                        ": expected type/subtype (image/*)";
                return {};
            }
            out.emplace_back(item);
        }
        return out;
    }
    case Type::header_name:
        for (unsigned char c : text)
            if (c < 33 || c > 126 || c == ':') {
                *error =
                    "bad header name " + quoted(text) + ": printable characters, no ':' or spaces";
                return {};
            }
        return std::string(text);
    case Type::charset:
        if (text != "*") {
            for (char c : text)
                if (!(std::isalnum(static_cast<unsigned char>(c)) ||
                      std::string_view("._:+-").find(c) != std::string_view::npos) ||
                    text.size() > 40) {
                    *error =
                        "bad charset " + quoted(text) + ": a MIME charset name such as utf-8, or *";
                    return {};
                }
        }
        return std::string(text);
    case Type::exit_codes: return exit_codes(text, error);
    case Type::domain:
        if (!valid_domain(text)) {
            *error = "bad domain " + quoted(text);
            return {};
        }
        return std::string(text);
    }
    *error = "unsupported type";
    return {};
}

}  // namespace mpp::config::schema
