// t/engines/command_scanner_test.cc: the command-line scanner engine against real programs:
// /bin/sh scripts written by the test play the scanner (one greps the message file for a
// marker and answers like uvscan, exit 13 and "Found: NAME"). Proves the verdicts by exit code
// and virus-name, the message file (content, mode 0600, removed after every scan), standard
// input mode, errors for unknown exit codes, signals, a missing program, a failing reader and
// max-size, the deadline (SIGTERM, then SIGKILL to a script and the child it left, nothing left
// running), 10 MB of output, and 8 scans at once from threads.
#include "engines/command_scanner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "t/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using mpp::config::CommandCfg;
using mpp::config::CommandInput;
using mpp::engines::CommandEngine;
using mpp::engines::CommandOptions;
using mpp::engines::EngineResult;
using mpp::engines::MessageReader;
using mpp::engines::ScanMessage;
using mpp::testing::read_file;
using mpp::testing::TempDir;
using Status = EngineResult::Status;
using Clock = std::chrono::steady_clock;

const std::string kMarker = "X5O!P%@AP-MPP-TEST-MARKER";
const std::string kClean = "From: a@example.org\r\nSubject: hello\r\n\r\nJust text.\r\n";
const std::string kInfected = "From: a@example.org\r\nSubject: hi\r\n\r\n" + kMarker + "\r\n";

// An executable /bin/sh script at `path`.
std::string script(const std::string& path, const std::string& body) {
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << "#!/bin/sh\n" << body;
    }
    ::chmod(path.c_str(), 0755);
    return path;
}

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
        out.push_back(e.path().filename().string());
    return out;
}

ScanMessage message(const std::string& text) {
    ScanMessage m;
    m.queue_id = "4XyZ1";
    m.size = text.size();
    m.open = [text] { return mpp::engines::memory_reader(text); };
    return m;
}

// A reader that yields `good` bytes of 'a', then fails.
class FailingReader final : public MessageReader {
public:
    explicit FailingReader(std::size_t good) : left_(good) {}
    std::size_t read(char* out, std::size_t n) override {
        n = std::min(n, left_);
        std::fill(out, out + n, 'a');
        left_ -= n;
        failed_ = n == 0;
        return n;
    }
    bool failed() const override { return failed_; }
    std::string error() const override { return failed_ ? "spool read error" : ""; }

private:
    std::size_t left_;
    bool failed_ = false;
};

