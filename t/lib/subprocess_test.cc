// t/lib/subprocess_test.cc: lib/subprocess against real programs (/bin/sh scripts written into
// a temp dir, cat, env, ls): exit codes and signals, standard input fed while the output is
// read (no deadlock when both are large), output kept up to its bound and the rest drained,
// the environment given, no descriptor leaked into the child, SIGTERM then SIGKILL at the
// deadline to the whole process group, what a program leaves running killed on request, and
// every child reaped.
#include "lib/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "lib/fd.h"
#include "t/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using mpp::proc::Options;
using mpp::proc::Output;
using mpp::proc::Result;
using mpp::proc::run;
using mpp::testing::TempDir;
using Clock = std::chrono::steady_clock;

// An executable /bin/sh script at `path`.
std::string script(const std::string& path, const std::string& body) {
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << "#!/bin/sh\n" << body;
    }
    ::chmod(path.c_str(), 0755);
    return path;
}

Options opts(std::vector<std::string> argv, std::chrono::milliseconds timeout = 10s) {
    Options o;
    o.argv = std::move(argv);
    o.deadline = Clock::now() + timeout;
    return o;
}

// Input from a string, in the pieces the runner asks for.
std::function<long(char*, std::size_t)> from(const std::string& text) {
    auto pos = std::make_shared<std::size_t>(0);
    return [&text, pos](char* buf, std::size_t n) -> long {
        n = std::min(n, text.size() - *pos);
        std::memcpy(buf, text.data() + *pos, n);
        *pos += n;
        return static_cast<long>(n);
    };
}

