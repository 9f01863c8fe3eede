// Tests of engines/spamd: the answer parser (table-driven), and the client against a real
// spamd started once for the suite (t/engines/engine_servers.h) and against fake servers that
// refuse, never answer or answer garbage.
#include "engines/spamd.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "t/engines/engine_servers.h"

namespace mpp::engines {
namespace {

using namespace std::chrono_literals;
using std::chrono::steady_clock;
using Status = EngineResult::Status;

Deadline in(steady_clock::duration d) { return steady_clock::now() + d; }

ScanMessage message(std::string bytes) {
    ScanMessage m;
    m.queue_id = "4XyZ1";
    m.size = bytes.size();
    m.open = [bytes] { return memory_reader(bytes); };
    return m;
}

std::string plain_message() {
    return "Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
           "From: Alice <alice@example.com>\r\n"
           "To: Bob <bob@example.org>\r\n"
           "Message-ID: <plain-1@example.com>\r\n"
           "Subject: lunch\r\n"
           "\r\n"
           "Shall we meet at noon?\r\n";
}

std::string gtube_message() {
    return "From: x@example.com\r\nTo: y@example.org\r\nSubject: test\r\n\r\n" +
           testing::gtube() + "\r\n";
}

config::SpamdCfg cfg(const std::string& address) {
    config::SpamdCfg c;
    c.name = "sa";
    c.address = address;
    c.max_size = 512 * 1024;
    return c;
}

// --- the parser ---

std::string answer(std::string_view spam, std::string_view body) {
    return "SPAMD/1.1 0 EX_OK\r\nContent-length: " + std::to_string(body.size()) +
           "\r\nSpam: " + std::string(spam) + "\r\n\r\n" + std::string(body);
}

TEST(SpamdParseTest, SpamAndClean) {
    std::string error;
    auto a = parse_spamd_answer(answer("True ; 1002.5 / 5.0", "GTUBE,MISSING_DATE"), &error);
    ASSERT_TRUE(a) << error;
    EXPECT_TRUE(a->spam);
    EXPECT_DOUBLE_EQ(a->score, 1002.5);
    EXPECT_DOUBLE_EQ(a->required, 5.0);
    EXPECT_EQ(a->symbols, "GTUBE,MISSING_DATE");

    a = parse_spamd_answer(answer("False ; -1.9 / 5.0", ""), &error);
    ASSERT_TRUE(a) << error;
    EXPECT_FALSE(a->spam);
    EXPECT_DOUBLE_EQ(a->score, -1.9);
    EXPECT_EQ(a->symbols, "");

    a = parse_spamd_answer(answer("yes;6/5", "A"), &error);  // spamc's words and spacing
    ASSERT_TRUE(a) << error;
    EXPECT_TRUE(a->spam);
}

TEST(SpamdParseTest, BadAnswersAreErrors) {
    struct Case {
        std::string answer;
        std::string error;
    } cases[] = {
        {"", "spamd closed the connection without an answer"},
        {"HTTP/1.0 200 OK\r\n\r\n", "not a spamd answer: \"HTTP/1.0 200 OK\""},
        {"SPAMD/1.0 76 Bad header line: (EOF)\r\n",
         "spamd answered \"SPAMD/1.0 76 Bad header line: (EOF)\""},
        {"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 3 / 5\r\n", "answer ended inside its headers: "
                                                         "\"SPAMD/1.1 0 EX_OK\\x0D\\x0ASpam: "
                                                         "True ; 3 / 5\\x0D\\x0A\""},
        {answer("True ; nan / 5.0", ""),
         "bad Spam header \"True ; nan / 5.0\" (expected True|False ; S / R)"},
        {answer("Maybe ; 1 / 5.0", ""),
         "bad Spam header \"Maybe ; 1 / 5.0\" (expected True|False ; S / R)"},
        {answer("True ; 1e999 / 5.0", ""),
         "bad Spam header \"True ; 1e999 / 5.0\" (expected True|False ; S / R)"},
        {"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n", "answer without a Spam header"},
        {"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1 / 5\r\n\r\nA", "answer without Content-length"},
        {"SPAMD/1.1 0 EX_OK\r\nContent-length: x\r\nSpam: False ; 1 / 5\r\n\r\n",
         "bad Content-length \"x\""},
        {"SPAMD/1.1 0 EX_OK\r\nContent-length: 10\r\nSpam: False ; 1 / 5\r\n\r\nABC",
         "short answer: Content-length 10, got 3 bytes"},
        {"SPAMD/1.1 0 EX_OK\r\nContent-length: 1\r\nSpam: False ; 1 / 5\r\n\r\nABC",
         "answer longer than its Content-length 1"},
        {"SPAMD/1.1 0 EX_OK\r\ngarbage\r\nContent-length: 0\r\nSpam: False ; 1 / 5\r\n\r\n",
         "bad header line \"garbage\""},
    };
    for (const auto& c : cases) {
        std::string error;
        EXPECT_FALSE(parse_spamd_answer(c.answer, &error)) << c.answer;
        EXPECT_EQ(error, c.error) << c.answer;
    }
}

TEST(SpamdParseTest, RuleListIsSanitisedAndCutAtAComma) {
    std::string rules;
    for (int i = 0; i < 40; ++i) rules += (i ? "," : "") + std::string("RULE_NUMBER_") +
                                          std::to_string(i);
    std::string error;
    auto a = parse_spamd_answer(answer("True ; 9 / 5", rules), &error);
    ASSERT_TRUE(a) << error;
    EXPECT_LE(a->symbols.size(), SpamdEngine::kMaxDetail);
    EXPECT_EQ(a->symbols.substr(0, 27), "RULE_NUMBER_0,RULE_NUMBER_1");
    EXPECT_EQ(a->symbols.substr(a->symbols.size() - 4), ",...");
    EXPECT_EQ(a->symbols.find("RULE_NUMBER_39"), std::string::npos);

    a = parse_spamd_answer(answer("True ; 9 / 5", "A\x01" "B\r\nC"), &error);
    ASSERT_TRUE(a) << error;
    EXPECT_EQ(a->symbols, "A?B??C");
}

TEST(SpamdParseTest, CompleteWhenContentLengthArrived) {
    auto full = answer("True ; 9 / 5", "GTUBE");
    EXPECT_TRUE(spamd_answer_complete(full));
    EXPECT_FALSE(spamd_answer_complete(full.substr(0, full.size() - 1)));
    EXPECT_FALSE(spamd_answer_complete("SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9 / 5\r\n\r\nX"));
    EXPECT_FALSE(spamd_answer_complete("SPAMD/1.0 76 Bad header line\r\n"));
}

// --- a real spamd ---

class SpamdTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = std::make_unique<testing::SpamdServer>();
        auto t0 = steady_clock::now();
        error_ = server_->start();
        std::printf("# spamd started in %lld ms\n",
                    static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               steady_clock::now() - t0)
                                               .count()));
    }
    static void TearDownTestSuite() { server_.reset(); }
    void SetUp() override {
        if (!error_.empty()) FAIL() << error_;
    }

    static std::unique_ptr<testing::SpamdServer> server_;
    static std::string error_;
};
std::unique_ptr<testing::SpamdServer> SpamdTest::server_;
std::string SpamdTest::error_;