// True once `pid` is no process (or a zombie that init has not reaped yet: killed and
// re-parented away from us); waits up to 3 s.
bool gone(pid_t pid) {
    for (int i = 0; i < 300; ++i) {
        if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
        std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
        auto paren = stat.rfind(')');
        if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z')
            return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

pid_t read_pid(const std::string& path) {
    return static_cast<pid_t>(std::atoi(read_file(path).c_str()));
}

struct Fixture : ::testing::Test {
    TempDir bin{"mpp-cmd-bin"};     // the scripts and what they record
    TempDir spool{"mpp-cmd-spool"};  // the engine's message files, nothing else

    // A uvscan-like scanner: `uvscan --secure FILE`; records the file's path, mode and content.
    CommandCfg uvscan() {
        CommandCfg c;
        c.name = "uvscan";
        c.path = script(bin / "uvscan",
                        "echo \"$2\" > '" + bin.path + "/path'\n"
                        "stat -c %a \"$2\" > '" + bin.path + "/mode'\n"
                        "cat \"$2\" > '" + bin.path + "/seen'\n"
                        "echo 'McAfee VirusScan Command Line for Linux64'\n"
                        "if grep -q 'MPP-TEST-MARKER' \"$2\"; then\n"
                        "  echo \"$2 ... Found: Eicar-Test NOT a virus.\" >&2\n"
                        "  exit 13\n"
                        "fi\n"
                        "exit 0\n");
        c.args = {"--secure", "%FILE%"};
        c.clean_exit = {0};
        c.virus_exit = {13};
        c.virus_name = mpp::Regex::compile("Found: (\\S+)").regex;
        return c;
    }

    // A scanner of its standard input that records what it read.
    CommandCfg stdin_scanner() {
        CommandCfg c = uvscan();
        c.name = "stdin";
        c.input = CommandInput::stdin_;
        c.path = script(bin / "stdin-scan",
                        "cat > '" + bin.path + "/seen'\n"
                        "echo \"args: $*\"\n"
                        "if grep -q 'MPP-TEST-MARKER' '" + bin.path + "/seen'; then\n"
                        "  echo 'Found: Stdin-Test'; exit 13\n"
                        "fi\n");
        c.args = {"-", "%FILE%"};  // %FILE% has no file to name: left as written
        return c;
    }

    // A scanner with the given script body, taking the file as $1.
    CommandCfg with_body(const std::string& body) {
        CommandCfg c = uvscan();
        c.path = script(bin / "scanner", body);
        c.args = {"%FILE%"};
        return c;
    }

    EngineResult scan(const CommandCfg& c, const std::string& text,
                      std::chrono::milliseconds timeout = 10s, CommandOptions o = {}) {
        CommandEngine e(c, spool.path, o);
        return e.scan(message(text), Clock::now() + timeout);
    }
};

using CommandScanner = Fixture;

TEST_F(CommandScanner, VirusByExitCodeNamedByTheRegex) {
    auto r = scan(uvscan(), kInfected);
    EXPECT_EQ(r.status, Status::virus);
    EXPECT_EQ(r.detail, "Eicar-Test");
    EXPECT_EQ(r.engine, "uvscan");
    EXPECT_GT(r.elapsed.count(), 0);
    // The program read the message from a private file in the spool dir, since removed.
    std::string path = read_file(bin / "path");
    ASSERT_FALSE(path.empty());
    path.pop_back();
    EXPECT_EQ(std::filesystem::path(path).parent_path(), spool.path);
    EXPECT_EQ(std::filesystem::path(path).filename().string().rfind("scan-", 0), 0u) << path;
    EXPECT_EQ(read_file(bin / "mode"), "600\n");
    EXPECT_EQ(read_file(bin / "seen"), kInfected);
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_TRUE(files_in(spool.path).empty());
}

TEST_F(CommandScanner, CleanExit) {
    auto r = scan(uvscan(), kClean);
    EXPECT_EQ(r.status, Status::clean);
    EXPECT_EQ(r.detail, "");
    EXPECT_EQ(read_file(bin / "seen"), kClean);
    EXPECT_TRUE(files_in(spool.path).empty());
}

TEST_F(CommandScanner, ArgumentVector) {
    CommandCfg c = uvscan();
    c.args = {"--file=%FILE%", "100%%", "%FILE%"};
    CommandEngine e(c, spool.path);
    EXPECT_EQ(e.argv("/s/scan-1.eml"),
              (std::vector<std::string>{c.path, "--file=/s/scan-1.eml", "100%", "/s/scan-1.eml"}));
    EXPECT_EQ(e.argv(""), (std::vector<std::string>{c.path, "--file=%FILE%", "100%", "%FILE%"}));
}

TEST_F(CommandScanner, StandardInput) {
    auto r = scan(stdin_scanner(), kInfected);
    EXPECT_EQ(r.status, Status::virus);
    EXPECT_EQ(r.detail, "Stdin-Test");
    EXPECT_EQ(read_file(bin / "seen"), kInfected);
    r = scan(stdin_scanner(), kClean);
    EXPECT_EQ(r.status, Status::clean) << r.detail;
    EXPECT_EQ(read_file(bin / "seen"), kClean);
    EXPECT_TRUE(files_in(spool.path).empty());  // no file was made
}

TEST_F(CommandScanner, LargeMessageOnStandardInputToAProgramThatTalksFirst) {
    // 1 MB of output before it reads, then it reads all 20 MB: both sides must keep moving.
    CommandCfg c = stdin_scanner();
    c.path = script(bin / "talker", "head -c 1000000 /dev/zero\nwc -c > '" + bin.path +
                                        "/count'\nexit 0\n");
    std::string big(20 << 20, 'm');
    auto start = Clock::now();
    auto r = scan(c, big);
    EXPECT_LT(Clock::now() - start, 5s);
    EXPECT_EQ(r.status, Status::clean) << r.detail;
    EXPECT_EQ(read_file(bin / "count"), std::to_string(big.size()) + "\n");
}

TEST_F(CommandScanner, UnknownExitCodeIsAnErrorWithTheFirstOutputLine) {
    auto r = scan(with_body("echo\necho 'uvscan: cannot open the DAT files' >&2\necho more\n"
                            "exit 2\n"),
                  kClean);
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "exit code 2: uvscan: cannot open the DAT files");
    r = scan(with_body("exit 5\n"), kClean);
    EXPECT_EQ(r.detail, "exit code 5");
    EXPECT_TRUE(files_in(spool.path).empty());
}

TEST_F(CommandScanner, KilledBySignal) {
    auto r = scan(with_body("kill -KILL $$\n"), kClean);
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "killed by signal 9");
    EXPECT_TRUE(files_in(spool.path).empty());
}