// True once `pid` is no process (or only a zombie that init has not reaped yet: a process
// killed and re-parented away from us); waits up to 3 s for it.
bool gone(pid_t pid) {
    for (int i = 0; i < 300; ++i) {
        if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
        std::string stat = mpp::testing::read_file("/proc/" + std::to_string(pid) + "/stat");
        auto paren = stat.rfind(')');
        if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z')
            return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

pid_t read_pid(const std::string& path) {
    for (int i = 0; i < 300; ++i) {
        if (pid_t p = std::atoi(mpp::testing::read_file(path).c_str()); p > 0) return p;
        std::this_thread::sleep_for(10ms);
    }
    return -1;
}

TEST(Subprocess, ExitCodeAndOutputInOrder) {
    TempDir d("mpp-proc");
    auto r = run(opts({script(d / "s", "echo one\necho two >&2\necho three\nexit 7\n")}));
    ASSERT_EQ(r.end, Result::End::exited) << r.error;
    EXPECT_EQ(r.exit_code, 7);
    EXPECT_EQ(r.output, "one\ntwo\nthree\n");
    EXPECT_EQ(r.output_bytes, 14u);
    EXPECT_TRUE(r.input_complete);  // /dev/null
    EXPECT_TRUE(gone(r.pid));
}

TEST(Subprocess, StderrOnlyDropsStandardOutput) {
    TempDir d("mpp-proc");
    Options o = opts({script(d / "s", "echo out\necho err >&2\n")});
    o.output = Output::stderr_only;
    auto r = run(o);
    EXPECT_EQ(r.end, Result::End::exited);
    EXPECT_EQ(r.output, "err\n");
}

TEST(Subprocess, KilledBySignal) {
    TempDir d("mpp-proc");
    auto r = run(opts({script(d / "s", "kill -SEGV $$\n")}));
    EXPECT_EQ(r.end, Result::End::signaled);
    EXPECT_EQ(r.signal, SIGSEGV);
}

TEST(Subprocess, LargeInputAndOutputAtOnceDoNotDeadlock) {
    // cat writes each piece back before it reads the next: neither side may wait for the other.
    std::string input(10 << 20, 'x');
    for (std::size_t i = 0; i < input.size(); i += 1000) input[i] = '\n';
    Options o = opts({"/bin/cat"});
    o.input = from(input);
    o.max_output = 1000;
    auto start = Clock::now();
    auto r = run(o);
    EXPECT_LT(Clock::now() - start, 5s);
    ASSERT_EQ(r.end, Result::End::exited) << r.error;
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(r.input_complete);
    EXPECT_EQ(r.input_bytes, input.size());
    EXPECT_EQ(r.output_bytes, input.size());
    EXPECT_EQ(r.output, input.substr(0, 1000));
}

TEST(Subprocess, ProgramThatWritesBeforeReading) {
    TempDir d("mpp-proc");
    // 1 MB out before it reads a byte: more than any pipe or socket buffer.
    Options o = opts({script(d / "s", "head -c 1000000 /dev/zero\nwc -c\n")});
    std::string input(3 << 20, 'y');
    o.input = from(input);
    auto r = run(o);
    ASSERT_EQ(r.end, Result::End::exited) << r.error;
    EXPECT_EQ(r.output_bytes, 1000000u + std::to_string(input.size()).size() + 1);
    EXPECT_EQ(r.output.size(), 64u * 1024);  // the default bound
    EXPECT_TRUE(r.input_complete);
}

TEST(Subprocess, HugeOutputIsBoundedAndDrained) {
    Options o = opts({"/usr/bin/head", "-c", "50000000", "/dev/zero"});
    o.max_output = 4096;
    auto r = run(o);
    ASSERT_EQ(r.end, Result::End::exited) << r.error;
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.output_bytes, 50000000u);
    EXPECT_EQ(r.output.size(), 4096u);
    EXPECT_GE(r.output.capacity(), 4096u);
    EXPECT_LT(r.output.capacity(), 64u * 1024);  // never held more than it kept
}

TEST(Subprocess, ProgramThatStopsReading) {
    TempDir d("mpp-proc");
    Options o = opts({script(d / "s", "head -c 10 >/dev/null\nexit 3\n")});
    std::string input(4 << 20, 'z');
    o.input = from(input);
    auto r = run(o);
    EXPECT_EQ(r.end, Result::End::exited);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_FALSE(r.input_complete);
    EXPECT_LT(r.input_bytes, input.size());
}

TEST(Subprocess, FailingInputStopsTheRun) {
    TempDir d("mpp-proc");
    Options o = opts({script(d / "s", "echo $$ > '" + d.path + "/pid'\ncat >/dev/null\nexit 0\n")});
    int calls = 0;
    o.input = [&](char* buf, std::size_t n) -> long {
        if (++calls > 3) return -1;
        std::memset(buf, 'a', n);
        return static_cast<long>(n);
    };
    auto r = run(o);
    EXPECT_EQ(r.end, Result::End::input_failed);
    EXPECT_FALSE(r.input_complete);
    EXPECT_TRUE(gone(r.pid));
}

TEST(Subprocess, TheGivenEnvironmentOnly) {
    Options o = opts({"/usr/bin/env"});
    o.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "LANG=C"};
    auto r = run(o);
    EXPECT_EQ(r.end, Result::End::exited);
    EXPECT_EQ(r.output, "PATH=/usr/bin:/bin\nLANG=C\n");
}

TEST(Subprocess, NoDescriptorOfOursReachesTheChild) {
    mpp::Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    mpp::Fd leak(::fcntl(null.get(), F_DUPFD, 20));  // F_DUPFD: without FD_CLOEXEC
    ASSERT_GE(leak.get(), 20);
    // ls lists its own directory descriptor (3) too.
    auto r = run(opts({"/bin/ls", "-1", "/proc/self/fd"}));
    EXPECT_EQ(r.end, Result::End::exited);
    EXPECT_EQ(r.output, "0\n1\n2\n3\n");
}

TEST(Subprocess, TimeoutKillsTheProcessGroupAndReaps) {
    TempDir d("mpp-proc");
    // The script ignores SIGTERM, and so does the child it leaves in the background (a shell
    // passes ignored signals on): only the SIGKILL after the grace ends them.
    Options o = opts({script(d / "s", "trap '' TERM\nsleep 30 &\necho $! > '" + d.path +
                                          "/child'\necho $$ > '" + d.path + "/pid'\nwait\n")},
                     300ms);
    o.term_grace = 200ms;
    auto start = Clock::now();
    auto r = run(o);
    auto took = Clock::now() - start;
    EXPECT_EQ(r.end, Result::End::timeout);
    EXPECT_GE(took, 500ms);
    EXPECT_LT(took, 2s);
    pid_t child = read_pid(d / "child");
    ASSERT_GT(child, 0);
    EXPECT_EQ(read_pid(d / "pid"), r.pid);
    EXPECT_TRUE(gone(r.pid));
    EXPECT_TRUE(gone(child));
}

