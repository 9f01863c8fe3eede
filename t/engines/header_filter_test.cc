// t/engines/header_filter_test.cc: engines/header_filter: RFC 2047 decoding (UTF-8 and
// ISO-8859-1, Q and B, raw mode), unfolding, first decisive match in file order, score sums,
// accept stopping the filters, PCRE2 limits counting as no match (logged and counted), empty
// values, case-insensitive names, header count and size limits, and the subject key of the
// backscatter threshold.
#include "engines/header_filter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/log.h"
#include "lib/metrics.h"
#include "t/policy/policy_test_util.h"

using namespace mpp;
using namespace mpp::engines;
using mpp::config::HeaderAction;
using mpp::policy::test::load;

namespace {

std::shared_ptr<const config::Config> group_with(const std::string& filters) {
    return load("<group name=\"g\">\n<match recipient-domain=\"example.com\"/>\n" + filters +
                "\n</group>");
}

const config::GroupCfg& group(const std::shared_ptr<const config::Config>& cfg) {
    return cfg->groups.front();
}

TEST(HeaderDecode, EncodedWordsUtf8AndLatin1QAndB) {
    EXPECT_EQ(decode_value("=?UTF-8?B?R3LDtsOfZQ==?="), "Gr\xC3\xB6\xC3\x9F" "e");
    EXPECT_EQ(decode_value("=?utf-8?q?Gr=C3=B6=C3=9Fe_heute?="), "Gr\xC3\xB6\xC3\x9F" "e heute");
    EXPECT_EQ(decode_value("=?ISO-8859-1?Q?Caf=E9?= ouvert"), "Caf\xC3\xA9 ouvert");
    EXPECT_EQ(decode_value("=?iso-8859-1?b?Q2Fm6Q==?="), "Caf\xC3\xA9");
    // Adjacent encoded words join without the blank between them (RFC 2047 6.2).
    EXPECT_EQ(decode_value("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
    // Plain ASCII is left alone; 8-bit text is converted to UTF-8.
    EXPECT_EQ(decode_value(" plain text "), "plain text");
    EXPECT_EQ(decode_value("caf\xE9"), "caf\xC3\xA9");
}

TEST(HeaderDecode, UnfoldsBeforeDecoding) {
    EXPECT_EQ(unfold("first part\r\n\tsecond part"), "first part\tsecond part");
    EXPECT_EQ(unfold("first\n second\n"), "first second");
    EXPECT_EQ(decode_value("=?utf-8?q?a?=\r\n =?utf-8?q?b?="), "ab");
    EXPECT_EQ(decode_value("\r\n"), "");
}

TEST(HeaderDecode, BadInputNeverFails) {
    EXPECT_EQ(decode_value("=?x-no-such-charset?Q?abc?="), "abc");
    EXPECT_NO_FATAL_FAILURE(decode_value("=?utf-8?B?!!!?="));
    EXPECT_NO_FATAL_FAILURE(decode_value("=?utf-8?Q?=X?="));
    EXPECT_NO_FATAL_FAILURE(decode_value("=?=?=?=?"));
    // A value holding a NUL is never decoded (it reaches GMime as a C string otherwise).
    std::string nul("=?utf-8?q?a?=\0b", 15);
    EXPECT_EQ(decode_value(nul), nul);
}

TEST(HeaderDecode, FromManyThreadsAtOnce) {
    // libmilter runs callbacks on several workers: GMime's charset converters are shared.
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&wrong] {
            for (int i = 0; i < 2000; ++i) {
                if (decode_value("=?ISO-8859-1?Q?Caf=E9?=") != "Caf\xC3\xA9") ++wrong;
                if (decode_value("=?koi8-r?B?8NLJ18XU?=") != "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2"
                                                            "\xD0\xB5\xD1\x82")
                    ++wrong;
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST(HeaderFilter, MatchesTheDecodedValueByDefaultAndTheRawOneOnRequest) {
    auto cfg = group_with(R"(
      <header-filter header="Subject" pattern="=\?utf-8\?" match="raw" action="tag"/>
      <header-filter header="Subject" pattern="^Caf\x{e9} ouvert$" action="reject"/>)");
    std::vector<Header> encoded = {{"Subject", " =?ISO-8859-1?Q?Caf=E9?= ouvert"}};
    auto r = evaluate(group(cfg), encoded);
    ASSERT_TRUE(r.decided());
    EXPECT_EQ(*r.action, HeaderAction::reject);
    EXPECT_EQ(r.value, "Caf\xC3\xA9 ouvert");

    std::vector<Header> utf8 = {{"Subject", "=?utf-8?Q?Caf=C3=A9?= ouvert"}};
    r = evaluate(group(cfg), utf8);
    ASSERT_TRUE(r.decided());
    EXPECT_EQ(*r.action, HeaderAction::tag);
    EXPECT_EQ(r.value, "=?utf-8?Q?Caf=C3=A9?= ouvert");
}

TEST(HeaderFilter, FoldedValuesMatchAsOneLine) {
    auto cfg = group_with(R"(<header-filter header="Subject" pattern="^win a\s+prize now$"/>)");
    EXPECT_TRUE(evaluate(group(cfg), {{"Subject", "win a\r\n\tprize now"}}).decided());
    EXPECT_TRUE(evaluate(group(cfg), {{"Subject", "win a\n prize now"}}).decided());
    EXPECT_FALSE(evaluate(group(cfg), {{"Subject", "win a\n prize now, later"}}).decided());
}

TEST(HeaderFilter, FirstMatchingFilterDecidesInFileOrder) {
    auto cfg = group_with(R"(
      <header-filter header="X-Mailer" pattern="nothing-like-this" action="reject"/>
      <header-filter header="Subject" pattern="offer" action="quarantine" reason="offers"/>
      <header-filter header="From" pattern="spammer" action="reject"/>)");
    // From comes first in the message; the Subject filter comes first in the file.
    std::vector<Header> h = {{"From", "spammer@example.net"}, {"Subject", "an offer"}};
    auto r = evaluate(group(cfg), h);
    ASSERT_TRUE(r.decided());
    EXPECT_EQ(*r.action, HeaderAction::quarantine);
    EXPECT_EQ(r.filter, &group(cfg).header_filters[1]);
    EXPECT_EQ(r.filter->line, 6);
    EXPECT_EQ(r.header, "Subject");
    EXPECT_EQ(reason(r), "offers");
    EXPECT_EQ(checks_text(r), "header-filter:6(quarantine)");
    // Without a Subject, the From filter decides; without a reason, %REASON% is the name.
    r = evaluate(group(cfg), {{"from", "spammer@example.net"}});
    ASSERT_TRUE(r.decided());
    EXPECT_EQ(*r.action, HeaderAction::reject);
    EXPECT_EQ(reason(r), "from");
    EXPECT_FALSE(evaluate(group(cfg), {{"Subject", "hello"}}).decided());
}

TEST(HeaderFilter, ScoresAddUpUntilADecision) {
    auto cfg = group_with(R"(
      <header-filter header="Subject" pattern="viagra" action="score" score="3"/>
      <header-filter header="X-Mailer" pattern="bulk" action="score" score="2.5"/>
      <header-filter header="Received" pattern="dsl" action="score" score="1"/>
      <header-filter header="Subject" pattern="never" action="score" score="-4"/>)");
    // Two Received fields match the third filter: it counts once.
    std::vector<Header> h = {{"Received", "from a.dsl.example"},
                             {"Received", "from b.dsl.example"},
                             {"X-Mailer", "BulkMail 2"},
                             {"Subject", "cheap =?utf-8?b?VmlhZ3Jh?="}};
    auto r = evaluate(group(cfg), h);
    EXPECT_FALSE(r.decided());
    EXPECT_DOUBLE_EQ(r.score, 6.5);
    ASSERT_EQ(r.scores.size(), 3u);
    EXPECT_EQ(r.scores[0].header, "Subject");
    EXPECT_EQ(checks_text(r), "header-filter:5(+3),header-filter:6(+2.5),header-filter:7(+1)");
}

TEST(HeaderFilter, AcceptStopsTheRemainingFilters) {
    auto cfg = group_with(R"(
      <header-filter header="X-Mailer" pattern="bulk" action="score" score="2"/>
      <header-filter header="List-Id" pattern="announce\.example\.org" action="accept"/>
      <header-filter header="Subject" pattern="offer" action="reject"/>
      <header-filter header="Subject" pattern="offer" action="score" score="5"/>)");
    std::vector<Header> h = {{"X-Mailer", "bulk"},
                             {"List-Id", "<announce.example.org>"},
                             {"Subject", "an offer"}};
    auto r = evaluate(group(cfg), h);
    ASSERT_TRUE(r.decided());
    EXPECT_EQ(*r.action, HeaderAction::accept);
    EXPECT_DOUBLE_EQ(r.score, 2);  // the score before the decision counts, the one after not
    h.erase(h.begin() + 1);
    r = evaluate(group(cfg), h);
    ASSERT_TRUE(r.decided());
    EXPECT_EQ(*r.action, HeaderAction::reject);
}

class LogFile {
public:
    LogFile() {
        path_ = (std::filesystem::temp_directory_path() /
                 ("mpp-hf-log-" + std::to_string(::getpid()) + ".log"))
                    .string();
        log::Options o;
        o.file = path_;
        log::configure(o);
    }
    ~LogFile() {
        log::Options o;
        o.to_stderr = true;
        log::configure(o);
        std::filesystem::remove(path_);
    }
    std::string text() const {
        std::ifstream in(path_);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

private:
    std::string path_;
};

TEST(HeaderFilter, PatternHittingTheMatchLimitIsNoMatchAndLogged) {
    auto cfg = group_with(R"(
      <header-filter header="Subject" pattern="(a+)+$" match="raw" action="reject"/>
      <header-filter header="Subject" pattern="^a" action="tag"/>)");
    std::vector<Header> h = {{"Subject", std::string(30000, 'a') + "!"}};
    const auto before = metrics::get("regex-limit-hits").get();
    LogFile log;
    auto r = evaluate(group(cfg), h, HeaderFilterLimits{}, "4XyZ1");
    EXPECT_EQ(r.limit_hits, 1u);
    EXPECT_EQ(metrics::get("regex-limit-hits").get(), before + 1);
    ASSERT_TRUE(r.decided());  // the next filter still runs
    EXPECT_EQ(*r.action, HeaderAction::tag);
    const std::string text = log.text();
    EXPECT_NE(text.find("warning: 4XyZ1: group g: header-filter at line 5 pattern \"(a+)+$\" hit "
                        "the regex match limits on Subject; counted as no match"),
              std::string::npos)
        << text;
}

TEST(HeaderFilter, EmptyValuesAndWholeFields) {
    auto cfg = group_with(R"(
      <header-filter header="X-Empty" pattern="^$" action="defer"/>
      <header-filter pattern="^x-mailer: .*bulk" action="discard"/>)");
    auto r = evaluate(group(cfg), {{"Subject", "hi"}, {"X-Empty", ""}});
    ASSERT_TRUE(r.decided());
    EXPECT_EQ(*r.action, HeaderAction::defer);
    r = evaluate(group(cfg), {{"X-Empty", " x"}, {"X-Mailer", " =?utf-8?q?Bulk?= 1"}});
    ASSERT_TRUE(r.decided());
    EXPECT_EQ(*r.action, HeaderAction::discard);
    EXPECT_EQ(r.value, "X-Mailer: Bulk 1");
}

TEST(HeaderFilter, NamesAreCaseInsensitive) {
    auto cfg =
        group_with(R"(<header-filter header="user-agent" pattern="^Evil" action="reject"/>)");
    EXPECT_TRUE(evaluate(group(cfg), {{"USER-AGENT", "evil client"}}).decided());
    EXPECT_TRUE(evaluate(group(cfg), {{"User-Agent", "Evil"}}).decided());
    EXPECT_FALSE(evaluate(group(cfg), {{"User-Agents", "Evil"}}).decided());
    // (?-i) makes the pattern itself case-sensitive; the name still is not.
    auto cs = group_with(R"(<header-filter header="User-Agent" pattern="(?-i)^Evil"/>)");
    EXPECT_FALSE(evaluate(group(cs), {{"user-agent", "evil"}}).decided());
    EXPECT_TRUE(evaluate(group(cs), {{"user-agent", "Evil"}}).decided());
}

TEST(HeaderFilter, HeaderCountAndSizeLimits) {
    auto cfg = group_with(R"(<header-filter header="X-Bad" pattern="bad$" action="reject"/>)");
    HeaderFilterLimits limits;
    limits.max_headers = 2;
    limits.max_header_size = 16;
    std::vector<Header> h = {{"A", "1"}, {"B", "2"}, {"X-Bad", "bad"}};
    auto r = evaluate(group(cfg), h, limits);
    EXPECT_FALSE(r.decided());
    EXPECT_TRUE(r.headers_cut);
    h.erase(h.begin());
    EXPECT_TRUE(evaluate(group(cfg), h, limits).decided());  // at the limit: examined
    h.back().value = std::string(13, ' ') + "bad";            // 16 bytes: whole
    r = evaluate(group(cfg), h, limits);
    EXPECT_TRUE(r.decided());
    EXPECT_FALSE(r.values_cut);
    h.back().value = std::string(14, ' ') + "bad";  // 17 bytes: the "d" is past the limit
    r = evaluate(group(cfg), h, limits);
    EXPECT_FALSE(r.decided());
    EXPECT_TRUE(r.values_cut);
}

TEST(HeaderFilter, LimitsComeFromTheConfig) {
    auto cfg = load(R"(<limits max-headers="20" max-header-size="2K" regex-match-limit="5000"/>)");
    auto l = header_filter_limits(*cfg);
    EXPECT_EQ(l.max_headers, 20u);
    EXPECT_EQ(l.max_header_size, 2048u);
    EXPECT_EQ(l.regex.match_limit, 5000u);
    config::Config none;
    l = header_filter_limits(none);
    EXPECT_EQ(l.max_headers, HeaderFilterLimits::kDefaultMaxHeaders);
    EXPECT_EQ(l.max_header_size, HeaderFilterLimits::kDefaultMaxHeaderSize);
}

TEST(HeaderFilter, NoFiltersNoResult) {
    auto cfg = group_with("");
    auto r = evaluate(group(cfg), {{"Subject", "x"}});
    EXPECT_FALSE(r.decided());
    EXPECT_EQ(r.score, 0);
    EXPECT_EQ(checks_text(r), "");
    EXPECT_EQ(reason(r), "");
}

TEST(SubjectKey, NormalisedForCounting) {
    EXPECT_EQ(subject_key(" Undeliverable:   Mail\r\n\tReturned  "),
              "undeliverable: mail returned");
    EXPECT_EQ(subject_key("Re: Fwd: Order 4711"), "re: fwd: order 4711");
    EXPECT_EQ(subject_key("=?UTF-8?Q?GR=C3=9CSSE?= aus K=?utf-8?q?=C3=96ln?="),
              "gr\xC3\xBCsse aus k\xC3\xB6ln");  // Unicode lower case
    EXPECT_EQ(subject_key("=?ISO-8859-1?Q?=C9T=C9?="), "\xC3\xA9t\xC3\xA9");
    EXPECT_EQ(subject_key(""), "");
    EXPECT_EQ(subject_key(" \t\r\n "), "");
    // The same subject, encoded or not, folded or not, gives one key.
    EXPECT_EQ(subject_key("Mail delivery failed"),
              subject_key("=?utf-8?b?TWFpbCBkZWxpdmVyeSBmYWlsZWQ=?="));
}

TEST(SubjectKey, BoundedAtACharacterBoundary) {
    std::string s;
    for (int i = 0; i < 200; ++i) s += "\xC3\xA9";  // 400 bytes of é
    std::string k = subject_key(s);
    EXPECT_EQ(k.size(), kMaxSubjectKey);
    EXPECT_EQ(k.substr(0, 2), "\xC3\xA9");
    s = "x" + s;  // now every cut at an even offset falls inside a character
    k = subject_key(s);
    EXPECT_EQ(k.size(), kMaxSubjectKey - 1);
    EXPECT_EQ(static_cast<unsigned char>(k.back()), 0xA9u);
    // A cut right after a blank leaves no trailing space.
    k = subject_key(std::string(kMaxSubjectKey - 1, 'x') + "  yz");
    EXPECT_EQ(k, std::string(kMaxSubjectKey - 1, 'x'));
}

TEST(SubjectKey, FirstSubjectOfAMessage) {
    EXPECT_EQ(message_subject_key({{"From", "a"}, {"SUBJECT", " Hello"}, {"Subject", "two"}}),
              "hello");
    EXPECT_EQ(message_subject_key({{"From", "a"}}), std::nullopt);
}

}  // namespace
