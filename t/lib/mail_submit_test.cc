// t/lib/mail_submit_test.cc: message submission against real programs and sockets: a
// sendmail-compatible shell script written into a temp dir records its argument vector, its
// standard input and its signal mask; scripts that fail, hang, stop reading or are missing give
// the error they should, and a hung one is killed and reaped within the timeout. SMTP: a refused
// connection, a server that never greets (timeout) and a relay without a host. (The SMTP
// conversation itself is tested end to end against a real SMTP server in
// t/integration/policy_alerts.py.)
#include "lib/mail_submit.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "lib/fd.h"
#include "t/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using mpp::Fd;
using mpp::mail::Message;
using mpp::mail::SendmailOptions;
using mpp::mail::SmtpOptions;
using mpp::mail::submit_sendmail;
using mpp::mail::submit_smtp;

using mpp::testing::TempDir;

// The file's contents.
std::string read(const std::string& path) { return mpp::testing::read_file(path); }

// An executable /bin/sh script at `path`.
std::string script(const std::string& path, const std::string& body) {
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << "#!/bin/sh\n" << body;
    }
    ::chmod(path.c_str(), 0755);
    return path;
}

// A sendmail that records its arguments (one a line) and its standard input in DIR.
std::string recorder(const TempDir& d) {
    return script(d / "sendmail",
                  "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > '" + d.path + "/argv'\n"
                  "cat > '" + d.path + "/stdin'\n");
}

Message message() {
    Message m;
    m.sender = "alerts@example.org";
    m.recipients = {"a@example.net", "-b@example.net"};
    m.text = "From: alerts@example.org\r\nSubject: test\r\n\r\nline one\r\n.\r\nlast\r\n";
    return m;
}

TEST(MailSubmit, SendmailGetsTheArgumentVectorAndTheMessage) {
    TempDir d("mpp-mail");
    SendmailOptions o;
    o.program = recorder(d);
    auto r = submit_sendmail(message(), o);
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(read(d / "argv"),
              "-i\n-f\nalerts@example.org\n--\na@example.net\n-b@example.net\n");
    // CRLF becomes the local LF; a lone dot is data (-i), passed as is.
    EXPECT_EQ(read(d / "stdin"), "From: alerts@example.org\nSubject: test\n\nline one\n.\nlast\n");
}

TEST(MailSubmit, NullSenderIsAngleBrackets) {
    TempDir d("mpp-mail");
    Message m = message();
    m.sender = "";
    SendmailOptions o;
    o.program = recorder(d);
    ASSERT_TRUE(submit_sendmail(m, o).ok());
    EXPECT_EQ(read(d / "argv").substr(0, 9), "-i\n-f\n<>\n");
    EXPECT_EQ(mpp::mail::sendmail_argv(m, "/x")[3], "<>");
}

TEST(MailSubmit, FailingExitStatusAndItsFirstStderrLine) {
    TempDir d("mpp-mail");
    SendmailOptions o;
    o.program = script(d / "sendmail", "cat >/dev/null\n"
                                       "echo '' >&2\n"
                                       "echo 'sendmail: fatal: no such user' >&2\n"
                                       "echo 'second line' >&2\nexit 67\n");
    auto r = submit_sendmail(message(), o);
    EXPECT_EQ(r.error, "sendmail " + o.program + ": exit status 67: sendmail: fatal: no such user");
}

TEST(MailSubmit, KilledBySignal) {
    TempDir d("mpp-mail");
    SendmailOptions o;
    o.program = script(d / "sendmail", "cat >/dev/null\nkill -TERM $$\n");
    auto r = submit_sendmail(message(), o);
    EXPECT_NE(r.error.find("killed by signal 15"), std::string::npos) << r.error;
}

TEST(MailSubmit, HungProgramIsKilledAndReapedAtTheTimeout) {
    TempDir d("mpp-mail");
    SendmailOptions o;
    o.program = script(d / "sendmail", "echo $$ > '" + d.path + "/pid'\nexec sleep 30\n");
    o.timeout = 400ms;
    auto start = std::chrono::steady_clock::now();
    auto r = submit_sendmail(message(), o);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.error, "sendmail " + o.program + ": timed out after 400ms (killed)");
    EXPECT_GE(took, 400ms);
    EXPECT_LT(took, 3s);
    pid_t pid = std::atoi(read(d / "pid").c_str());
    ASSERT_GT(pid, 0);
    // Reaped, not a zombie: the pid is gone.
    EXPECT_EQ(::kill(pid, 0), -1);
    EXPECT_EQ(errno, ESRCH);
}

