// lib/template.h: text templates with %MACRO% expansion (reply texts, disclaimers, maildir paths,
// upload URLs, scanner arguments).
//
// Syntax: "%NAME%" where NAME is an upper-case letter followed by upper-case letters, digits or
// '_' (at most 32 characters) is a macro; "%%" is one literal '%'; any other '%' is literal text
// (so URL escapes such as "%20" pass through). A '%' followed by an upper-case letter that does
// not form a complete "%NAME%" is an error, as is a name that is not in the caller's set.
// Stateless; every function is thread-safe.
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpp::tmpl {

using MacroSet = std::vector<std::string_view>;

// "" when `text` is a valid template over `known`; else a message such as
// "unknown macro %FOO% (known: %GROUP% %REASON%)" or "unterminated macro \"%GRO\"".
std::string check(std::string_view text, const MacroSet& known);

// The macros used by `text`, in order of first use.
std::vector<std::string> macros(std::string_view text);

// Expands every macro through `lookup` (a nullopt answer keeps "%NAME%" as written) and "%%".
std::string expand(std::string_view text,
                   const std::function<std::optional<std::string>(std::string_view)>& lookup);

}  // namespace mpp::tmpl
