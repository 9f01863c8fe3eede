// engines/command_scanner.h: a command-line virus scanner (<command>, e.g. McAfee's uvscan):
// the message handed to a program run without a shell, its exit code read as the verdict.
//
// Owns: a copy of its <command> config and the directory for message files; no per-call state,
// so scan() runs on several libmilter worker threads at once.
// Input: input="file": the message is streamed from the reader (never whole in memory) into a
// new file DIR/scan-XXXXXX.eml (mkostemps: O_EXCL, mode 0600, so only mppd's user and root can
// read it; a scanner that runs as another user needs input="stdin"), with the reader's CRLF line
// ends, and %FILE% in the <arg> templates becomes its path ("%%" a '%'). The file is removed when
// scan() returns, on every path. input="stdin": the message is written to the program's standard
// input while its output is read (lib/subprocess.h), so a program that writes before it reads
// cannot deadlock it; a program that exits before reading it all is judged by its exit code.
// Running: execve of cfg.path with argv[0] = cfg.path and the expanded arguments (lib/subprocess:
// posix_spawn, safe in a threaded process), the environment PATH=/usr/bin:/bin and LANG=C only,
// standard input /dev/null for input="file", standard output and standard error kept together
// (the first kMaxOutput bytes; the rest is read and discarded), no other descriptor of ours, its
// own process group. When the program exits, what it left running in that group is killed.
// Deadline: at the engine's deadline the process group gets SIGTERM, and SIGKILL kill_grace
// later if it has not exited; so scan() returns at most kill_grace after the deadline. The
// program is always reaped. Writing the message file counts against the deadline too.
// Result: an exit code in clean-exit: clean. In virus-exit: virus, detail the first capture of
// virus-name over the output (printable ASCII, cut to kMaxDetail bytes; "unknown" when it does
// not match or hits a PCRE2 limit: a warning and the regex-limit-hits metric); without
// virus-name, the first non-empty output line, or "unknown" without output.
// Failures (status error; detail): "timeout after 30s"; "exit code N: FIRST OUTPUT LINE" (any
// other exit code); "killed by signal N"; "cannot run PATH: REASON"; "reading the message:
// REASON"; "message larger than max-size (N bytes)" (cfg.max_size 0: no bound); a temp file
// that cannot be created or written (disk full): "temp file DIR/scan-...: REASON". Nothing else
// is logged here: the caller logs the result.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "engines/scanner.h"
#include "lib/config_types.h"
#include "lib/regex.h"

namespace mpp::engines {

struct CommandOptions {
    std::chrono::milliseconds kill_grace{1000};  // from SIGTERM to SIGKILL
    MatchLimits regex;                           // for virus-name (<limits>)
};

class CommandEngine final : public Engine {
public:
    static constexpr std::size_t kChunk = 64 * 1024;      // bytes of message per read
    static constexpr std::size_t kMaxOutput = 64 * 1024;  // bytes of the program's output kept
    static constexpr std::size_t kMaxDetail = 200;        // bytes of a virus name or error line

    // `temp_dir`: where input="file" writes message files; a directory of mppd's own.
    CommandEngine(config::CommandCfg cfg, std::string temp_dir, CommandOptions opts = {})
        : cfg_(std::move(cfg)), temp_dir_(std::move(temp_dir)), opts_(opts) {}

    const std::string& name() const override { return cfg_.name; }
    EngineResult scan(const ScanMessage& msg, Deadline deadline) override;

    // The argument vector run for a message file at `file` ("" for input="stdin"):
    // cfg.path, then each <arg> expanded.
    std::vector<std::string> argv(const std::string& file) const;

    const config::CommandCfg& config() const { return cfg_; }
    const std::string& temp_dir() const { return temp_dir_; }

    // Removes message files (scan-*.eml) left in `dir` by a process that died mid-scan; for
    // start-up, before any scan runs. Returns how many were removed.
    static int remove_stale_files(const std::string& dir);

private:
    config::CommandCfg cfg_;
    std::string temp_dir_;
    CommandOptions opts_;
};

}  // namespace mpp::engines
