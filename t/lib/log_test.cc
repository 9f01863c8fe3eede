// t/lib/log_test.cc: the logger (lib/log.h): file format, levels, text cleaning, rotation,
// failing files and concurrent writers. Syslog output is not tested here.
#include "lib/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace mpp::log {
namespace {

namespace fs = std::filesystem;

class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "mpp-log-test.XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

// Sends fd 2 to a file for the lifetime of the object.
class StderrCapture {
public:
    explicit StderrCapture(std::string path) : path_(std::move(path)) {
        saved_ = ::dup(STDERR_FILENO);
        int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
    }
    ~StderrCapture() {
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
    }
    std::vector<std::string> lines() const;

private:
    std::string path_;
    int saved_ = -1;
};

std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

std::vector<std::string> StderrCapture::lines() const {
    return read_lines(path_);
}

// The text after "ident[pid]: " of each line.
std::vector<std::string> texts(const std::vector<std::string>& lines) {
    std::vector<std::string> out;
    for (const auto& l : lines) {
        auto p = l.find("]: ");
        out.push_back(p == std::string::npos ? "<malformed: " + l + ">" : l.substr(p + 3));
    }
    return out;
}

std::vector<std::string> file_texts(const std::string& path) {
    return texts(read_lines(path));
}

std::size_t count_containing(const std::vector<std::string>& lines, const std::string& what) {
    std::size_t n = 0;
    for (const auto& l : lines) n += l.find(what) != std::string::npos;
    return n;
}

bool digits(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Whether `line` is "Mon DD HH:MM:SS host IDENT[PID]: TEXT" for this process; sets *text.
bool well_formed(const std::string& line, const std::string& ident, std::string* text) {
    static const std::string months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (line.size() < 17) return false;
    const std::string_view l(line);
    const auto mon = l.substr(0, 3);
    if (months.find(mon) == std::string::npos || months.find(mon) % 3 != 0) return false;
    const char d0 = l[4], d1 = l[5];
    if (l[3] != ' ' || !(d0 == ' ' || (d0 >= '1' && d0 <= '3')) || !digits(l.substr(5, 1)) ||
        (d0 == ' ' && d1 == '0'))
        return false;
    if (l[6] != ' ' || !digits(l.substr(7, 2)) || l[9] != ':' || !digits(l.substr(10, 2)) ||
        l[12] != ':' || !digits(l.substr(13, 2)) || l[15] != ' ')
        return false;
    const auto host_end = l.find(' ', 16);
    if (host_end == std::string_view::npos || host_end == 16) return false;
    const std::string tag = ident + "[" + std::to_string(::getpid()) + "]: ";
    if (l.substr(host_end + 1, tag.size()) != tag) return false;
    *text = line.substr(host_end + 1 + tag.size());
    return true;
}

class LogTest : public testing::Test {
protected:
    void TearDown() override { configure(Options{}); }  // silent for the tests that follow

    Options file_options(const std::string& name) {
        Options o;
        o.ident = "mpptest";
        o.file = dir / name;
        o.level = Level::debug;
        return o;
    }

    TempDir dir;
};

TEST(LogLevels, NamesRoundTrip) {
    const char* names[] = {"debug", "info", "notice", "warning", "error", "crit"};
    for (int i = 0; i < 6; ++i) {
        Level l{};
        ASSERT_TRUE(parse_level(names[i], l)) << names[i];
        EXPECT_EQ(static_cast<int>(l), i);
        EXPECT_EQ(level_name(l), names[i]);
    }
    Level l = Level::info;
    for (const char* bad : {"", "warn", "INFO", "err", "critical", "emerg"})
        EXPECT_FALSE(parse_level(bad, l)) << bad;
    EXPECT_EQ(l, Level::info);  // untouched on failure
}

TEST(LogFacility, Names) {
    for (const char* ok : {"", "none", "mail", "daemon", "user", "local0", "local7"})
        EXPECT_TRUE(valid_facility(ok)) << ok;
    for (const char* bad : {"MAIL", "local8", "kern", "auth", " mail"})
        EXPECT_FALSE(valid_facility(bad)) << bad;
}

TEST_F(LogTest, FileLineFormat) {
    auto o = file_options("mppd.log");
    configure(o);
    info("client=host[192.0.2.1] action=accept");
    auto lines = read_lines(o.file);
    ASSERT_EQ(lines.size(), 1u);
    std::string text;
    EXPECT_TRUE(well_formed(lines[0], "mpptest", &text)) << lines[0];
    EXPECT_EQ(text, "client=host[192.0.2.1] action=accept");
    EXPECT_FALSE(well_formed(lines[0], "mppd", &text));  // the checker itself can fail
    EXPECT_FALSE(well_formed("Foo  1 00:00:00 h mpptest[1]: x", "mpptest", &text));
}

TEST_F(LogTest, StderrUsesTheSameFormat) {
    Options o;
    o.ident = "mpptest";
    o.to_stderr = true;
    {
        StderrCapture cap(dir / "stderr");
        configure(o);
        warning("to stderr");
        configure(Options{});
        auto lines = cap.lines();
        ASSERT_EQ(lines.size(), 1u);
        std::string text;
        EXPECT_TRUE(well_formed(lines[0], "mpptest", &text)) << lines[0];
        EXPECT_EQ(text, "warning: to stderr");
    }
}

TEST_F(LogTest, LevelFiltering) {
    auto o = file_options("mppd.log");
    o.level = Level::warning;
    configure(o);
    EXPECT_FALSE(enabled(Level::debug));
    EXPECT_FALSE(enabled(Level::notice));
    EXPECT_TRUE(enabled(Level::warning));
    EXPECT_TRUE(enabled(Level::crit));
    debug("d");
    info("i");
    notice("n");
    warning("w");
    error("e");
    crit("c");
    write(Level::info, "i2");
    write(Level::error, "e2");
    write_qid(Level::info, "4XyZ1", "i3");
    EXPECT_EQ(file_texts(o.file), (std::vector<std::string>{"warning: w", "error: e", "fatal: c",
                                                            "error: e2"}));

    o.level = Level::debug;  // a reconfigure changes the level, same file kept
    configure(o);
    debug("d2");
    EXPECT_EQ(file_texts(o.file).back(), "debug: d2");
}

TEST_F(LogTest, QueueIdPrefix) {
    auto o = file_options("mppd.log");
    configure(o);
    write_qid(Level::info, "4XyZ1", "from=<a@b> action=reject");
    write_qid(Level::info, "", "reject: RCPT from host[192.0.2.1]");
    info(cat("client=", "host", "[", 42, "]"));
    EXPECT_EQ(file_texts(o.file),
              (std::vector<std::string>{"4XyZ1: from=<a@b> action=reject",
                                        "NOQUEUE: reject: RCPT from host[192.0.2.1]",
                                        "client=host[42]"}));
}

TEST_F(LogTest, EscapesControlCharacters) {
    auto o = file_options("mppd.log");
    configure(o);
    info(std::string("a\nb\tc\x01"
                     "d\x7f"
                     "e\r\xc3\xa9",
                     12) +
         std::string(1, '\0') + "z");
    EXPECT_EQ(file_texts(o.file),
              (std::vector<std::string>{"a\\x0Ab\tc\\x01d\\x7Fe\\x0D\xc3\xa9\\x00z"}));
}

TEST_F(LogTest, CutsLongText) {
    auto o = file_options("mppd.log");
    configure(o);
    const std::string x4096(4096, 'x');
    info(x4096);                                         // exactly at the limit: kept whole
    info(x4096 + "y");                                   // one over: cut
    info(std::string(10000, 'x'));                       // far over: cut
    info(std::string(4092, 'x') + "\n");                 // the escape ends exactly at the limit
    info(std::string(4093, 'x') + "\n");                 // an escape is never split
    info(std::string(4092, 'x') + "\xc3\xa9" + "yyyy");  // nor is a UTF-8 sequence
    const std::string cut = std::string(4093, 'x') + "...";
    EXPECT_EQ(file_texts(o.file),
              (std::vector<std::string>{x4096, cut, cut, std::string(4092, 'x') + "\\x0A", cut,
                                        std::string(4092, 'x') + "..."}));
}

TEST_F(LogTest, RotatesBySizeKeepingN) {
    auto o = file_options("mppd.log");
    o.rotate_size = 400;
    o.rotate_keep = 2;
    configure(o);
    for (int i = 0; i < 60; ++i) info(cat("line ", 1000 + i));
    for (const char* name : {"mppd.log", "mppd.log.1", "mppd.log.2"}) {
        ASSERT_TRUE(fs::exists(dir / name)) << name;
        EXPECT_LE(fs::file_size(dir / name), 400u) << name;
        EXPECT_GT(fs::file_size(dir / name), 0u) << name;
    }
    EXPECT_FALSE(fs::exists(dir / "mppd.log.3"));
    // Oldest to newest, the kept lines are consecutive and end with the last one.
    std::vector<std::string> all;
    for (const char* name : {"mppd.log.2", "mppd.log.1", "mppd.log"}) {
        auto t = file_texts(dir / name);
        all.insert(all.end(), t.begin(), t.end());
    }
    ASSERT_FALSE(all.empty());
    const int first = std::stoi(all.front().substr(5));
    for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], cat("line ", first + i));
    EXPECT_EQ(all.back(), "line 1059");
    EXPECT_GT(first, 1000);  // older ones were dropped
}