TEST_F(CommandScanner, VirusNameWhenTheRegexDoesNotSay) {
    CommandCfg c = with_body("echo; echo '  Infected: W32/Bad.A'; exit 13\n");
    c.virus_name = nullptr;  // no regex: the first output line
    EXPECT_EQ(scan(c, kClean).detail, "Infected: W32/Bad.A");
    c.virus_name = mpp::Regex::compile("Found: (\\S+)").regex;  // no match
    auto r = scan(c, kClean);
    EXPECT_EQ(r.status, Status::virus);
    EXPECT_EQ(r.detail, "unknown");
    c = with_body("exit 13\n");  // no output at all
    c.virus_name = nullptr;
    EXPECT_EQ(scan(c, kClean).detail, "unknown");
    // A name is printable and bounded.
    c = with_body("printf 'Found: \\001%0300d\\n' 0; exit 13\n");
    c.virus_name = mpp::Regex::compile("Found: (.+)").regex;
    r = scan(c, kClean);
    EXPECT_EQ(r.detail.substr(0, 3), "?00");
    EXPECT_EQ(r.detail.size(), CommandEngine::kMaxDetail + 3);  // and "..."
}

TEST_F(CommandScanner, MissingProgram) {
    CommandCfg c = uvscan();
    c.path = "/nonexistent/uvscan";
    auto r = scan(c, kInfected);
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "cannot run /nonexistent/uvscan: No such file or directory");
    EXPECT_TRUE(files_in(spool.path).empty());
}

TEST_F(CommandScanner, HungScannerStoppedAtTheDeadline) {
    CommandCfg c = with_body("echo $$ > '" + bin.path + "/pid'\nexec sleep 30\n");
    CommandOptions o;
    o.kill_grace = 5s;
    auto start = Clock::now();
    auto r = scan(c, kClean, 300ms, o);
    auto took = Clock::now() - start;
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "timeout after 300ms");
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 2s);  // sleep dies of the SIGTERM, long before the grace would end
    pid_t pid = read_pid(bin / "pid");
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(gone(pid));
    EXPECT_TRUE(files_in(spool.path).empty());
}

TEST_F(CommandScanner, ScannerThatIgnoresSigtermAndItsChildAreKilled) {
    // The child inherits the ignored SIGTERM from the shell: SIGKILL to the group ends both.
    CommandCfg c = with_body("trap '' TERM\nsleep 30 &\necho $! > '" + bin.path +
                             "/child'\necho $$ > '" + bin.path + "/pid'\nwait\nwait\n");
    CommandOptions o;
    o.kill_grace = 200ms;
    auto start = Clock::now();
    auto r = scan(c, kClean, 300ms, o);
    auto took = Clock::now() - start;
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "timeout after 300ms");
    EXPECT_GE(took, 500ms);  // the deadline, then the grace
    EXPECT_LT(took, 2500ms);
    pid_t pid = read_pid(bin / "pid"), child = read_pid(bin / "child");
    ASSERT_GT(pid, 0);
    ASSERT_GT(child, 0);
    EXPECT_TRUE(gone(pid));
    EXPECT_TRUE(gone(child));
    EXPECT_TRUE(files_in(spool.path).empty());
}

TEST_F(CommandScanner, TenMegabytesOfOutput) {
    // The name printed first is kept; one printed after 10 MB is past what is kept.
    auto start = Clock::now();
    auto r = scan(with_body("echo 'Found: Early-Name'\nhead -c 10000000 /dev/zero\n"
                            "echo 'Found: Late-Name'\nexit 13\n"),
                  kClean);
    EXPECT_LT(Clock::now() - start, 5s);
    EXPECT_EQ(r.status, Status::virus);
    EXPECT_EQ(r.detail, "Early-Name");
    r = scan(with_body("head -c 10000000 /dev/zero\necho 'Found: Late-Name'\nexit 13\n"),
             kClean);
    EXPECT_EQ(r.status, Status::virus);
    EXPECT_EQ(r.detail, "unknown");
}

