// lib/mail_submit.h: hands one mail message (envelope sender, recipients, RFC 5322 text) to the
// MTA, synchronously: alert mail today, released quarantine later.
//
// Two ways, both bounded by a deadline and cancellable from another thread:
//   - submit_sendmail(): lib/subprocess runs (posix_spawn: execve of an argument vector, no
//     shell, no PATH search) a sendmail-compatible program as
//     `PROGRAM -i -f SENDER -- RCPT...`, the message on its
//     standard input (with LF line ends), its standard output to /dev/null, its standard error
//     kept (first 4 KiB) for the error text. The child gets the default signal dispositions and
//     an empty signal mask (the caller's thread may block all), and no descriptor of ours but
//     0-2. Past the timeout (or on cancel) the child is killed with SIGKILL and reaped.
//     Success: exit status 0 after it read the whole message.
//   - submit_smtp(): SMTP to a relay ("HOST:PORT", "[V6]:PORT" or "unix:/path") with libcurl:
//     EHLO, MAIL FROM, RCPT TO per recipient, DATA (libcurl dot-stuffs; the text is sent with
//     CRLF line ends). Connect timeout and a total timeout; no TLS, no authentication (a relay on
//     the local network or the local MTA). Success: the relay accepted the message (250 after
//     DATA); a refused recipient fails the whole submission.
// Threads: any thread; nothing is shared between calls. The first SMTP call initialises libcurl
// once (curl_global_init, thread-safe).
// Failures: never throws for a bad address, a failing program or relay; the Result says what
// happened in one line for a log: "sendmail /usr/sbin/sendmail: exit status 75: TEXT",
// "sendmail /x: timed out after 30s (killed)", "smtp 127.0.0.1:25: ...: 554 5.7.1 TEXT".
// Addresses are checked first (no CR, LF, NUL, '<' or '>'; at least one recipient; a recipient
// not empty); the sender "" is the null sender (<>).
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace mpp::mail {

struct Message {
    std::string sender;                   // envelope sender; "": the null sender <>
    std::vector<std::string> recipients;  // envelope recipients, at least one
    std::string text;                     // header and body, LF or CRLF line ends
};

struct Result {
    std::string error;  // empty: submitted
    bool ok() const { return error.empty(); }
};

struct SendmailOptions {
    std::string program = "/usr/sbin/sendmail";  // absolute path
    std::chrono::milliseconds timeout{30000};    // the whole run: start, write, exit
    const std::atomic<bool>* cancel = nullptr;   // when it turns true: kill, "cancelled"
};

struct SmtpOptions {
    std::string relay;                                  // HOST:PORT, [V6]:PORT, unix:/path
    std::string helo;                                   // EHLO name; "": the host name
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds timeout{60000};           // the whole session
    const std::atomic<bool>* cancel = nullptr;          // when it turns true: abort, "cancelled"
};

// The argument vector submit_sendmail() runs (for logs and tests).
std::vector<std::string> sendmail_argv(const Message&, const std::string& program);

// Empty when sender and recipients are acceptable, else why not.
std::string check_envelope(const Message&);

Result submit_sendmail(const Message&, const SendmailOptions&);
Result submit_smtp(const Message&, const SmtpOptions&);

}  // namespace mpp::mail
