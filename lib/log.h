// lib/log.h: mppd's logger: syslog and/or a log file (with rotation) and/or standard error.
//
// State: one process-wide logger (one of the three allowed globals, set up in main); every
// function here is thread-safe and may be called from libmilter workers and event loops alike.
// Format: one line per event, Postfix style. To syslog the text goes as is (syslog adds
// "mppd[pid]: "); to the file and stderr a line is "Mon DD HH:MM:SS host mppd[pid]: text".
// Lines about a message start with its queue id: "4XyZ1: client=... action=reject". As in
// Postfix, a line of level warning, error or crit starts with "warning: ", "error: " or
// "fatal: " (debug with "debug: "); info and notice lines carry no such word.
// Limits: the text of a line is cut at 4 KiB (ending in "..."); control characters other than
// tab are escaped as \xNN. Rotation, by size, by time or on demand, keeps rotate_keep old files.
// Failures: a log file that can't be written (disk full, removed dir) never blocks or fails the
// caller: the line still goes to syslog/stderr, and one "log file write failed" notice goes there
// per state change.
#pragma once

#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

namespace mpp::log {

enum class Level : int { debug = 0, info, notice, warning, error, crit };

// "debug" "info" "notice" "warning" "error" "crit" -> Level; false when unknown.
bool parse_level(std::string_view name, Level& out);
std::string_view level_name(Level);

struct Options {
    std::string ident = "mppd";
    bool to_stderr = false;           // -f: foreground
    std::string syslog_facility;      // "" or "none": no syslog; else mail, daemon, local0..local7
    std::string file;                 // "": no file
    std::uint64_t rotate_size = 0;    // bytes; 0: never by size
    std::chrono::seconds rotate_every{0};  // 0: never by time
    unsigned rotate_keep = 7;         // file.1 .. file.N kept
    Level level = Level::info;
};

// Whether configure() knows this syslog facility ("" and "none", meaning no syslog, included);
// for config validation. configure() itself falls back to "mail" (with a warning) on others.
bool valid_facility(std::string_view name);

// Replaces the logger's outputs; safe while other threads log. Before the first call, lines go
// to standard error. The file is kept open when its name does not change.
void configure(const Options&);

// Rotates the log file now (on reload): file -> file.1 -> ... -> file.N, then reopen. When the
// file was already moved away by an outside tool (logrotate), it is only reopened.
void rotate();
// Reopens the log file when an outside tool (logrotate) moved it away; else does nothing.
void reopen();

bool enabled(Level);
void write(Level, std::string_view text);
// A line about one message: "QUEUEID: text" (queue id "NOQUEUE" when empty, like Postfix).
void write_qid(Level, std::string_view queue_id, std::string_view text);

// Concatenates anything streamable: log::info(cat("client=", host, "[", ip, "]")).
template <typename... Args>
std::string cat(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

inline void debug(std::string_view t) { if (enabled(Level::debug)) write(Level::debug, t); }
inline void info(std::string_view t) { write(Level::info, t); }
inline void notice(std::string_view t) { write(Level::notice, t); }
inline void warning(std::string_view t) { write(Level::warning, t); }
inline void error(std::string_view t) { write(Level::error, t); }
inline void crit(std::string_view t) { write(Level::crit, t); }

}  // namespace mpp::log
