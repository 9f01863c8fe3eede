// t/lib/config_schema_test.cc: the schema table is consistent with itself (setters fit their
// types, defaults parse, parents exist), summaries read as the man page prints them, and the
// helpers it relies on: lib/template (%MACRO%) and lib/regex (PCRE2 with limits).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "lib/config_schema.h"
#include "lib/regex.h"
#include "lib/template.h"

using namespace mpp;
using namespace mpp::config::schema;

TEST(ConfigSchema, SelfCheck) {
    auto problems = self_check();
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    EXPECT_TRUE(problems.empty()) << all;
}

TEST(ConfigSchema, BuiltElementsAreTheDaemonOnes) {
    std::set<std::string> built;
    for (const auto& e : elements())
        if (e.built) built.insert(std::string(e.name));
    EXPECT_EQ(built, (std::set<std::string>{"mppd", "daemon", "log", "milter", "policy-server",
                                          "control", "networks", "list", "allow", "deny",
                                          "reject", "defer", "group", "match", "greylist",
                                          "threshold", "spamtrap", "alerts",
                                          "header-filter", "limits", "dns", "rbl"}));
}

TEST(ConfigSchema, ElementsAreFoundByParent) {
    ASSERT_NE(find("group", "rbl"), nullptr);
    ASSERT_NE(find("mppd", "rbl"), nullptr);
    EXPECT_NE(find("group", "rbl"), find("mppd", "rbl"));
    EXPECT_NE(find("mppd", "rbl")->find_attr("zone"), nullptr);
    EXPECT_EQ(find("group", "rbl")->find_attr("zone"), nullptr);
    EXPECT_EQ(find("mppd", "greylist"), nullptr);
    EXPECT_EQ(find_all("reject").size(), 2u);
    EXPECT_EQ(find("", "mppd")->heading(), "<mppd>");
    EXPECT_EQ(find("mppd", "milter")->heading(), "<milter>");
    EXPECT_EQ(find("group", "rbl")->heading(), "<rbl> in <group>");
}

TEST(ConfigSchema, Summaries) {
    EXPECT_EQ(summary(*find("group", "greylist")->find_attr("delay")),
              "duration 0s..1d, default 5m");
    EXPECT_EQ(summary(*find("group", "greylist")->find_attr("ipv4-prefix")),
              "integer 0..32, default 24");
    EXPECT_EQ(summary(*find("group", "threshold")->find_attr("action")),
              "one of block, defer, warn, quarantine; default block");
    EXPECT_EQ(summary(*find("mppd", "list")->find_attr("name")), "name, required");
    EXPECT_EQ(summary(*find("group", "greylist")->find_attr("exempt")), "list names, optional");
    EXPECT_EQ(summary(*find("mppd", "daemon")->find_attr("pidfile")),
              "path, default RUNSTATEDIR/mppd/mppd.pid");
    EXPECT_EQ(summary(*find("mppd", "milter")->find_attr("socket")),
              "milter socket, default inet:10025@127.0.0.1");
}

TEST(ConfigSchema, EveryUnbuiltElementNamesItsFeature) {
    for (const auto& e : elements()) {
        if (!e.built) { EXPECT_FALSE(e.feature.empty()) << e.heading(); }
    }
}

TEST(Template, Check) {
    tmpl::MacroSet known = {"GROUP", "REASON"};
    EXPECT_EQ(tmpl::check("Rejected by %GROUP%: %REASON%", known), "");
    EXPECT_EQ(tmpl::check("100%% sure, 50% off, %20 and %a%", known), "");
    EXPECT_EQ(tmpl::check("x %FOO% y", known), "unknown macro %FOO% (known: %GROUP% %REASON%)");
    EXPECT_EQ(
        tmpl::check("x %GROUP y", known),
        "unterminated macro \"%GROUP\" (a macro is written %NAME%; write %% for a literal %)");
    EXPECT_EQ(tmpl::check("%X%", {}), "unknown macro %X% (this text takes no macros)");
    EXPECT_NE(tmpl::check("%" + std::string(40, 'A') + "%", known), "");
}

TEST(Template, MacrosAndExpand) {
    EXPECT_EQ(tmpl::macros("%A% %B% %A% %%C%%"), (std::vector<std::string>{"A", "B"}));
    auto lookup = [](std::string_view name) -> std::optional<std::string> {
        if (name == "U") return std::string("alice");
        return std::nullopt;
    };
    EXPECT_EQ(tmpl::expand("/q/%U%/%D%/100%%", lookup), "/q/alice/%D%/100%");
}

TEST(Regex, CompileErrorsCarryTheOffset) {
    auto r = Regex::compile("ab(c");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.offset, 4u);
    EXPECT_EQ(r.error, "missing closing parenthesis at offset 4");
    EXPECT_FALSE(Regex::compile(std::string(Regex::kMaxPatternLength + 1, 'a')).ok());
    EXPECT_TRUE(Regex::compile(std::string(Regex::kMaxPatternLength, 'a')).ok());
}

TEST(Regex, CaseInsensitiveByDefault) {
    auto r = Regex::compile("^undeliverable");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.regex->match("UNDELIVERABLE Mail"), MatchResult::match);
    EXPECT_EQ(Regex::compile("(?-i)^undeliverable").regex->match("UNDELIVERABLE"),
              MatchResult::no_match);
    EXPECT_EQ(Regex::compile("^u", false).regex->match("U"), MatchResult::no_match);
}

TEST(Regex, InvalidUtf8SubjectStillMatches) {
    auto r = Regex::compile("virus");
    EXPECT_EQ(r.regex->match("\xff\xfe a virus \xc3"), MatchResult::match);
}

TEST(Regex, CatastrophicBacktrackingHitsTheLimit) {
    // RELIABILITY B16: (a+)+$ against 30k characters ending in a mismatch.
    auto r = Regex::compile("^(a+)+$");
    ASSERT_TRUE(r.ok());
    std::string subject = std::string(30000, 'a') + "!";
    MatchLimits limits;
    limits.match_limit = 10000;
    EXPECT_EQ(r.regex->match(subject, limits), MatchResult::limit);
}

TEST(Regex, FirstGroup) {
    auto r = Regex::compile("Found: (\\S+)");
    std::string g;
    EXPECT_EQ(r.regex->match("x Found: W32/Foo y", {}, &g), MatchResult::match);
    EXPECT_EQ(g, "W32/Foo");
    EXPECT_EQ(r.regex->capture_count(), 1u);
}