TEST(Subprocess, SigtermFirstWhenThereIsAGrace) {
    TempDir d("mpp-proc");
    Options o = opts({script(d / "s", "trap 'echo got TERM; exit 0' TERM\necho ready\n"
                                      "sleep 30 & wait\n")},
                     300ms);
    o.term_grace = 5s;
    auto start = Clock::now();
    auto r = run(o);
    EXPECT_LT(Clock::now() - start, 3s);  // it ended on SIGTERM, long before the grace
    EXPECT_EQ(r.end, Result::End::timeout);
    EXPECT_EQ(r.output, "ready\ngot TERM\n");
}

TEST(Subprocess, WhatAProgramLeavesBehind) {
    TempDir d("mpp-proc");
    std::string s = script(d / "s", "sleep 30 &\necho $! > \"$1\"\necho done\n");
    for (bool kill_group : {true, false}) {
        std::string pidfile = d / (kill_group ? "killed" : "kept");
        Options o = opts({s, pidfile});
        o.kill_group_on_exit = kill_group;
        auto start = Clock::now();
        auto r = run(o);
        // The sleep holds the output pipe open: run() must not wait for it.
        EXPECT_LT(Clock::now() - start, 3s);
        EXPECT_EQ(r.end, Result::End::exited);
        EXPECT_EQ(r.output, "done\n");
        pid_t left = read_pid(pidfile);
        ASSERT_GT(left, 0);
        if (kill_group) {
            EXPECT_TRUE(gone(left));
        } else {
            EXPECT_EQ(::kill(left, 0), 0) << "without kill_group_on_exit it keeps running";
            ::kill(left, SIGKILL);
        }
    }
}

TEST(Subprocess, CancelStopsIt) {
    std::atomic<bool> cancel{false};
    Options o = opts({"/bin/sleep", "30"});
    o.cancel = &cancel;
    std::thread t([&] {
        std::this_thread::sleep_for(100ms);
        cancel = true;
    });
    auto start = Clock::now();
    auto r = run(o);
    t.join();
    EXPECT_EQ(r.end, Result::End::cancelled);
    EXPECT_LT(Clock::now() - start, 2s);
    EXPECT_TRUE(gone(r.pid));
}

TEST(Subprocess, NothingRunsWithoutAnAbsoluteExistingPathOrTime) {
    auto r = run(opts({"/nonexistent/scanner"}));
    EXPECT_EQ(r.end, Result::End::spawn_failed);
    EXPECT_EQ(r.error, "No such file or directory");
    EXPECT_EQ(r.pid, -1);
    r = run(opts({"sh", "-c", "true"}));
    EXPECT_EQ(r.end, Result::End::spawn_failed);
    EXPECT_EQ(r.error, "not an absolute path");
    r = run(opts({}));
    EXPECT_EQ(r.end, Result::End::spawn_failed);
    Options o = opts({"/bin/true"});
    o.deadline = Clock::now() - 1ms;
    r = run(o);
    EXPECT_EQ(r.end, Result::End::timeout);
    EXPECT_EQ(r.pid, -1);
}

TEST(Subprocess, Texts) {
    using mpp::proc::duration_text;
    using mpp::proc::first_line;
    EXPECT_EQ(first_line("\n\n  Found: Eicar\r\nnext"), "Found: Eicar");
    EXPECT_EQ(first_line(std::string("a\0b\x7f\xc3\xa9", 6)), "a?b???");
    EXPECT_EQ(first_line("abcdef", 3), "abc...");
    EXPECT_EQ(first_line(" \r\n\t"), "");
    EXPECT_EQ(duration_text(30s), "30s");
    EXPECT_EQ(duration_text(300ms), "300ms");
    EXPECT_EQ(duration_text(1500ms), "1500ms");
    EXPECT_EQ(duration_text(29999ms), "30s");
}

}  // namespace