TEST(MailSubmit, CancelStopsARunningProgram) {
    TempDir d("mpp-mail");
    SendmailOptions o;
    o.program = script(d / "sendmail", "exec sleep 30\n");
    std::atomic<bool> cancel{false};
    o.cancel = &cancel;
    std::thread t([&] {
        std::this_thread::sleep_for(100ms);
        cancel = true;
    });
    auto start = std::chrono::steady_clock::now();
    auto r = submit_sendmail(message(), o);
    t.join();
    EXPECT_NE(r.error.find("cancelled (killed)"), std::string::npos) << r.error;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(MailSubmit, MissingProgram) {
    SendmailOptions o;
    o.program = "/nonexistent/dir/sendmail";
    auto r = submit_sendmail(message(), o);
    EXPECT_EQ(r.error, "sendmail /nonexistent/dir/sendmail: cannot run: No such file or directory");
    o.program = "sendmail";
    EXPECT_EQ(submit_sendmail(message(), o).error, "sendmail sendmail: not an absolute path");
}

TEST(MailSubmit, ProgramThatStopsReadingFails) {
    TempDir d("mpp-mail");
    SendmailOptions o;
    o.program = script(d / "sendmail", "exit 0\n");
    Message m = message();
    m.text += std::string(4 << 20, 'x');  // far more than a socket buffer
    auto r = submit_sendmail(m, o);
    EXPECT_NE(r.error.find("exited before reading the whole message"), std::string::npos)
        << r.error;
}

// The value of a hex mask line ("SigBlk:\t...") of /proc/PID/status as recorded.
unsigned long long mask(const std::string& status, const std::string& name) {
    auto pos = status.find(name + ":\t");
    if (pos == std::string::npos) return ~0ULL;
    return std::stoull(status.substr(pos + name.size() + 2, 16), nullptr, 16);
}

TEST(MailSubmit, ChildGetsDefaultSignalsWhenTheCallerBlocksAndIgnores) {
    TempDir d("mpp-mail");
    SendmailOptions o;
    // perl (essential on Debian) keeps the mask and SIGPIPE as it got them; a shell would not.
    o.program = d / "sendmail";
    {
        std::ofstream out(o.program);
        out << "#!/usr/bin/perl\n"
               "open(my $in, '<', '/proc/self/status') or die;\n"
               "open(my $out, '>', '" << d.path << "/sig') or die;\n"
               "while (<$in>) { print $out $_ if /^Sig(Blk|Ign):/ }\n"
               "local $/; my $msg = <STDIN>;\n";
    }
    ::chmod(o.program.c_str(), 0755);
    // As in mppd: SIGPIPE ignored, and the calling thread blocks every signal.
    struct sigaction ign {}, old {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, &old);
    mpp::mail::Result r;
    std::thread t([&] {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        r = submit_sendmail(message(), o);
    });
    t.join();
    ::sigaction(SIGPIPE, &old, nullptr);
    ASSERT_TRUE(r.ok()) << r.error;
    std::string sig = read(d / "sig");
    EXPECT_EQ(mask(sig, "SigBlk"), 0u) << sig;
    // SIGPIPE is back to its default (perl itself ignores SIGFPE, the C library 32 and 33).
    EXPECT_EQ(mask(sig, "SigIgn") & (1ULL << (SIGPIPE - 1)), 0u) << sig;
}

TEST(MailSubmit, BadEnvelopeRunsNothing) {
    TempDir d("mpp-mail");
    SendmailOptions o;
    o.program = recorder(d);
    Message m = message();
    m.recipients.push_back("x@example.net\r\nRCPT TO:<y@example.net>");
    EXPECT_NE(submit_sendmail(m, o).error.find("bad recipient address"), std::string::npos);
    m.recipients.clear();
    EXPECT_NE(submit_sendmail(m, o).error.find("no recipients"), std::string::npos);
    m = message();
    m.sender = "a>b@example.org";
    EXPECT_NE(submit_sendmail(m, o).error.find("bad sender address"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(d / "argv"));
    SmtpOptions s;
    s.relay = "127.0.0.1:25";
    EXPECT_NE(submit_smtp(m, s).error.find("bad sender address"), std::string::npos);
}

// A TCP socket bound to a free loopback port; listening or not.
struct LoopbackPort {
    Fd fd;
    unsigned port = 0;
    explicit LoopbackPort(bool listen) : fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), len) != 0) return;
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
        if (listen) ::listen(fd.get(), 8);
    }
};

TEST(MailSubmit, SmtpConnectionRefused) {
    unsigned port;
    {
        LoopbackPort p(false);  // bound, never listening: refused
        port = p.port;
        ASSERT_GT(port, 0u);
        SmtpOptions o;
        o.relay = "127.0.0.1:" + std::to_string(port);
        auto r = submit_smtp(message(), o);
        EXPECT_EQ(r.error.rfind("smtp 127.0.0.1:" + std::to_string(port) + ": ", 0), 0u)
            << r.error;
        EXPECT_NE(r.error.find("onnect"), std::string::npos) << r.error;
    }
}

TEST(MailSubmit, SmtpServerThatNeverGreetsTimesOut) {
    LoopbackPort p(true);  // the kernel accepts; nobody ever says 220
    ASSERT_GT(p.port, 0u);
    SmtpOptions o;
    o.relay = "127.0.0.1:" + std::to_string(p.port);
    o.connect_timeout = 300ms;
    o.timeout = 500ms;
    auto start = std::chrono::steady_clock::now();
    auto r = submit_smtp(message(), o);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_NE(r.error.find("timed out (connect 300ms, total 500ms)"), std::string::npos)
        << r.error;
}

TEST(MailSubmit, SmtpRelayNeedsAHost) {
    SmtpOptions o;
    o.relay = "*:25";
    EXPECT_EQ(submit_smtp(message(), o).error, "smtp *:25: the relay needs a host");
    o.relay = "not a relay";
    EXPECT_EQ(submit_smtp(message(), o).error.rfind("smtp not a relay: ", 0), 0u);
}

}  // namespace
