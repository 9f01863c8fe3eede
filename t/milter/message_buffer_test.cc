// t/milter/message_buffer_test.cc: milter/message_buffer: a message kept in memory and read back
// byte for byte, the spill to an unlinked temp file at exactly spill_size, line endings (CRLF
// and LF, bare LF and CR, a CRLF split across chunks), the size limit (limit and limit+1),
// header limits, a spool directory that is missing or not a directory, a write that fails
// (EFBIG under RLIMIT_FSIZE: a real failing write, no mock), and many buffers at once leaving no
// file and no descriptor behind.
#include "milter/message_buffer.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "lib/metrics.h"
#include "t/policy/policy_test_util.h"

using namespace mpp;
using namespace mpp::milter;

namespace {

namespace fs = std::filesystem;

class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "mpp-msgbuf-test.XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const std::string& str() const { return path_; }
    std::size_t entries() const {
        return static_cast<std::size_t>(std::distance(fs::directory_iterator(path_), {}));
    }

private:
    std::string path_;
};

std::size_t open_fds() {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator("/proc/self/fd"), {}));
}

MessageBuffer::Limits spill_at(std::uint64_t n) {
    MessageBuffer::Limits l;
    l.spill_size = n;
    return l;
}

struct Field {
    const char* name;
    const char* value;
};
const Field kFields[] = {
    {"Received", "from a.example (a.example [192.0.2.1])\r\n\tby mx.example; Mon, 1 Jan 2024"},
    {"From", "Someone <someone@a.example>"},
    {"Subject", "=?utf-8?q?Gr=C3=BC=C3=9Fe?="},
    {"X-Empty", ""},
};

std::string header_block() {
    std::string s;
    for (const auto& f : kFields) s += std::string(f.name) + ": " + f.value + "\r\n";
    return s + "\r\n";
}

void add_fields(MessageBuffer& b) {
    for (const auto& f : kFields) ASSERT_TRUE(b.add_header(f.name, f.value));
}

// A CRLF body of `n` bytes of text lines.
std::string body_of(std::size_t n) {
    std::string s;
    while (s.size() < n) s += "line " + std::to_string(s.size()) + " of the body\r\n";
    s.resize(n);
    return s;
}

// Feeds `body` in chunks of `chunk` bytes.
void add_body(MessageBuffer& b, const std::string& body, std::size_t chunk = 65535) {
    for (std::size_t i = 0; i < body.size(); i += chunk)
        ASSERT_TRUE(b.add_body(std::string_view(body).substr(i, chunk))) << b.error();
}

// Reads with reads of `step` bytes.
std::string read_in_steps(const MessageBuffer& b, std::size_t step, LineEnding eol) {
    auto r = b.reader(eol);
    std::string out;
    std::vector<char> buf(step);
    for (std::size_t n; (n = r.read(buf.data(), step)) > 0;) out.append(buf.data(), n);
    EXPECT_FALSE(r.failed()) << r.error();
    return out;
}

TEST(MessageBuffer, KeptInMemoryAndReadBackByteForByte) {
    TempDir dir;
    MessageBuffer b(dir.str(), spill_at(1 << 20));
    add_fields(b);
    const std::string body = body_of(10000);
    add_body(b, body, 4000);
    EXPECT_TRUE(b.ok());
    EXPECT_FALSE(b.spilled());
    const std::string want = header_block() + body;
    EXPECT_EQ(b.size(), want.size());
    EXPECT_EQ(b.body_size(), body.size());
    std::string got;
    ASSERT_TRUE(b.read_all(got));
    EXPECT_EQ(got, want);
    EXPECT_EQ(read_in_steps(b, 1, LineEnding::crlf), want);
    EXPECT_EQ(read_in_steps(b, 7, LineEnding::crlf), want);
    ASSERT_EQ(b.headers().size(), 4u);
    EXPECT_EQ(b.headers()[2].name, "Subject");
    EXPECT_EQ(b.headers()[3].value, "");
}