TEST_F(SpamdTest, GtubeIsSpam) {
    SpamdEngine e(cfg(server_->address()));
    auto r = e.scan(message(gtube_message()), in(30s));
    EXPECT_EQ(r.status, Status::spam) << r.detail;
    EXPECT_EQ(r.engine, "sa");
    EXPECT_GE(r.score, r.required);
    EXPECT_GE(r.score, 1000);
    EXPECT_DOUBLE_EQ(r.required, 5.0);
    EXPECT_NE(r.detail.find("GTUBE"), std::string::npos) << r.detail;
    EXPECT_GT(r.elapsed.count(), 0);
}

TEST_F(SpamdTest, PlainMessageIsClean) {
    SpamdEngine e(cfg(server_->address()));
    auto r = e.scan(message(plain_message()), in(30s));
    EXPECT_EQ(r.status, Status::clean) << r.detail;
    EXPECT_LT(r.score, r.required);
    EXPECT_EQ(r.detail.find("GTUBE"), std::string::npos) << r.detail;
}

TEST_F(SpamdTest, UserIsSentWhenSet) {
    auto c = cfg(server_->address());
    c.user = "mpp-test-user";
    SpamdEngine e(c);
    auto r = e.scan(message(plain_message()), in(30s));
    EXPECT_EQ(r.status, Status::clean) << r.detail;
    // spamd logs the user it scanned for ("result: ... user=mpp-test-user,...").
    bool seen = false;
    for (auto until = steady_clock::now() + 5s; !seen && steady_clock::now() < until;) {
        seen = server_->log().find("user=mpp-test-user,") != std::string::npos;
        if (!seen) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(seen) << server_->log();
}

TEST_F(SpamdTest, Ping) {
    SpamdEngine e(cfg(server_->address()));
    std::string error;
    EXPECT_TRUE(e.ping(in(10s), &error)) << error;
}

// --- failures ---

TEST(SpamdFakeServerTest, NothingListeningIsAnErrorAtOnce) {
    testing::ClosedPort closed;
    SpamdEngine e(cfg(closed.address()));
    auto t0 = steady_clock::now();
    auto r = e.scan(message(plain_message()), in(30s));
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "connect " + closed.address() + ": Connection refused");
    EXPECT_LT(steady_clock::now() - t0, 1s);
    std::string error;
    EXPECT_FALSE(e.ping(in(1s), &error));
    EXPECT_EQ(error, "connect " + closed.address() + ": Connection refused");
}