TEST_F(CommandScanner, FailingReader) {
    for (CommandCfg c : {uvscan(), stdin_scanner()}) {
        CommandEngine e(c, spool.path);
        ScanMessage m = message("");
        m.open = [] { return std::make_unique<FailingReader>(200000); };
        auto r = e.scan(m, Clock::now() + 10s);
        EXPECT_EQ(r.status, Status::error) << c.name;
        EXPECT_EQ(r.detail, "reading the message: spool read error") << c.name;
        EXPECT_TRUE(files_in(spool.path).empty());
    }
}

TEST_F(CommandScanner, MaxSize) {
    for (CommandCfg c : {uvscan(), stdin_scanner()}) {
        c.max_size = 100000;
        auto r = scan(c, std::string(100000, 'x'));
        EXPECT_EQ(r.status, Status::clean) << c.name << ": " << r.detail;
        r = scan(c, std::string(300001, 'x'));
        EXPECT_EQ(r.status, Status::error) << c.name;
        EXPECT_EQ(r.detail, "message larger than max-size (100000 bytes)") << c.name;
        EXPECT_TRUE(files_in(spool.path).empty());
    }
}

TEST_F(CommandScanner, NoTempDirectory) {
    CommandEngine e(uvscan(), spool / "missing");
    auto r = e.scan(message(kClean), Clock::now() + 10s);
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "temp file " + (spool / "missing") + "/scan-...: No such file or directory");
}

TEST_F(CommandScanner, DeadlineAlreadyPassedRunsNothing) {
    CommandEngine e(uvscan(), spool.path);
    auto r = e.scan(message(kInfected), Clock::now() - 1ms);
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "timeout after 0s");
    EXPECT_FALSE(std::filesystem::exists(bin / "path"));
}

TEST_F(CommandScanner, EightScansAtOnce) {
    CommandCfg c = uvscan();
    // A private record per run, and long enough that the runs overlap.
    c.path = script(bin / "uvscan8", "sleep 0.5\ncat \"$2\" > \"$2.seen\" 2>/dev/null\n"
                                     "grep -q 'MPP-TEST-MARKER' \"$2\" && "
                                     "{ echo \"Found: Eicar-$$\"; exit 13; }\nexit 0\n");
    CommandEngine e(c, spool.path);
    std::vector<EngineResult> results(8);
    std::vector<std::thread> threads;
    auto start = Clock::now();
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] {
            results[i] = e.scan(message(i % 2 ? kInfected : kClean), Clock::now() + 10s);
        });
    for (auto& t : threads) t.join();
    EXPECT_LT(Clock::now() - start, 3s);  // in parallel: about one run's 0.5 s, not 8 of them
    for (int i = 0; i < 8; ++i) {
        if (i % 2) {
            EXPECT_EQ(results[i].status, Status::virus) << i;
            EXPECT_EQ(results[i].detail.rfind("Eicar-", 0), 0u) << results[i].detail;
        } else {
            EXPECT_EQ(results[i].status, Status::clean) << i << results[i].detail;
        }
    }
    // Each run had its own file ("$2.seen" beside it is the only thing left of each).
    int infected = 0, clean = 0;
    auto left = files_in(spool.path);
    EXPECT_EQ(left.size(), 8u);
    for (const auto& f : left) {
        EXPECT_TRUE(f.ends_with(".eml.seen")) << f;
        std::string seen = read_file(spool / f);
        infected += seen == kInfected;
        clean += seen == kClean;
    }
    EXPECT_EQ(infected, 4);
    EXPECT_EQ(clean, 4);
    // Four different names: four different processes found the four infected ones.
    std::set<std::string> names;
    for (int i = 1; i < 8; i += 2) names.insert(results[i].detail);
    EXPECT_EQ(names.size(), 4u);
}

TEST_F(CommandScanner, RemoveStaleFiles) {
    for (const char* n : {"scan-abc123.eml", "scan-XYZ789.eml", "scan-1.eml", "other.eml"})
        std::ofstream(spool / n) << "x";
    EXPECT_EQ(CommandEngine::remove_stale_files(spool.path), 2);
    auto left = files_in(spool.path);
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{"other.eml", "scan-1.eml"}));
    EXPECT_EQ(CommandEngine::remove_stale_files(spool / "missing"), 0);
}

}  // namespace
