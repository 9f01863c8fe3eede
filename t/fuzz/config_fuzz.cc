// t/fuzz/config_fuzz.cc: libFuzzer target for the config loader (lib/config.h): the whole
// pipeline from raw bytes (UTF-8 and entity checks, tinyxml2, the schema-driven walk, every
// value parser, regex compilation, group inheritance) through load_string.
//
// Invariants (a violation aborts, so the fuzzer reports it): loading never crashes or throws;
// a result has a Config exactly when it has no error; every diagnostic names the file and a
// line within the input; a loaded Config has the "default" group last and a 12-digit revision.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/config.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = mpp::config::load_string(text, "fuzz.xml");
    check(r.ok() == (r.error_count() == 0));
    int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    for (const auto& d : r.diagnostics) {
        check(d.file == "fuzz.xml");
        check(d.line >= 0 && d.line <= lines);
        check(!d.message.empty());
        check(d.str().rfind("fuzz.xml", 0) == 0);
    }
    if (r.config) {
        check(!r.config->groups.empty());
        check(r.config->default_group().name == "default");
        check(r.config->revision.size() == 12);
        for (const auto& g : r.config->groups)
            if (g.inherit) check(g.inherit->index < r.config->groups.size());
    }
    return 0;
}
