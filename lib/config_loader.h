// lib/config_loader.h: internals of the config loader shared by its files and the schema's
// `finish` hooks (not for other folders: they use lib/config.h).
//
// Owns: the diagnostics of one load (bounded: after kMaxErrors errors the rest are counted, not
// kept), the name tables of the named definitions (lists, rbls, engines, groups) collected
// before the main pass, and the attribute value parser. Single-threaded: one Checker per load.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/config.h"
#include "lib/config_schema.h"

namespace tinyxml2 {
class XMLElement;
}

namespace mpp::config {

// What a hook sees of the element being finished.
struct schema::NodeInfo {
    std::string_view name;
    int line = 0;
    std::string text;                                     // the text content, raw (CDATA included)
    int text_line = 0;                                    // line of the first text node
    std::vector<std::pair<std::string_view, int>> attrs;  // attributes given, with their lines

    bool has(std::string_view attr) const;
    int line_of(std::string_view attr) const;  // the element's line when not given
};

// Named definitions, collected from the whole file before its elements are read, so a
// reference may come before the definition (except group inheritance: see group_ref).
struct Names {
    struct Entry {
        std::size_t index = 0;
        int line = 0;
        ListType list_type = ListType::address;  // lists
        bool type_known = true;                  // lists: false when its type="" is bad
        EngineKind engine = EngineKind::spamd;   // engines
    };
    std::map<std::string, Entry, std::less<>> lists, rbls, engines, groups;
    std::size_t groups_done = 0;  // groups read so far: a group may inherit only from these
};

class schema::Checker {
public:
    static constexpr std::size_t kMaxErrors = 200;

    Checker(std::string file, Names& names, Config& config)
        : file_(std::move(file)), names_(names), config_(config) {}

    void error(int line, std::string message);
    void warning(int line, std::string message);
    std::size_t errors() const { return errors_; }
    bool full() const { return errors_ >= kMaxErrors; }
    std::vector<Diagnostic> take();  // sorted by line (stable), with a "too many" note if cut
    const std::string& file() const { return file_; }
    Names& names() { return names_; }
    Config& config() { return config_; }  // the snapshot being built

    // Splits text into whitespace-separated entries, each with its line.
    static std::vector<std::pair<std::string_view, int>> entries(std::string_view text, int line);

    // Removes the indentation common to every non-blank line, and leading and trailing blank
    // lines (for disclaimers, notices and reply texts written indented inside the XML).
    static std::string dedent(std::string_view text);

private:
    std::string file_;
    Names& names_;
    Config& config_;
    std::vector<Diagnostic> diags_;
    std::size_t errors_ = 0;
    std::size_t dropped_ = 0;
};

// Pass 2 and 3 of a load (lib/config_loader.cc): fills `cfg` from the <mppd> element.
void load_tree(const tinyxml2::XMLElement* root, Config& cfg, schema::Checker& c);

// Lexical checks on the raw bytes before XML parsing (lib/config_text.cc): size, NUL, UTF-8,
// control characters, byte order marks, <!DOCTYPE>/<!ENTITY>, entity references. False when
// the text must not be parsed at all.
bool prescan(std::string_view text, schema::Checker& c);

namespace schema {

// Parses one attribute value by its type; on failure returns std::monostate and sets *error
// (the text after "attribute "X" of <E>: "). References are resolved through `names`.
Value parse_value(const Attr& attr, std::string_view text, Names& names, std::string* error);

// A list name: a letter, then letters, digits, '-', '_' (so never a network or an address).
bool is_name(std::string_view);

}  // namespace schema

}  // namespace mpp::config
