// lib/subprocess.h: runs one program and waits for it, bounded by a deadline: the sendmail
// program of alert mail (lib/mail_submit) and command-line virus scanners (engines/).
//
// Start: posix_spawn, that is execve of an absolute path with an argument vector: no shell, no
// PATH search. glibc's posix_spawn runs the child with vfork semantics and allocates nothing
// between the fork and the exec, so any thread of a threaded daemon may call run(). The child
// gets: an empty signal mask and default dispositions (the calling thread may block all and
// the daemon ignore SIGPIPE); a process group of its own (its pid), so that a shell script's
// children are signalled with it; no descriptor of ours but 0-2 (closefrom in the child);
// the environment given, or the caller's.
// Standard input: /dev/null, or a socket fed from Options::input while the output is read
// (one poll() loop), so a child that writes a lot before it reads never deadlocks us; a child
// that stops reading gives EPIPE (MSG_NOSIGNAL), never SIGPIPE. Standard output: /dev/null with
// standard error kept, or both kept together as they interleave. At most max_output bytes are
// kept; the rest is read and thrown away, so the child never blocks on a full pipe.
// Stop: at the deadline or on cancel, the process group gets SIGTERM, and SIGKILL after
// term_grace if the program has not exited by then (term_grace 0: SIGKILL at once); so run()
// returns up to term_grace after the deadline. With kill_group_on_exit, what the program left
// running in its group when it exited gets SIGKILL too. The group is signalled before the
// program is reaped, so its id cannot have been reused by then. The program is always reaped:
// no zombie is left behind.
// Threads: any thread; nothing is shared between calls.
// Failures: never throws for a failing program; Result::end says how it ended, error the
// system's reason for spawn_failed and wait_failed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace mpp::proc {

enum class Output {
    stderr_only,  // standard output to /dev/null, standard error kept
    combined,     // standard output and standard error kept together
};

struct Options {
    std::vector<std::string> argv;  // argv[0] is the program: an absolute path
    // "NAME=value" each; nullopt: the caller's environment.
    std::optional<std::vector<std::string>> env;
    // Standard input. Null: /dev/null. Else it is asked for more whenever the child can take
    // some: it puts up to `n` bytes into `buf` and returns how many; 0 at the end (the child
    // then reads end of file); a negative value stops the run (Result::End::input_failed).
    std::function<long(char* buf, std::size_t n)> input;
    Output output = Output::combined;
    std::size_t max_output = 64 * 1024;  // bytes of output kept
    std::chrono::steady_clock::time_point deadline;
    std::chrono::milliseconds term_grace{0};  // SIGTERM, then SIGKILL this much later
    const std::atomic<bool>* cancel = nullptr;  // when it turns true: stop (polled, 50 ms)
    bool kill_group_on_exit = false;
};

struct Result {
    enum class End {
        exited,        // exit_code
        signaled,      // signal: killed by a signal that we did not send
        timeout,       // stopped at the deadline (or the deadline had passed: nothing run)
        cancelled,     // stopped because *cancel turned true
        input_failed,  // stopped because Options::input failed
        spawn_failed,  // not started: error says why ("No such file or directory")
        wait_failed,   // waitpid failed (SIGCHLD ignored by the process): error; killed
    };
    End end = End::spawn_failed;
    int exit_code = -1;
    int signal = 0;
    std::string error;
    pid_t pid = -1;                  // the program's pid (reaped), -1 when none ran
    std::string output;              // the first max_output bytes of what it wrote
    std::uint64_t output_bytes = 0;  // all it wrote, kept or not
    std::uint64_t input_bytes = 0;   // bytes of input written to it (some maybe never read)
    bool input_complete = false;     // all of the input was written (or it was /dev/null)
};

Result run(const Options&);

// For error texts: the first non-empty line of a program's output (or a server reply),
// printable ASCII only (anything else becomes '?'), cut to `max` bytes followed by "...".
std::string first_line(std::string_view text, std::size_t max = 200);

// For error texts: "30s" for whole seconds, else "300ms" (under 10 s) or "12s" (rounded).
std::string duration_text(std::chrono::milliseconds);

}  // namespace mpp::proc
