// t/engines/content_verdict_test.cc: engines/content_verdict: a group's verdict from its header
// filters, its engines' results and its RBL score: virus first (on-virus), clamd limits
// (on-limits), header-filter decisions, engine errors (engine and scan on-error), score levels
// (reject-at, quarantine-at, tag-at; spamd weights; RBL and header scores added), spamd's own
// spam call without <score>, results of engines the group does not use ignored.
#include "engines/content_verdict.h"

#include <gtest/gtest.h>

#include "t/policy/policy_test_util.h"

using namespace mpp;
using namespace mpp::engines;
using Action = GroupVerdict::Action;
using Status = EngineResult::Status;
using mpp::policy::test::load;

namespace {

const char* kEngines = R"X(
  <spamd name="sa" weight="0.5"/>
  <spamd name="other"/>
  <clamd name="av" on-limits="quarantine"/>
  <command name="uv" path="/bin/true" virus-exit="13" on-error="tag"><arg>%FILE%</arg></command>
)X";

std::shared_ptr<const config::Config> with_group(const std::string& inside) {
    return load(std::string(kEngines) + "<group name=\"g\">\n<match recipient-domain=\"*\"/>\n" +
                inside + "\n</group>");
}

EngineResult result(const std::string& engine, Status s, double score = 0, double req = 0,
                    const std::string& detail = "") {
    EngineResult r;
    r.engine = engine;
    r.status = s;
    r.score = score;
    r.required = req;
    r.detail = detail;
    return r;
}

GroupVerdict verdict(const std::shared_ptr<const config::Config>& cfg,
                     const std::vector<EngineResult>& results, double rbl = 0,
                     const std::vector<Header>& headers = {}) {
    const auto& g = cfg->groups.front();
    return decide_group(*cfg, g, evaluate(g, headers), results, rbl, rbl ? "rbl:zen(6)" : "");
}

TEST(ContentVerdict, VirusComesFirstWithTheGroupsAction) {
    auto cfg = with_group(R"(<scan engines="sa av" on-virus="discard"/>
                             <score reject-at="5"/>)");
    auto v = verdict(cfg, {result("sa", Status::spam, 20, 5), result("av", Status::virus, 0, 0,
                                                                      "Eicar-Test-Signature")});
    EXPECT_EQ(v.action, Action::discard);
    EXPECT_EQ(v.condition, config::Condition::virus);
    EXPECT_EQ(v.reason, "virus Eicar-Test-Signature (av)");
    ASSERT_TRUE(v.score);
    EXPECT_DOUBLE_EQ(*v.score, 10) << "20 x weight 0.5";
    EXPECT_EQ(v.checks, "sa(20/5 spam) av(virus Eicar-Test-Signature)");
}

TEST(ContentVerdict, ClamdLimitsFollowOnLimits) {
    auto cfg = with_group(R"(<scan engines="av"/>)");
    auto v = verdict(cfg, {result("av", Status::limits, 0, 0, "Heuristics.Limits.Exceeded")});
    EXPECT_EQ(v.action, Action::quarantine);
    EXPECT_EQ(v.condition, config::Condition::limits);
}

TEST(ContentVerdict, EngineErrorsFollowOnError) {
    // clamd's default on-error is defer; the command's is tag (set above).
    auto cfg = with_group(R"(<scan engines="av uv"/>)");
    auto v = verdict(cfg, {result("av", Status::error, 0, 0, "timeout after 60s"),
                           result("uv", Status::clean)});
    EXPECT_EQ(v.action, Action::defer);
    EXPECT_EQ(v.condition, config::Condition::error);
    EXPECT_EQ(v.reason, "av failed: timeout after 60s");

    v = verdict(cfg, {result("av", Status::clean), result("uv", Status::error, 0, 0, "exit 2")});
    EXPECT_EQ(v.action, Action::tag);
    EXPECT_EQ(v.unchecked, std::vector<std::string>{"uv"});

    // <scan on-error> overrides the engines' own.
    auto accept = with_group(R"(<scan engines="av" on-error="accept"/>)");
    v = verdict(accept, {result("av", Status::error, 0, 0, "refused")});
    EXPECT_EQ(v.action, Action::accept);
    EXPECT_TRUE(v.unchecked.empty());
}