TEST_F(LogTest, LineLargerThanRotateSizeIsStillWritten) {
    auto o = file_options("mppd.log");
    o.rotate_size = 10;
    o.rotate_keep = 1;
    configure(o);
    info("first line, longer than the limit");
    info("second line");
    EXPECT_EQ(file_texts(dir / "mppd.log.1"),
              (std::vector<std::string>{"first line, longer than the limit"}));
    EXPECT_EQ(file_texts(o.file), (std::vector<std::string>{"second line"}));
}

TEST_F(LogTest, RotateOnDemand) {
    auto o = file_options("mppd.log");
    o.rotate_keep = 3;
    configure(o);
    info("A");
    rotate();
    info("B");
    EXPECT_EQ(file_texts(dir / "mppd.log.1"), (std::vector<std::string>{"A"}));
    EXPECT_EQ(file_texts(o.file), (std::vector<std::string>{"B"}));
    rotate();
    info("C");
    EXPECT_EQ(file_texts(dir / "mppd.log.2"), (std::vector<std::string>{"A"}));
    EXPECT_EQ(file_texts(dir / "mppd.log.1"), (std::vector<std::string>{"B"}));
    EXPECT_EQ(file_texts(o.file), (std::vector<std::string>{"C"}));
}

TEST_F(LogTest, RotateKeepZeroDropsTheFile) {
    auto o = file_options("mppd.log");
    o.rotate_keep = 0;
    configure(o);
    info("old");
    rotate();
    info("new");
    EXPECT_FALSE(fs::exists(dir / "mppd.log.1"));
    EXPECT_EQ(file_texts(o.file), (std::vector<std::string>{"new"}));
}

