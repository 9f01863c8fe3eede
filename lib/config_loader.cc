// lib/config_loader.cc: turns a parsed XML document into a Config, driven by the schema table.
//
// Passes: (1) the named definitions under <mppd> are collected (duplicates reported), so that
// references resolve whatever the order; (2) the tree is walked: per element, defaults, then the
// attributes given, required ones, children (unknown, misplaced and repeated elements
// reported), text, the "not built" warning, and the element's finish hook; (3) rules across
// elements (the default group, storage targets). Every problem is reported, up to
// Checker::kMaxErrors; a document with any error yields no Config.
// Limits: the walk only descends into elements the schema knows (at most four levels); the
// XML parser itself caps nesting (tinyxml2: 100 levels).
#include <tinyxml2.h>

#include <algorithm>
#include <memory>

#include "lib/config_loader.h"

namespace mpp::config {

using schema::Checker;
using schema::Element;
using schema::NodeInfo;
using schema::Obj;

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

// " (did you mean \"x\"?)" for the closest candidate within 2 edits, else "".
std::string suggest(std::string_view wrong, const std::vector<std::string_view>& candidates,
                    bool element) {
    std::string_view best;
    std::size_t best_d = std::min<std::size_t>(2, std::max<std::size_t>(1, wrong.size() / 3)) + 1;
    for (auto c : candidates) {
        std::size_t d = edit_distance(wrong, c);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    if (best.empty()) return {};
    return element ? " (did you mean <" + std::string(best) + ">?)"
                   : " (did you mean \"" + std::string(best) + "\"?)";
}

std::string printable(std::string_view s) {
    std::string out;
    for (unsigned char c : s.substr(0, 64))
        out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
    return out;
}

class Walker {
public:
    explicit Walker(Checker& c) : c_(c) {}

    void walk(const tinyxml2::XMLElement* xe, const Element& spec, Obj obj, bool parent_built) {
        NodeInfo info;
        info.name = spec.name;
        info.line = xe->GetLineNum();
        if (spec.set_line) spec.set_line(obj, info.line);
        apply_defaults(spec, obj);
        attributes(xe, spec, obj, info);
        bool built = spec.built && parent_built;
        children(xe, spec, obj, info, built);
        text(spec, obj, info);
        if (!spec.built && parent_built)
            c_.warning(info.line, "element <" + std::string(spec.name) +
                                      "> is parsed and checked, but " + std::string(spec.feature) +
                                      " is not implemented in this version: it has no effect");
        if (spec.finish) spec.finish(obj, info, c_);
    }

    void apply_defaults(const Element& spec, Obj obj) {
        for (const auto& a : spec.attrs) {
            if (a.default_text.empty()) continue;
            std::string err;
            schema::Value v = schema::parse_value(a, a.default_text, c_.names(), &err);
            if (std::holds_alternative<std::monostate>(v))
                schema::schema_bug("a default does not parse");
            a.set.set(obj, std::move(v));
        }
    }

private:
    void attributes(const tinyxml2::XMLElement* xe, const Element& spec, Obj obj, NodeInfo& info) {
        std::string el = "<" + std::string(spec.name) + ">";
        for (auto* xa = xe->FirstAttribute(); xa; xa = xa->Next()) {
            const schema::Attr* a = spec.find_attr(xa->Name());
            int line = xa->GetLineNum();
            if (!a) {
                std::vector<std::string_view> names;
                for (const auto& known : spec.attrs) names.push_back(known.name);
                std::string msg = "unknown attribute \"" + printable(xa->Name()) + "\" in " + el +
                                  suggest(xa->Name(), names, false);
                for (const Element* other : schema::find_all(spec.name))
                    if (other != &spec && other->find_attr(xa->Name())) {
                        msg += "; \"" + std::string(xa->Name()) + "\" is an attribute of " +
                               other->heading();
                        break;
                    }
                c_.error(line, msg);
                continue;
            }
            info.attrs.emplace_back(a->name, line);
            std::string err;
            schema::Value v = schema::parse_value(*a, xa->Value(), c_.names(), &err);
            if (std::holds_alternative<std::monostate>(v))
                c_.error(line, "attribute \"" + std::string(a->name) + "\" of " + el + ": " + err);
            else
                a->set.set(obj, std::move(v));
        }
        for (const auto& a : spec.attrs)
            if (a.required && !info.has(a.name))
                c_.error(info.line, el + " needs attribute \"" + std::string(a.name) + "\"");
    }

    void children(const tinyxml2::XMLElement* xe, const Element& spec, Obj obj, NodeInfo& info,
                  bool built) {
        std::vector<std::pair<std::string_view, int>> seen;  // singletons: name, first line
        for (auto* node = xe->FirstChild(); node && !c_.full(); node = node->NextSibling()) {
            if (auto* t = node->ToText()) {
                if (info.text.empty()) info.text_line = t->GetLineNum();
                info.text += t->Value();
                continue;
            }
            if (node->ToComment()) continue;
            auto* child = node->ToElement();
            if (!child) {
                c_.error(node->GetLineNum(),
                         "unexpected markup in <" + std::string(spec.name) + ">");
                continue;
            }
            std::string_view name = child->Name();
            const Element* cs = schema::find(spec.name, name);
            if (!cs) {
                misplaced(child, spec);
                continue;
            }
            if (cs->mult == schema::Mult::optional) {
                auto it = std::find_if(seen.begin(), seen.end(),
                                       [&](auto& p) { return p.first == cs->name; });
                if (it != seen.end()) {
                    c_.error(child->GetLineNum(), "<" + std::string(name) + "> appears twice in <" +
                                                      std::string(spec.name) + "> (first at line " +
                                                      std::to_string(it->second) +
                                                      "); it may appear once");
                    continue;
                }
                seen.emplace_back(cs->name, child->GetLineNum());
            }
            walk(child, *cs, cs->attach(obj), built);
        }
    }

    void misplaced(const tinyxml2::XMLElement* child, const Element& spec) {
        std::string_view name = child->Name();
        auto elsewhere = schema::find_all(name);
        std::string msg;
        if (!elsewhere.empty()) {
            msg = "element <" + printable(name) + "> is not allowed in <" + std::string(spec.name) +
                  ">; it belongs in ";
            for (std::size_t i = 0; i < elsewhere.size(); ++i)
                msg += (i ? " or <" : "<") +
                       std::string(elsewhere[i]->parent.empty() ? "(the root)"
                                                                : elsewhere[i]->parent) +
                       ">";
        } else {
            std::vector<std::string_view> names;
            for (const auto& e : schema::elements())
                if (e.parent == spec.name) names.push_back(e.name);
            msg = "unknown element <" + printable(name) + "> in <" + std::string(spec.name) + ">" +
                  suggest(name, names, true);
        }
        c_.error(child->GetLineNum(), msg);
    }

    void text(const Element& spec, Obj obj, NodeInfo& info) {
        bool blank = std::all_of(info.text.begin(), info.text.end(), [](char ch) {
            return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
        });
        if (info.text_line == 0) info.text_line = info.line;
        if (spec.text == schema::Text::none) {
            if (!blank) c_.error(info.text_line, "<" + std::string(spec.name) + "> takes no text");
            return;
        }
        if (spec.text == schema::Text::entries || !spec.set_text) return;
        std::string t = Checker::dedent(info.text);
        if (spec.text == schema::Text::template_text) {
            std::string err =
                tmpl::check(t, spec.text_macros ? *spec.text_macros : tmpl::MacroSet{});
            if (!err.empty()) {
                c_.error(info.text_line, "<" + std::string(spec.name) + ">: " + err);
                return;
            }
        }
        spec.set_text(obj, std::move(t));
    }

    Checker& c_;
};

// Pass 1: names of the definitions under <mppd>.
void collect_names(const tinyxml2::XMLElement* root, Names& names, Checker& c) {
    std::size_t lists = 0, rbls = 0, groups = 0, spamd = 0, clamd = 0, commands = 0;
    for (auto* e = root->FirstChildElement(); e; e = e->NextSiblingElement()) {
        std::string_view kind = e->Name();
        Names::Entry entry;
        entry.line = e->GetLineNum();
        std::map<std::string, Names::Entry, std::less<>>* table = nullptr;
        std::string what = "<" + std::string(kind) + "> name";
        if (kind == "list") {
            table = &names.lists;
            entry.index = lists++;
            const char* type = e->Attribute("type");
            std::string_view t = type ? type : "";
            entry.type_known = true;
            if (t == "cidr")
                entry.list_type = ListType::cidr;
            else if (t == "address")
                entry.list_type = ListType::address;
            else if (t == "domain")
                entry.list_type = ListType::domain;
            else if (t == "regex")
                entry.list_type = ListType::regex;
            else
                entry.type_known = false;
        } else if (kind == "rbl") {
            table = &names.rbls;
            entry.index = rbls++;
        } else if (kind == "group") {
            table = &names.groups;
            entry.index = groups++;
        } else if (kind == "spamd" || kind == "clamd" || kind == "command") {
            table = &names.engines;
            what = "engine name";
            entry.engine = kind == "spamd"   ? EngineKind::spamd
                           : kind == "clamd" ? EngineKind::clamd
                                             : EngineKind::command;
            entry.index = kind == "spamd" ? spamd++ : kind == "clamd" ? clamd++ : commands++;
        } else {
            continue;
        }
        const char* name = e->Attribute("name");
        if (!name || !schema::is_name(name)) continue;  // reported in pass 2
        auto [it, fresh] = table->try_emplace(name, entry);
        if (!fresh)
            c.error(entry.line, "duplicate " + what + " \"" + std::string(name) +
                                    "\" (first defined at line " + std::to_string(it->second.line) +
                                    ")");
    }
}

// Pass 3: the default group, and storage targets that need <store>.
void finish_config(Config& cfg, Checker& c) {
    auto def = std::find_if(cfg.groups.begin(), cfg.groups.end(),
                            [](const GroupCfg& g) { return g.name == "default"; });
    if (def == cfg.groups.end()) {
        GroupCfg g;
        g.name = "default";
        g.implied = true;
        cfg.groups.push_back(std::move(g));
    } else {
        std::rotate(def, def + 1, cfg.groups.end());
    }
    for (auto& g : cfg.groups)
        if (g.inherit)
            for (std::size_t i = 0; i < cfg.groups.size(); ++i)
                if (cfg.groups[i].name == g.inherit->name) g.inherit->index = i;

    bool db = !cfg.store.database.empty() || !cfg.store.forward.empty();
    for (const auto& g : cfg.groups) {
        if (g.quarantine && g.quarantine->store == StoreTarget::database && !db)
            c.error(g.quarantine->line,
                    "<quarantine store=\"database\">: <store> has no database or forward");
        if (g.archive && g.archive->store == StoreTarget::database && !db)
            c.error(g.archive->line,
                    "<archive store=\"database\">: <store> has no database or forward");
    }
}

}  // namespace

void load_tree(const tinyxml2::XMLElement* root, Config& cfg, Checker& c) {
    const Element* spec = schema::find("", "mppd");
    Obj obj = Obj::of(cfg);
    collect_names(root, c.names(), c);
    Walker w(c);
    for (const auto& e : schema::elements())  // absent singletons of <mppd> get their defaults
        if (e.parent == "mppd" && e.mult == schema::Mult::optional)
            w.apply_defaults(e, e.attach(obj));
    w.walk(root, *spec, obj, true);
    finish_config(cfg, c);
}

}  // namespace mpp::config