TEST(MessageBuffer, SpillsPastTheBoundAndReadsBackTheSame) {
    TempDir dir;
    const auto spills = metrics::get("message-spills").get();
    const std::string body = body_of(4097);
    {
        MessageBuffer b(dir.str(), spill_at(4096));
        add_fields(b);
        add_body(b, body.substr(0, 4096), 1000);
        EXPECT_FALSE(b.spilled());  // exactly spill_size stays in memory
        add_body(b, body.substr(4096));
        EXPECT_TRUE(b.spilled());
        EXPECT_EQ(dir.entries(), 0u);  // the file has no name
        std::string got;
        ASSERT_TRUE(b.read_all(got));
        EXPECT_EQ(got, header_block() + body);
        EXPECT_EQ(read_in_steps(b, 3, LineEnding::crlf), header_block() + body);
    }
    EXPECT_EQ(metrics::get("message-spills").get(), spills + 1);
    // A large message in odd chunks, read back in odd steps.
    MessageBuffer big(dir.str(), spill_at(4096));
    add_fields(big);
    const std::string large = body_of(300001);
    add_body(big, large, 7777);
    EXPECT_TRUE(big.spilled());
    EXPECT_EQ(big.size(), header_block().size() + large.size());
    EXPECT_EQ(read_in_steps(big, 65536 + 13, LineEnding::crlf), header_block() + large);
}

TEST(MessageBuffer, LineEndingsAsAsked) {
    TempDir dir;
    for (std::uint64_t spill : {std::uint64_t{1} << 20, std::uint64_t{4096}}) {
        MessageBuffer b(dir.str(), spill_at(spill));
        ASSERT_TRUE(b.add_header("Subject", "folded\r\n\tline"));
        ASSERT_TRUE(b.add_header("X-Lf", "bare\n lf"));
        // A CRLF split across two chunks, a bare LF, a bare CR, a CR at the very end.
        ASSERT_TRUE(b.add_body("one\r"));
        ASSERT_TRUE(b.add_body("\ntwo\nthree\rfour\r\n"));
        ASSERT_TRUE(b.add_body(std::string(5000, 'x') + "\r"));
        EXPECT_EQ(b.spilled(), spill == 4096);
        const std::string tail(5000, 'x');
        EXPECT_EQ(read_in_steps(b, 4, LineEnding::crlf),
                  "Subject: folded\r\n\tline\r\nX-Lf: bare\r\n lf\r\n\r\n"
                  "one\r\ntwo\r\nthree\rfour\r\n" + tail + "\r");
        EXPECT_EQ(read_in_steps(b, 4, LineEnding::lf),
                  "Subject: folded\n\tline\nX-Lf: bare\n lf\n\n"
                  "one\ntwo\nthree\rfour\n" + tail + "\r");
    }
}

TEST(MessageBuffer, LeadingSpaceFromTheMta) {
    TempDir dir;
    MessageBuffer b(dir.str(), spill_at(4096), /*lead_space=*/true);
    ASSERT_TRUE(b.add_header("Subject", " hello"));
    ASSERT_TRUE(b.add_header("X-Tight", "x"));
    ASSERT_TRUE(b.add_body("body\r\n"));
    std::string got;
    ASSERT_TRUE(b.read_all(got));
    EXPECT_EQ(got, "Subject: hello\r\nX-Tight:x\r\n\r\nbody\r\n");
    EXPECT_EQ(b.size(), got.size());
}

