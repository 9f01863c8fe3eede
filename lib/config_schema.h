// lib/config_schema.h: the declarative schema of mppd.conf.xml.
//
// Owns: one table entry per element (name, allowed parent, multiplicity, text content, whether
// its feature is built, documentation) holding one entry per attribute (name, type, bounds,
// default, required, documentation, and a setter bound to a typed struct field). The loader
// (lib/config_loader.cc), `mppd -t`, and the test that the man page and the sample document
// every attribute (t/lib/config_docs_test.cc) are all driven from this table. The table is built
// once, on first use, and is immutable afterwards (safe from any thread).
//
// Adding an attribute is one line in the area's table (lib/config_schema_daemon.cc,
// _definitions.cc, _groups.cc, _checks.cc), e.g.
//     e.attr("delay", Type::duration, &GreylistCfg::delay, "5m", "How long ...").range(0, kDay);
// plus a field in lib/config_types*.h, a paragraph in docs/mppd.conf.xml.5 and a line in
// etc/mppd.conf.xml (the docs test fails until both exist).
//
// Failure behaviour: a schema mistake (a setter bound to a field of the wrong type, a default
// that does not parse) is a programming error found by schema::self_check() in the unit tests.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "lib/config_types.h"
#include "lib/template.h"

namespace mpp::config::schema {

// Attribute types. The man page's TYPES section describes each one's syntax.
enum class Type {
    string,          // printable text, no control characters
    name,            // identifier: a letter, then letters, digits, '-', '_' (at most 64)
    boolean,         // yes | no
    integer,         // decimal, within [min, max]
    number,          // decimal with optional fraction ("4.5", "-1"), within [min, max]
    duration,        // 30s 5m 2h 1d (lib/units.h), within [min, max] seconds
    size,            // 512 64K 1M 2G (lib/units.h), within [min, max] bytes
    choice,          // one of the listed words
    milter_socket,   // inet:PORT@HOST, inet6:PORT@HOST, unix:/path (as libmilter accepts)
    listen_socket,   // HOST:PORT, [IPV6]:PORT, unix:/path
    endpoint,        // a server to connect to: HOST:PORT, [IPV6]:PORT, unix:/path
    resolvers,       // IP or IP:PORT or [IPV6]:PORT, whitespace-separated
    path,            // absolute file name
    list_refs,       // names of <list>s (of the allowed types)
    engine_refs,     // names of <spamd>, <clamd>, <command>
    rbl_refs,        // names of <rbl> definitions
    group_ref,       // name of a <group> defined earlier in the file
    regex,           // PCRE2 pattern, compiled at load
    address_match,   // address patterns and/or list names
    domain_match,    // domain patterns and/or domain-list names
    net_match,       // networks (CIDR) and/or cidr-list names
    networks,        // networks (CIDR) only
    mail_address,    // one address: user@domain
    mail_addresses,  // whitespace-separated addresses
    smtp_code,       // three digits, 4xx or 5xx
    dsn,             // enhanced status code: class.subject.detail (4.7.1)
    file_mode,       // octal permission bits (0660)
    template_text,   // text with %MACRO%s from the attribute's macro set
    url_template,    // http(s):// or ftp(s):// URL with %MACRO%s
    database_url,    // mariadb://USER@HOST[:PORT]/DB[?socket=/path]
    globs,           // whitespace-separated glob patterns ('*', '?')
    mime_globs,      // whitespace-separated type/subtype globs
    header_name,     // an RFC 5322 field name
    charset,         // a MIME charset name, or "*"
    exit_codes,      // whitespace-separated exit codes 0..255 or ranges (1-9)
    domain,          // a DNS domain name
};

std::string_view type_name(Type);  // as the man page writes it: "duration", "list names" ...

struct SizeValue {
    std::uint64_t bytes = 0;
};
struct EnumValue {
    int value = 0;
    std::string text;
};

// A parsed attribute value, before it is stored in its field.
using Value = std::variant<std::monostate, std::string, bool, std::int64_t, double, Duration,
                           SizeValue, std::vector<std::string>, std::vector<Ref>, Ref, RegexPtr,
                           AddressMatch, NetMatch, std::vector<int>, EnumValue>;

// The spellings of a choice and the enumerator (or int) each stands for.
struct Choices {
    std::vector<std::pair<std::string_view, int>> items;
    template <typename E>
    static Choices of(std::initializer_list<std::pair<std::string_view, E>> list) {
        Choices c;
        for (const auto& [word, e] : list) c.items.emplace_back(word, static_cast<int>(e));
        return c;
    }
};

// A type-erased handle on one element's struct (DaemonCfg, GreylistCfg ...).
struct Obj {
    const std::type_info* type = nullptr;
    void* ptr = nullptr;
    template <typename S>
    static Obj of(S& s) {
        return Obj{&typeid(S), &s};
    }
    template <typename S>
    S& as() const;  // aborts on a type mismatch (a schema bug)
};

[[noreturn]] void schema_bug(const char* what);

template <typename S>
S& Obj::as() const {
    if (type == nullptr || *type != typeid(S)) schema_bug("element struct type mismatch");
    return *static_cast<S*>(ptr);
}

// Stores a Value into a field; `accepts` says whether a value of that alternative fits.
struct Setter {
    std::function<void(Obj, Value&&)> set;
    std::function<bool(const Value&)> accepts;
    const std::type_info* owner = nullptr;  // the struct whose field it sets
};

namespace detail {

template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};

template <typename F>
bool fits(const Value& v) {
    if constexpr (is_optional<F>::value) {
        return fits<typename F::value_type>(v);
    } else if constexpr (std::is_enum_v<F>) {
        return std::holds_alternative<EnumValue>(v);
    } else if constexpr (std::is_same_v<F, std::string>) {
        return std::holds_alternative<std::string>(v) || std::holds_alternative<EnumValue>(v);
    } else if constexpr (std::is_same_v<F, bool>) {
        return std::holds_alternative<bool>(v);
    } else if constexpr (std::is_same_v<F, std::uint64_t>) {
        return std::holds_alternative<SizeValue>(v);
    } else if constexpr (std::is_integral_v<F>) {
        return std::holds_alternative<std::int64_t>(v);
    } else {
        return std::holds_alternative<F>(v);
    }
}

template <typename F>
void store(F& field, Value&& v) {
    if constexpr (is_optional<F>::value) {
        typename F::value_type inner{};
        store(inner, std::move(v));
        field = std::move(inner);
    } else if constexpr (std::is_enum_v<F>) {
        field = static_cast<F>(std::get<EnumValue>(v).value);
    } else if constexpr (std::is_same_v<F, std::string>) {
        if (auto* e = std::get_if<EnumValue>(&v))
            field = std::move(e->text);
        else
            field = std::move(std::get<std::string>(v));
    } else if constexpr (std::is_same_v<F, bool>) {
        field = std::get<bool>(v);
    } else if constexpr (std::is_same_v<F, std::uint64_t>) {
        field = std::get<SizeValue>(v).bytes;
    } else if constexpr (std::is_integral_v<F>) {
        field = static_cast<F>(std::get<std::int64_t>(v));
    } else {
        field = std::move(std::get<F>(v));
    }
}

}  // namespace detail

