// lib/config_schema.cc: assembles the schema table from its areas, and answers questions about
// it (lookup, one-line summaries for the docs, the table's own consistency check).
//
// State: the table, built once on first use (a function-local static), immutable afterwards.
// Failures: schema_bug() aborts: it is reached only through a table that contradicts itself,
// which self_check() reports first in the unit tests.
#include "lib/config_schema.h"

#include <cstdio>
#include <cstdlib>
#include <set>

#include "lib/config_loader.h"
#include "lib/units.h"

namespace mpp::config::schema {

const tmpl::MacroSet kReplyMacros = {"GROUP", "REASON", "QUEUEID",   "CLIENT_IP", "CLIENT_NAME",
                                     "HELO",  "SENDER", "RECIPIENT", "CHECK",     "SCORE",
                                     "VIRUS", "RBL",    "DELAY"};
const tmpl::MacroSet kDisclaimerMacros = {"GROUP", "SENDER", "DATE"};
const tmpl::MacroSet kNoticeMacros = {"FILENAME", "SIZE", "URL", "CONTENT_TYPE"};
const tmpl::MacroSet kUrlMacros = {"TOKEN", "FILENAME", "EXT", "DATE", "GROUP"};
const tmpl::MacroSet kMaildirMacros = {"U", "D", "U1", "U2", "D1", "D2", "GROUP", "DATE"};
const tmpl::MacroSet kArgMacros = {"FILE"};

void schema_bug(const char* what) {
    std::fprintf(stderr, "mpp: config schema bug: %s\n", what);
    std::abort();
}

const std::vector<Element>& elements() {
    static const std::vector<Element> table = [] {
        std::vector<Element> t;
        add_daemon_elements(t);
        add_definition_elements(t);
        add_group_elements(t);
        add_check_elements(t);
        return t;
    }();
    return table;
}

const Element* find(std::string_view parent, std::string_view name) {
    for (const auto& e : elements())
        if (e.parent == parent && e.name == name) return &e;
    return nullptr;
}

std::vector<const Element*> find_all(std::string_view name) {
    std::vector<const Element*> out;
    for (const auto& e : elements())
        if (e.name == name) out.push_back(&e);
    return out;
}

const Attr* Element::find_attr(std::string_view n) const {
    for (const auto& a : attrs)
        if (a.name == n) return &a;
    return nullptr;
}

std::string Element::heading() const {
    std::string h = "<" + std::string(name) + ">";
    if (!parent.empty() && parent != "mppd") h += " in <" + std::string(parent) + ">";
    return h;
}

std::string_view type_name(Type t) {
    switch (t) {
    case Type::string: return "text";
    case Type::name: return "name";
    case Type::boolean: return "yes or no";
    case Type::integer: return "integer";
    case Type::number: return "number";
    case Type::duration: return "duration";
    case Type::size: return "size";
    case Type::choice: return "choice";
    case Type::milter_socket: return "milter socket";
    case Type::listen_socket: return "listen address";
    case Type::endpoint: return "server address";
    case Type::resolvers: return "resolver addresses";
    case Type::path: return "path";
    case Type::list_refs: return "list names";
    case Type::engine_refs: return "engine names";
    case Type::rbl_refs: return "rbl names";
    case Type::group_ref: return "group name";
    case Type::regex: return "regex";
    case Type::address_match: return "address patterns or list names";
    case Type::domain_match: return "domain patterns or list names";
    case Type::net_match: return "networks or list names";
    case Type::networks: return "networks";
    case Type::mail_address: return "address";
    case Type::mail_addresses: return "addresses";
    case Type::smtp_code: return "SMTP code";
    case Type::dsn: return "enhanced status code";
    case Type::file_mode: return "file mode";
    case Type::template_text: return "template";
    case Type::url_template: return "URL template";
    case Type::database_url: return "database URL";
    case Type::globs: return "glob patterns";
    case Type::mime_globs: return "content-type patterns";
    case Type::header_name: return "header name";
    case Type::charset: return "charset";
    case Type::exit_codes: return "exit codes";
    case Type::domain: return "domain";
    }
    return "?";
}

std::string summary(const Attr& a) {
    std::string s;
    if (a.type == Type::choice) {
        s = "one of ";
        for (std::size_t i = 0; i < a.choices->items.size(); ++i)
            s += (i ? ", " : "") + std::string(a.choices->items[i].first);
    } else {
        s = std::string(type_name(a.type));
        if (a.type == Type::integer && (a.min != kNoMin || a.max != kNoMax))
            s += " " + std::to_string(a.min) + ".." + std::to_string(a.max);
        if (a.type == Type::duration && (a.min != kNoMin || a.max != kNoMax))
            s += " " + format_duration(std::chrono::seconds(a.min)) + ".." +
                 format_duration(std::chrono::seconds(a.max));
        if (a.type == Type::size && (a.min != kNoMin || a.max != kNoMax))
            s += " " + format_size(static_cast<std::uint64_t>(std::max<std::int64_t>(a.min, 0))) +
                 ".." + format_size(static_cast<std::uint64_t>(a.max));
        if (a.type == Type::number) {
            char b[64];
            std::snprintf(b, sizeof b, " %g..%g", a.min_number, a.max_number);
            s += b;
        }
    }
    const char* sep = a.type == Type::choice ? "; " : ", ";
    if (a.required) return s + sep + "required";
    if (!a.shown_default().empty()) return s + sep + "default " + a.shown_default();
    return s + sep + "optional";
}

Value sample_value(Type t) {
    switch (t) {
    case Type::choice: return EnumValue{};
    case Type::boolean: return false;
    case Type::integer:
    case Type::smtp_code:
    case Type::file_mode: return std::int64_t{0};
    case Type::number: return 0.0;
    case Type::duration: return Duration{0};
    case Type::size: return SizeValue{};
    case Type::resolvers:
    case Type::mail_addresses:
    case Type::globs:
    case Type::mime_globs: return std::vector<std::string>{};
    case Type::list_refs:
    case Type::engine_refs:
    case Type::rbl_refs: return std::vector<Ref>{};
    case Type::group_ref: return Ref{};
    case Type::regex: return RegexPtr{};
    case Type::address_match:
    case Type::domain_match: return AddressMatch{};
    case Type::net_match:
    case Type::networks: return NetMatch{};
    case Type::exit_codes: return std::vector<int>{};
    default: return std::string{};
    }
}

std::vector<std::string> self_check() {
    std::vector<std::string> out;
    auto bug = [&](const Element& e, std::string what) {
        out.push_back(e.heading() + ": " + what);
    };
    std::set<std::pair<std::string_view, std::string_view>> seen;
    Names names;  // empty: defaults never reference names
    for (const auto& e : elements()) {
        if (!seen.insert({e.parent, e.name}).second) bug(e, "defined twice for this parent");
        if (e.parent.empty() && e.name != "mppd") bug(e, "only <mppd> may be the root");
        if (!e.parent.empty()) {
            bool parent_ok = false;
            for (const Element* p : find_all(e.parent))
                if (*p->type == *e.parent_type) parent_ok = true;
            if (!parent_ok)
                bug(e, "no parent <" + std::string(e.parent) +
                           "> with the struct this element attaches to");
            if (!e.attach) bug(e, "no attach");
        }
        if ((e.text == Text::template_text || e.text == Text::string) && !e.set_text)
            bug(e, "text without setter");
        if (e.text == Text::template_text && !e.text_macros)
            bug(e, "template text without a macro set");
        if (!e.built && e.feature.empty()) bug(e, "not built, but no feature name for the warning");
        if (e.doc.empty()) bug(e, "no doc");
        std::set<std::string_view> attr_names;
        for (const auto& a : e.attrs) {
            std::string an = "attribute \"" + std::string(a.name) + "\": ";
            if (!attr_names.insert(a.name).second) bug(e, an + "defined twice");
            if (a.doc.empty()) bug(e, an + "no doc");
            if (!a.set.owner || *a.set.owner != *e.type)
                bug(e, an + "setter bound to another struct");
            else if (!a.set.accepts(sample_value(a.type)))
                bug(e, an + "field type does not fit the attribute type");
            if (a.type == Type::choice && (!a.choices || a.choices->items.empty()))
                bug(e, an + "choice without values");
            if ((a.type == Type::template_text || a.type == Type::url_template) && !a.macros)
                bug(e, an + "template without a macro set");
            if (a.required && !a.default_text.empty()) bug(e, an + "required and with a default");
            if (!a.default_text.empty()) {
                std::string err;
                Value v = parse_value(a, a.default_text, names, &err);
                if (std::holds_alternative<std::monostate>(v))
                    bug(e, an + "default does not parse: " + err);
            }
        }
    }
    return out;
}

}  // namespace mpp::config::schema
