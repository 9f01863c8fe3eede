// Tests of engines/clamd: the answer parser (table-driven), and the client against a real
// clamd started once for the suite (t/engines/engine_servers.h: one EICAR signature,
// StreamMaxLength 1M, AlertExceedsMax with a 256K MaxFileSize) and against fake servers that
// refuse, never answer or answer garbage.
#include "engines/clamd.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "t/engines/engine_servers.h"
#include "t/temp_dir.h"

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

std::string with_attachment(const std::string& content) {
    return "From: a@example.com\r\nTo: b@example.org\r\nSubject: invoice\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
           "--b1\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
           "--b1\r\nContent-Type: application/octet-stream\r\n"
           "Content-Disposition: attachment; filename=\"invoice.com\"\r\n\r\n" +
           content + "\r\n--b1--\r\n";
}

std::string plain(std::size_t body_size) {
    std::string m = "From: a@example.com\r\nSubject: hello\r\n\r\n";
    while (m.size() < body_size) m += "All quiet on this line.\r\n";
    return m;
}

config::ClamdCfg cfg(const std::string& address) {
    config::ClamdCfg c;
    c.name = "clam";
    c.address = address;
    c.max_size = 25 * 1024 * 1024;
    return c;
}

// --- the parser ---

TEST(ClamdParseTest, Answers) {
    struct Case {
        std::string answer;
        Status status;
        std::string detail;
    } cases[] = {
        {"stream: OK", Status::clean, ""},
        {"stream: OK\n", Status::clean, ""},
        {"stream: Eicar-Signature FOUND", Status::virus, "Eicar-Signature"},
        {"stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND", Status::limits,
         "Heuristics.Limits.Exceeded.MaxFileSize"},
        {"stream: Heuristics.Encrypted.Zip FOUND", Status::virus, "Heuristics.Encrypted.Zip"},
        {"INSTREAM size limit exceeded. ERROR", Status::error,
         "INSTREAM size limit exceeded. ERROR"},
        {"stream: lstat() failed ERROR", Status::error, "stream: lstat() failed ERROR"},
        {"", Status::error, "empty answer"},
        {"stream:  FOUND", Status::error, "unexpected answer: \"stream:  FOUND\""},
        {"PONG", Status::error, "unexpected answer: \"PONG\""},
        {"stream: Bad\x01Name FOUND", Status::virus, "Bad?Name"},
    };
    for (const auto& c : cases) {
        auto a = parse_clamd_answer(c.answer);
        EXPECT_EQ(a.status, c.status) << c.answer;
        EXPECT_EQ(a.detail, c.detail) << c.answer;
    }
    auto long_name = parse_clamd_answer("stream: " + std::string(500, 'V') + " FOUND");
    EXPECT_EQ(long_name.status, Status::virus);
    EXPECT_EQ(long_name.detail, std::string(ClamdEngine::kMaxDetail, 'V') + "...");
}

// --- a real clamd ---

class ClamdTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = std::make_unique<testing::ClamdServer>();
        auto t0 = steady_clock::now();
        error_ = server_->start();
        std::printf("# clamd started in %lld ms\n",
                    static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               steady_clock::now() - t0)
                                               .count()));
    }
    static void TearDownTestSuite() { server_.reset(); }
    void SetUp() override {
        if (!error_.empty()) FAIL() << error_;
    }

    static std::unique_ptr<testing::ClamdServer> server_;
    static std::string error_;
};
std::unique_ptr<testing::ClamdServer> ClamdTest::server_;
std::string ClamdTest::error_;

TEST_F(ClamdTest, EicarAttachmentIsAVirus) {
    ClamdEngine e(cfg(server_->address()));
    auto r = e.scan(message(with_attachment(testing::eicar())), in(30s));
    EXPECT_EQ(r.status, Status::virus) << r.detail;
    EXPECT_EQ(r.engine, "clam");
    // clamd names signatures of a local database NAME.UNOFFICIAL.
    EXPECT_EQ(r.detail, std::string(testing::ClamdServer::kSignature) + ".UNOFFICIAL");
}

TEST_F(ClamdTest, CleanMessageIsClean) {
    ClamdEngine e(cfg(server_->address()));
    auto r = e.scan(message(with_attachment("just some text, nothing to see")), in(30s));
    EXPECT_EQ(r.status, Status::clean) << r.detail;
    EXPECT_EQ(r.detail, "");
}

TEST_F(ClamdTest, SeveralChunks) {
    // More than one INSTREAM chunk, the signature in the last one, under MaxFileSize.
    ClamdEngine e(cfg(server_->address()));
    std::string m = plain(3 * ClamdEngine::kChunk) + testing::eicar() + "\r\n";
    ASSERT_LT(m.size(), testing::ClamdServer::kMaxFileSize);
    auto r = e.scan(message(m), in(30s));
    EXPECT_EQ(r.status, Status::virus) << r.detail;
}

TEST_F(ClamdTest, Ping) {
    ClamdEngine e(cfg(server_->address()));
    std::string error;
    EXPECT_TRUE(e.ping(in(10s), &error)) << error;
}