// A setter for field `m` of struct S (m may be a member of a base class of S).
template <typename S, typename M>
Setter field(M m) {
    using F = std::remove_reference_t<decltype(std::declval<S&>().*m)>;
    return Setter{[m](Obj o, Value&& v) { detail::store(o.as<S>().*m, std::move(v)); },
                  [](const Value& v) { return detail::fits<F>(v); }, &typeid(S)};
}

constexpr std::int64_t kNoMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kNoMax = std::numeric_limits<std::int64_t>::max();

struct Attr {
    std::string_view name;
    Type type = Type::string;
    std::string default_text;  // as it would be written in the file; empty: no default
    std::string default_doc;   // how the docs show the default, when not default_text
    std::string_view doc;
    bool required = false;
    bool nonempty = false;      // "" is not allowed (else "" means "none")
    std::int64_t min = kNoMin;  // integer; duration in seconds; size in bytes
    std::int64_t max = kNoMax;
    double min_number = -1e9;
    double max_number = 1e9;
    const Choices* choices = nullptr;        // Type::choice
    unsigned list_types = 0;                 // Type::list_refs etc.: bit (1 << ListType)
    const tmpl::MacroSet* macros = nullptr;  // template_text, url_template
    Setter set;

    Attr& range(std::int64_t lo, std::int64_t hi) {
        min = lo;
        max = hi;
        return *this;
    }
    Attr& range_number(double lo, double hi) {
        min_number = lo;
        max_number = hi;
        return *this;
    }
    Attr& require() {
        required = true;
        return *this;
    }
    Attr& not_empty() {
        nonempty = true;
        return *this;
    }
    Attr& docs_default(std::string text) {
        default_doc = std::move(text);
        return *this;
    }
    Attr& lists(unsigned mask) {
        list_types = mask;
        return *this;
    }
    Attr& with_macros(const tmpl::MacroSet& m) {
        macros = &m;
        return *this;
    }