TEST_F(LogTest, RotateAfterOutsideMoveOnlyReopens) {
    auto o = file_options("mppd.log");
    configure(o);
    info("before");
    fs::rename(o.file, dir / "mppd.log-20240101");  // as logrotate does
    info("still to the moved file");
    rotate();
    info("after");
    EXPECT_FALSE(fs::exists(dir / "mppd.log.1"));
    EXPECT_EQ(file_texts(dir / "mppd.log-20240101"),
              (std::vector<std::string>{"before", "still to the moved file"}));
    EXPECT_EQ(file_texts(o.file), (std::vector<std::string>{"after"}));
}

TEST_F(LogTest, ReopenFollowsAnOutsideMoveAndNeverRotates) {
    auto o = file_options("mppd.log");
    configure(o);
    info("one");
    reopen();  // not moved: nothing happens
    info("two");
    EXPECT_FALSE(fs::exists(dir / "mppd.log.1"));
    EXPECT_EQ(file_texts(o.file), (std::vector<std::string>{"one", "two"}));
    fs::rename(o.file, dir / "mppd.log-20240101");
    reopen();
    info("three");
    EXPECT_EQ(file_texts(dir / "mppd.log-20240101"), (std::vector<std::string>{"one", "two"}));
    EXPECT_EQ(file_texts(o.file), (std::vector<std::string>{"three"}));
}

TEST_F(LogTest, RotatesByTime) {
    auto o = file_options("mppd.log");
    o.rotate_every = std::chrono::seconds(1);
    configure(o);
    info("A");
    info("A2");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    info("B");
    EXPECT_EQ(file_texts(dir / "mppd.log.1"), (std::vector<std::string>{"A", "A2"}));
    EXPECT_EQ(file_texts(o.file), (std::vector<std::string>{"B"}));
}