TEST(SpamdFakeServerTest, SilentServerIsAnErrorAtTheDeadline) {
    testing::SilentServer server;
    SpamdEngine e(cfg(server.address()));
    auto t0 = steady_clock::now();
    auto r = e.scan(message(plain_message()), t0 + 300ms);
    auto took = steady_clock::now() - t0;
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "timeout after 0.3s while reading from " + server.address());
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 1s);
}

TEST(SpamdFakeServerTest, GarbageAnswersAreErrors) {
    struct Case {
        std::string answer;
        std::string detail;
    } cases[] = {
        {"HTTP/1.0 400 Bad Request\r\n\r\n", "not a spamd answer: \"HTTP/1.0 400 Bad Request\""},
        {"", "spamd closed the connection without an answer"},
        {"SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 9 / 5\r\n\r\nGT",
         "short answer: Content-length 5, got 2 bytes"},
        {"SPAMD/1.1 0 EX_OK\r\nX-Filler: " + std::string(70000, 'x'), ""},
    };
    for (const auto& c : cases) {
        testing::ScriptedServer server(c.answer);
        SpamdEngine e(cfg(server.address()));
        auto r = e.scan(message(plain_message()), in(10s));
        EXPECT_EQ(r.status, Status::error) << c.detail;
        if (c.detail.empty())
            EXPECT_EQ(r.detail, "answer from " + server.address() + " longer than 65536 bytes");
        else
            EXPECT_EQ(r.detail, c.detail);
    }
}

TEST(SpamdFakeServerTest, RequestCarriesLengthAndUser) {
    testing::ScriptedServer server(answer("False ; 0.5 / 5.0", "NONE"));
    auto c = cfg(server.address());
    c.user = "alice";
    SpamdEngine e(c);
    auto r = e.scan(message("Subject: x\r\n\r\nhi\r\n"), in(10s));
    EXPECT_EQ(r.status, Status::clean) << r.detail;
    EXPECT_DOUBLE_EQ(r.score, 0.5);
    EXPECT_EQ(r.detail, "NONE");
    EXPECT_EQ(server.received(),
              "SYMBOLS SPAMC/1.5\r\nContent-length: 18\r\nUser: alice\r\n\r\n"
              "Subject: x\r\n\r\nhi\r\n");
}

TEST(SpamdFakeServerTest, MessageLargerThanMaxSizeIsAnErrorBeforeConnecting) {
    testing::ClosedPort closed;
    auto c = cfg(closed.address());
    c.max_size = 1024;
    SpamdEngine e(c);
    auto r = e.scan(message(std::string(1025, 'a')), in(10s));
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "message larger than max-size (1024 bytes)");
    // At the bound exactly it is sent (and here refused).
    r = e.scan(message(std::string(1024, 'a')), in(10s));
    EXPECT_EQ(r.detail, "connect " + closed.address() + ": Connection refused");
}

TEST(SpamdFakeServerTest, UnusableUserNameIsAnError) {
    testing::ClosedPort closed;
    auto c = cfg(closed.address());
    c.user = "a\r\nUser: b";
    auto r = SpamdEngine(c).scan(message("x"), in(10s));
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail,
              "user name \"a\\x0D\\x0AUser: b\": spamd takes printable ASCII without blanks");
}

}  // namespace
}  // namespace mpp::engines