    // What the docs show: the default as written, or its description.
    const std::string& shown_default() const {
        return default_doc.empty() ? default_text : default_doc;
    }
};

constexpr unsigned list_bit(ListType t) { return 1u << static_cast<unsigned>(t); }
constexpr unsigned kAnyList = list_bit(ListType::cidr) | list_bit(ListType::address) |
                              list_bit(ListType::domain) | list_bit(ListType::regex);

enum class Mult { optional, many };
enum class Text { none, entries, template_text, string };

class Checker;  // lib/config_loader.h: reports diagnostics for `finish` hooks
struct NodeInfo;

struct Element {
    std::string_view name;
    std::string_view parent;  // "" for the root <mppd>
    Mult mult = Mult::optional;
    bool built = false;        // its feature works in this version
    std::string_view feature;  // for the "not implemented" warning: "greylisting"
    std::string_view doc;
    Text text = Text::none;
    const tmpl::MacroSet* text_macros = nullptr;
    std::string_view text_doc;  // what the text content is
    std::vector<Attr> attrs;

    const std::type_info* type = nullptr;         // the struct this element fills
    const std::type_info* parent_type = nullptr;  // the struct of its parent element
    std::function<Obj(Obj parent)> attach;        // makes (or finds) this element's struct
    std::function<void(Obj, int)> set_line;       // stores the line into a `line` member, if any
    std::function<void(Obj, std::string&&)> set_text;
    // Cross-attribute rules and text checks, run after the attributes and children are stored.
    std::function<void(Obj, const NodeInfo&, Checker&)> finish;

    const Attr* find_attr(std::string_view n) const;
    // Section heading in the man page: "<greylist>" for children of <mppd> and the root,
    // "<rbl> in <group>" otherwise.
    std::string heading() const;

    // Adds an attribute bound to field `m` of struct S; returns it for .range() etc.
    template <typename S, typename M>
    Attr& attr(std::string_view n, Type t, M m, std::string def, std::string_view d) {
        Attr a;
        a.name = n;
        a.type = t;
        a.default_text = std::move(def);
        a.doc = d;
        a.set = field<S>(m);
        attrs.push_back(std::move(a));
        return attrs.back();
    }
};