TEST_F(ClamdTest, OverMaxFileSizeIsLimits) {
    // Between MaxFileSize (256K) and StreamMaxLength (1M): clamd scans no further and, with
    // AlertExceedsMax, says so as a FOUND of Heuristics.Limits.Exceeded.*.
    ClamdEngine e(cfg(server_->address()));
    auto r = e.scan(message(plain(300 * 1024)), in(30s));
    EXPECT_EQ(r.status, Status::limits) << r.detail;
    EXPECT_EQ(r.detail, "Heuristics.Limits.Exceeded.MaxFileSize");
}

TEST_F(ClamdTest, OverStreamMaxLengthIsAnError) {
    // clamd answers and closes while chunks are still being written; the answer is read.
    ClamdEngine e(cfg(server_->address()));
    auto r = e.scan(message(plain(3 * testing::ClamdServer::kStreamMaxLength)), in(30s));
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "INSTREAM size limit exceeded. ERROR");
}

// --- failures ---

TEST(ClamdFakeServerTest, DeadSocketIsAnError) {
    testing::TempDir dir;
    auto address = "unix:" + (dir / "clamd.sock");
    ClamdEngine e(cfg(address));
    auto r = e.scan(message("x"), in(10s));
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "connect " + address + ": No such file or directory");
    std::string error;
    EXPECT_FALSE(e.ping(in(1s), &error));
    EXPECT_EQ(error, "connect " + address + ": No such file or directory");
}

TEST(ClamdFakeServerTest, SilentServerIsAnErrorAtTheDeadline) {
    testing::TempDir dir;
    testing::SilentServer server(dir / "clamd.sock");
    ClamdEngine e(cfg(server.address()));
    for (std::size_t size : {std::size_t(100), std::size_t(8 * 1024 * 1024)}) {
        // A small message waits for the answer; a big one blocks while writing.
        auto m = message(plain(size));
        auto t0 = steady_clock::now();
        auto r = e.scan(m, t0 + 300ms);
        auto took = steady_clock::now() - t0;
        EXPECT_EQ(r.status, Status::error);
        EXPECT_EQ(r.detail, std::string("timeout after 0.3s while ") +
                                (size > 100 ? "writing to " : "reading from ") +
                                server.address());
        EXPECT_GE(took, 300ms);
        EXPECT_LT(took, 1500ms);
    }
    std::string error;
    auto t0 = steady_clock::now();
    EXPECT_FALSE(e.ping(t0 + 300ms, &error));
    EXPECT_EQ(error, "timeout after 0.3s while reading from " + server.address());
}

TEST(ClamdFakeServerTest, GarbageAnswersAreErrors) {
    testing::TempDir dir;
    struct Case {
        std::string answer;
        std::string detail;
    } cases[] = {
        {std::string("HELLO\0", 6), "unexpected answer: \"HELLO\""},
        {"stream: OK", "answer without its NUL terminator: \"stream: OK\""},
        {"", "clamd closed the connection without an answer"},
        {std::string(5000, 'x'), ""},
    };
    for (const auto& c : cases) {
        testing::ScriptedServer server(c.answer, dir / "clamd.sock");
        ClamdEngine e(cfg(server.address()));
        auto r = e.scan(message("Subject: x\r\n\r\nhi\r\n"), in(10s));
        EXPECT_EQ(r.status, Status::error);
        if (c.detail.empty())
            EXPECT_EQ(r.detail, "answer from " + server.address() + " longer than 4096 bytes");
        else
            EXPECT_EQ(r.detail, c.detail);
        ::unlink((dir / "clamd.sock").c_str());
    }
}

TEST(ClamdFakeServerTest, StreamFormat) {
    testing::TempDir dir;
    testing::ScriptedServer server(std::string("stream: OK\0", 11), dir / "clamd.sock");
    ClamdEngine e(cfg(server.address()));
    auto r = e.scan(message("abc"), in(10s));
    EXPECT_EQ(r.status, Status::clean) << r.detail;
    EXPECT_EQ(server.received(), std::string("zINSTREAM\0" "\0\0\0\x03" "abc" "\0\0\0\0", 21));
}

class FailingReader final : public MessageReader {
public:
    std::size_t read(char* out, std::size_t n) override {
        if (given_) return 0;
        given_ = true;
        std::fill(out, out + std::min<std::size_t>(n, 10), 'a');
        return std::min<std::size_t>(n, 10);
    }
    bool failed() const override { return given_; }
    std::string error() const override { return "spool file: Input/output error"; }

private:
    bool given_ = false;
};

TEST(ClamdFakeServerTest, ReaderFailureAndMaxSizeAreErrors) {
    testing::TempDir dir;
    testing::ScriptedServer server(std::string("stream: OK\0", 11), dir / "clamd.sock");
    auto c = cfg(server.address());
    c.max_size = 2000;
    ClamdEngine e(c);
    ScanMessage m;
    m.open = [] { return std::make_unique<FailingReader>(); };
    auto r = e.scan(m, in(10s));
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "reading the message: spool file: Input/output error");
    r = e.scan(message(std::string(2001, 'a')), in(10s));
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "message larger than max-size (2000 bytes)");
    r = e.scan(message(std::string(2000, 'a')), in(10s));
    EXPECT_EQ(r.status, Status::clean) << r.detail;
    r = e.scan(ScanMessage{}, in(10s));
    EXPECT_EQ(r.detail, "no message to scan");
}

}  // namespace
}  // namespace mpp::engines