TEST(MessageBuffer, SizeLimitAtAndPastTheLimit) {
    TempDir dir;
    const std::string body = body_of(9000);
    const std::uint64_t exact = header_block().size() + body.size();
    for (std::uint64_t spill : {std::uint64_t{1} << 20, std::uint64_t{4096}}) {
        MessageBuffer::Limits l = spill_at(spill);
        l.max_size = exact;
        MessageBuffer at(dir.str(), l);
        add_fields(at);
        add_body(at, body, 1000);
        EXPECT_TRUE(at.ok());
        EXPECT_EQ(at.size(), exact);

        l.max_size = exact - 1;
        MessageBuffer over(dir.str(), l);
        add_fields(over);
        EXPECT_TRUE(over.add_body(body.substr(0, body.size() - 1)));
        EXPECT_FALSE(over.add_body(body.substr(body.size() - 1)));
        EXPECT_EQ(over.state(), MessageBuffer::State::too_big);
        EXPECT_EQ(over.error(), "message size " + std::to_string(exact) + " exceeds " +
                                    std::to_string(exact - 1));
        EXPECT_FALSE(over.spilled());  // what was kept is dropped
        EXPECT_FALSE(over.add_body("more"));
        EXPECT_EQ(over.size(), exact + 4);  // still counted
        std::string got = "stale";
        std::string error;
        EXPECT_FALSE(over.read_all(got, LineEnding::crlf, &error));
        EXPECT_EQ(got, "");
        EXPECT_NE(error.find("too-big"), std::string::npos) << error;
    }
    // The header fields alone can be too big.
    MessageBuffer::Limits l;
    l.max_size = 20;
    MessageBuffer tiny(dir.str(), l);
    EXPECT_FALSE(tiny.add_header("Subject", "a subject that is long"));
    EXPECT_EQ(tiny.state(), MessageBuffer::State::too_big);
}

TEST(MessageBuffer, HeaderLimits) {
    TempDir dir;
    MessageBuffer::Limits l;
    l.max_headers = 10;
    l.max_header_size = 100;
    MessageBuffer count(dir.str(), l);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(count.add_header("X-N", std::to_string(i)));
    EXPECT_FALSE(count.add_header("X-N", "10"));
    EXPECT_EQ(count.state(), MessageBuffer::State::header_limit);
    EXPECT_EQ(count.error(), "more than 10 header fields");
    EXPECT_EQ(count.headers().size(), 10u);

    MessageBuffer size(dir.str(), l);
    EXPECT_TRUE(size.add_header("X-A", std::string(95, 'a')));  // "X-A: " + 95 = 100 bytes
    EXPECT_FALSE(size.add_header("X-B", std::string(96, 'b')));
    EXPECT_EQ(size.state(), MessageBuffer::State::header_limit);

    l.max_headers = 100000;
    l.max_header_size = 1 << 20;
    MessageBuffer block(dir.str(), l);
    const std::string v(64 * 1024, 'v');
    int kept = 0;
    while (block.add_header("X-Big", v)) ++kept;
    EXPECT_EQ(kept, static_cast<int>(MessageBuffer::kMaxHeaderBlock / (v.size() + 9)));
    EXPECT_EQ(block.state(), MessageBuffer::State::header_limit);
}

TEST(MessageBuffer, HeaderAfterBodyIsAnError) {
    TempDir dir;
    MessageBuffer b(dir.str(), spill_at(4096));
    ASSERT_TRUE(b.add_body("x"));
    EXPECT_FALSE(b.add_header("X-Late", "1"));
    EXPECT_EQ(b.state(), MessageBuffer::State::error);
}

TEST(MessageBuffer, SpoolThatCannotTakeTheFile) {
    TempDir dir;
    const auto errors = metrics::get("message-spill-errors").get();
    const std::string missing = dir.str() + "/no-such-dir";
    MessageBuffer b(missing, spill_at(4096));
    add_fields(b);
    EXPECT_TRUE(b.add_body(std::string(4096, 'x')));  // still in memory
    EXPECT_FALSE(b.add_body("y"));
    EXPECT_EQ(b.state(), MessageBuffer::State::error);
    EXPECT_EQ(b.error_code(), ENOENT);
    EXPECT_EQ(b.error(), "spool " + missing + ": temp file: No such file or directory");
    EXPECT_FALSE(b.add_body("z"));
    std::string got;
    EXPECT_FALSE(b.read_all(got));
    EXPECT_EQ(metrics::get("message-spill-errors").get(), errors + 1);

    const std::string file = dir.str() + "/a-file";
    std::ofstream(file) << "x";
    MessageBuffer f(file, spill_at(4096));
    EXPECT_FALSE(f.add_body(std::string(5000, 'x')));
    EXPECT_EQ(f.error_code(), ENOTDIR);

    if (::geteuid() != 0) {  // root writes anywhere
        const std::string ro = dir.str() + "/read-only";
        fs::create_directory(ro);
        fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
        MessageBuffer r(ro, spill_at(4096));
        EXPECT_FALSE(r.add_body(std::string(5000, 'x')));
        EXPECT_EQ(r.error_code(), EACCES);
    }
}