// Builds an Element whose struct is S, living in its parent's struct P.
template <typename S, typename P>
class Builder {
public:
    Builder(std::string_view name, std::string_view parent, Mult mult, std::string_view doc) {
        e_.name = name;
        e_.parent = parent;
        e_.mult = mult;
        e_.doc = doc;
        e_.type = &typeid(S);
        e_.parent_type = &typeid(P);
        e_.set_line = []([[maybe_unused]] Obj o, [[maybe_unused]] int line) {
            if constexpr (requires(S & s) { s.line = 1; }) o.as<S>().line = line;
        };
    }
    // Where the struct lives: a plain member (singletons of <mppd>), std::optional<S> or
    // std::vector<S> member of P.
    Builder& in(S P::*m) {
        e_.attach = [m](Obj p) { return Obj::of(p.as<P>().*m); };
        return *this;
    }
    Builder& in(std::optional<S> P::*m) {
        e_.attach = [m](Obj p) { return Obj::of((p.as<P>().*m).emplace()); };
        return *this;
    }
    Builder& in(std::vector<S> P::*m) {
        e_.attach = [m](Obj p) { return Obj::of((p.as<P>().*m).emplace_back()); };
        return *this;
    }
    Builder& built(bool b, std::string_view feature) {
        e_.built = b;
        e_.feature = feature;
        return *this;
    }
    template <typename M>
    Builder& text(Text kind, M m, std::string_view doc, const tmpl::MacroSet* macros = nullptr) {
        e_.text = kind;
        e_.text_doc = doc;
        e_.text_macros = macros;
        e_.set_text = [m](Obj o, std::string&& t) { o.as<S>().*m = std::move(t); };
        return *this;
    }
    // For an element whose struct is the text itself (S = std::string, as <arg>).
    Builder& text_self(Text kind, std::string_view doc, const tmpl::MacroSet* macros = nullptr) {
        e_.text = kind;
        e_.text_doc = doc;
        e_.text_macros = macros;
        e_.set_text = [](Obj o, std::string&& t) { o.as<S>() = std::move(t); };
        return *this;
    }
    Builder& text_entries(std::string_view doc) {
        e_.text = Text::entries;
        e_.text_doc = doc;
        return *this;
    }
    Builder& finish(std::function<void(S&, const NodeInfo&, Checker&)> f) {
        e_.finish = [f = std::move(f)](Obj o, const NodeInfo& n, Checker& c) {
            f(o.as<S>(), n, c);
        };
        return *this;
    }
    template <typename M>
    Attr& attr(std::string_view n, Type t, M m, std::string def, std::string_view d) {
        return e_.attr<S>(n, t, m, std::move(def), d);
    }
    Attr& choice(std::string_view n, const Choices& c, auto m, std::string def,
                 std::string_view d) {
        Attr& a = attr(n, Type::choice, m, std::move(def), d);
        a.choices = &c;
        return a;
    }
    // Shares attributes already defined for another element with the same struct.
    Builder& attrs_from(const std::vector<Attr>& a) {
        e_.attrs.insert(e_.attrs.end(), a.begin(), a.end());
        return *this;
    }
    Element done() { return std::move(e_); }

private:
    Element e_;
};

// The whole table, every element once per parent it may appear in, in documentation order.
const std::vector<Element>& elements();

// The element `name` as a child of `parent` ("" for the root), or null.
const Element* find(std::string_view parent, std::string_view name);
// Every element called `name`, whatever its parent.
std::vector<const Element*> find_all(std::string_view name);

// "duration, default 5m" / "integer 0..32, default 24" / "one of block, defer; default block" /
// "list names, required": the one-line summary the man page prints under each attribute.
std::string summary(const Attr&);

// A value of the alternative that parse_value produces for `t` (for self_check).
Value sample_value(Type t);

// Checks the table itself: every setter accepts its type's values, every default parses,
// parents exist and match their struct types, names are unique per parent. Returns the problems.
std::vector<std::string> self_check();

// The areas (each in its own file) add their elements here.
void add_daemon_elements(std::vector<Element>&);
void add_definition_elements(std::vector<Element>&);
void add_group_elements(std::vector<Element>&);
void add_check_elements(std::vector<Element>&);

// Macro sets of the templates.
extern const tmpl::MacroSet kReplyMacros;  // <reject>, <defer>
extern const tmpl::MacroSet kDisclaimerMacros;
extern const tmpl::MacroSet kNoticeMacros;   // <strip> text
extern const tmpl::MacroSet kUrlMacros;      // <strip upload link>
extern const tmpl::MacroSet kMaildirMacros;  // <store maildir>
extern const tmpl::MacroSet kArgMacros;      // <arg>

}  // namespace mpp::config::schema