TEST_F(LogTest, NeverRotatesANonRegularFile) {
    const std::string link = dir / "null.log";
    fs::create_symlink("/dev/null", link);
    Options o;
    o.file = link;
    o.rotate_size = 1;
    configure(o);
    info("one");
    info("two");
    rotate();
    EXPECT_TRUE(fs::is_symlink(link));
    EXPECT_FALSE(fs::exists(dir / "null.log.1"));
    EXPECT_FALSE(fs::is_symlink(dir / "null.log.1"));
}

TEST_F(LogTest, UnopenableFileFallsBackAndRecovers) {
    auto o = file_options("missing-dir/mppd.log");
    o.to_stderr = true;
    StderrCapture cap(dir / "stderr");
    EXPECT_NO_THROW({
        configure(o);
        info("x1");
        info("x2");
    });
    fs::create_directory(dir / "missing-dir");
    rotate();  // a reload retries at once
    info("x3");
    configure(Options{});
    auto err = texts(cap.lines());
    EXPECT_EQ(count_containing(err, "open failed"), 1u);
    EXPECT_EQ(err.front(), "log file " + o.file + ": open failed: No such file or directory");
    EXPECT_EQ(count_containing(err, "x1"), 1u);
    EXPECT_EQ(count_containing(err, "x2"), 1u);
    EXPECT_EQ(count_containing(err, "log file " + o.file + ": writing again"), 1u);
    EXPECT_EQ(file_texts(o.file), (std::vector<std::string>{"x3"}));
}

TEST_F(LogTest, FullDiskFallsBackWithOneNotice) {
    if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
    Options o;
    o.ident = "mpptest";
    o.file = "/dev/full";
    o.to_stderr = true;
    StderrCapture cap(dir / "stderr");
    EXPECT_NO_THROW({
        configure(o);
        for (int i = 0; i < 5; ++i) info(cat("line ", i));
    });
    configure(Options{});
    auto err = texts(cap.lines());
    EXPECT_EQ(count_containing(err, "log file /dev/full: write failed: No space left on device"),
              1u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(count_containing(err, cat("line ", i)), 1u) << i;
    EXPECT_EQ(count_containing(err, "writing again"), 0u);
}

TEST_F(LogTest, ConcurrentWritersWriteWholeLines) {
    auto o = file_options("mppd.log");
    configure(o);
    constexpr int kThreads = 8, kLines = 400;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([t] {
            const std::string pad(300, static_cast<char>('a' + t));
            for (int i = 0; i < kLines; ++i) write_qid(Level::info, cat("T", t), cat(i, " ", pad));
        });
    }
    for (auto& th : threads) th.join();
    std::vector<int> next(kThreads, 0);
    auto lines = read_lines(o.file);
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kLines));
    for (const auto& line : lines) {
        // "PREFIX: T<t>: <i> <300 times the thread's letter>"
        std::string l;
        ASSERT_TRUE(well_formed(line, "mpptest", &l)) << line.substr(0, 80);
        ASSERT_TRUE(l.size() > 5 && l[0] == 'T' && l[2] == ':' && l[3] == ' ') << l.substr(0, 80);
        const int t = l[1] - '0';
        ASSERT_TRUE(t >= 0 && t < kThreads) << l.substr(0, 80);
        const auto space = l.find(' ', 4);
        ASSERT_NE(space, std::string::npos);
        ASSERT_TRUE(digits(std::string_view(l).substr(4, space - 4))) << l.substr(0, 80);
        EXPECT_EQ(std::stoi(l.substr(4, space - 4)), next[t]++);  // each thread's lines in order
        EXPECT_EQ(l.substr(space + 1), std::string(300, static_cast<char>('a' + t)));
    }
}

TEST_F(LogTest, ReconfigureWhileOthersLog) {
    auto o = file_options("a.log");
    configure(o);
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&stop] {
            while (!stop) info("busy");
        });
    for (int i = 0; i < 200; ++i) {
        auto next = file_options(i % 2 ? "a.log" : "b.log");
        next.level = i % 3 ? Level::info : Level::error;
        configure(next);
    }
    stop = true;
    for (auto& th : threads) th.join();
    for (const char* name : {"a.log", "b.log"})
        for (const auto& t : file_texts(dir / name)) EXPECT_EQ(t, "busy");
}

}  // namespace
}  // namespace mpp::log