// RLIMIT_FSIZE makes write(2) fail with EFBIG once the file would grow past it (with SIGXFSZ
// ignored): a real failing write on the spill file, as a full disk would give.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        ::getrlimit(RLIMIT_FSIZE, &saved_);
        old_ = std::signal(SIGXFSZ, SIG_IGN);
        rlimit l = saved_;
        l.rlim_cur = bytes;
        ok_ = ::setrlimit(RLIMIT_FSIZE, &l) == 0;
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &saved_);
        std::signal(SIGXFSZ, old_);
    }
    bool ok() const { return ok_; }

private:
    rlimit saved_{};
    void (*old_)(int) = nullptr;
    bool ok_ = false;
};

TEST(MessageBuffer, FailingWriteIsAnErrorState) {
    TempDir dir;
    MessageBuffer b(dir.str(), spill_at(4096));
    add_fields(b);
    {
        FileSizeLimit limit(64 * 1024);
        ASSERT_TRUE(limit.ok());
        ASSERT_TRUE(b.add_body(std::string(32 * 1024, 'x')));
        EXPECT_TRUE(b.spilled());
        EXPECT_FALSE(b.add_body(std::string(64 * 1024, 'y')));
    }
    EXPECT_EQ(b.state(), MessageBuffer::State::error);
    EXPECT_EQ(b.error_code(), EFBIG);
    EXPECT_EQ(b.error(), "spool " + dir.str() + ": write: File too large");
    EXPECT_FALSE(b.spilled());  // the file is closed at once
}

TEST(MessageBuffer, ManyBuffersLeaveNothingBehind) {
    TempDir dir;
    const std::size_t fds = open_fds();
    {
        std::vector<std::unique_ptr<MessageBuffer>> buffers;
        for (int i = 0; i < 200; ++i) {
            auto b = std::make_unique<MessageBuffer>(dir.str(), spill_at(4096));
            ASSERT_TRUE(b->add_header("X-I", std::to_string(i)));
            const char c = static_cast<char>('a' + i % 26);
            ASSERT_TRUE(b->add_body(std::string(i % 2 ? 5000 : 100, c)));
            buffers.push_back(std::move(b));
        }
        EXPECT_EQ(open_fds(), fds + 100);  // one file per spilled buffer
        EXPECT_EQ(dir.entries(), 0u);
        for (int i = 0; i < 200; i += 37) {
            std::string got;
            ASSERT_TRUE(buffers[static_cast<std::size_t>(i)]->read_all(got, LineEnding::lf));
            EXPECT_EQ(got, "X-I: " + std::to_string(i) + "\n\n" +
                               std::string(i % 2 ? 5000 : 100, static_cast<char>('a' + i % 26)));
        }
        // A moved buffer keeps its file.
        MessageBuffer moved = std::move(*buffers[1]);
        EXPECT_TRUE(moved.spilled());
    }
    EXPECT_EQ(open_fds(), fds);
    EXPECT_EQ(dir.entries(), 0u);
}

TEST(MessageBuffer, LimitsFromTheConfig) {
    auto cfg = policy::test::load(
        R"(<limits max-message-size="10M" spill-size="256K" max-headers="50")"
        R"( max-header-size="8K"/>)");
    auto l = MessageBuffer::limits_from(*cfg);
    EXPECT_EQ(l.max_size, 10u << 20);
    EXPECT_EQ(l.spill_size, 256u << 10);
    EXPECT_EQ(l.max_headers, 50u);
    EXPECT_EQ(l.max_header_size, 8u << 10);
    config::Config none;
    l = MessageBuffer::limits_from(none);
    EXPECT_EQ(l.max_size, 0u);
    EXPECT_EQ(l.spill_size, MessageBuffer::kDefaultSpillSize);
}

}  // namespace