TEST(ContentVerdict, ScoreLevelsAddSpamdRblAndHeaderScores) {
    auto cfg = with_group(R"(<header-filter header="Subject" pattern="offer" action="score" score="1.5"/>
                             <scan engines="sa"/>
                             <score tag-at="4" quarantine-at="8" reject-at="12" subject-prefix="[SPAM]"/>)");
    const std::vector<Header> offer{{"Subject", " an offer"}};
    auto v = verdict(cfg, {result("sa", Status::clean, 4, 5)}, 0, offer);  // 2 + 1.5
    EXPECT_EQ(v.action, Action::accept);
    EXPECT_DOUBLE_EQ(*v.score, 3.5);

    v = verdict(cfg, {result("sa", Status::clean, 4, 5)}, 6, offer);  // 2 + 6 + 1.5
    EXPECT_EQ(v.action, Action::quarantine);
    EXPECT_EQ(v.reason, "score 9.5 >= quarantine-at 8");
    EXPECT_NE(v.checks.find("rbl:zen(6)"), std::string::npos) << v.checks;

    v = verdict(cfg, {result("sa", Status::spam, 12, 5)}, 6);  // 6 + 6
    EXPECT_EQ(v.action, Action::reject);
    EXPECT_EQ(v.condition, config::Condition::score);

    v = verdict(cfg, {result("sa", Status::spam, 9, 5)});  // 4.5
    EXPECT_EQ(v.action, Action::tag);
    ASSERT_TRUE(v.score_cfg);
    EXPECT_EQ(v.score_cfg->subject_prefix, "[SPAM]");
}

TEST(ContentVerdict, WithoutScoreSpamdsOwnCallTagsAndOthersAreIgnored) {
    auto cfg = with_group(R"(<scan engines="sa"/>)");
    auto v = verdict(cfg, {result("sa", Status::spam, 1000, 5), result("other", Status::virus)});
    EXPECT_EQ(v.action, Action::tag) << "the virus came from an engine the group does not use";
    EXPECT_EQ(v.reason, "sa score 1000 >= 5");
    v = verdict(cfg, {result("sa", Status::clean, 1, 5)});
    EXPECT_EQ(v.action, Action::accept);
    EXPECT_DOUBLE_EQ(*v.score, 0.5);
}

TEST(ContentVerdict, HeaderFilterDecisionsBeforeErrorsAndScores) {
    auto cfg = with_group(R"(<header-filter header="Subject" pattern="^bad" action="reject"/>
                             <header-filter header="Subject" pattern="^meh" action="tag"/>
                             <scan engines="av"/>
                             <score reject-at="1"/>)");
    auto v = verdict(cfg, {result("av", Status::error)}, 0, {{"Subject", "bad one"}});
    EXPECT_EQ(v.action, Action::reject);
    EXPECT_EQ(v.condition, config::Condition::header_filter);
    v = verdict(cfg, {result("av", Status::clean)}, 0, {{"Subject", "meh"}});
    EXPECT_EQ(v.action, Action::tag);
    EXPECT_EQ(v.condition, config::Condition::header_filter);
    v = verdict(cfg, {result("av", Status::clean)}, 2, {{"Subject", "meh"}});
    EXPECT_EQ(v.action, Action::reject) << "the score's reject comes before a header tag";
    auto none = with_group("");
    v = verdict(none, {result("sa", Status::spam, 100, 5)});
    EXPECT_EQ(v.action, Action::accept);
    EXPECT_FALSE(v.score);
}

}  // namespace
