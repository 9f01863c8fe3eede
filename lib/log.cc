// lib/log.cc: the process-wide logger behind lib/log.h: syslog, a log file with rotation, stderr.
//
// State: one Logger (a function-local static); its outputs and Options are guarded by one mutex,
// so a line is written whole by a single write() per output and lines never interleave. The
// level is also kept in an atomic so that enabled() takes no lock. Until configure() is called,
// lines go to standard error.
// Text: control characters other than tab (bytes below 0x20 and 0x7f) become "\xNN"; other bytes,
// UTF-8 included, pass unchanged (a backslash is not escaped). Text longer than 4096 bytes after
// escaping is cut to at most 4093 bytes, never inside an escape or a UTF-8 sequence, plus "...".
// Rotation (regular files only; a device or pipe is never renamed): FILE.N is dropped, FILE.i
// becomes FILE.i+1, FILE becomes FILE.1 and a new FILE is opened (rotate_keep 0: FILE is just
// removed). By size: before a write that would take the file past rotate_size (a first line
// bigger than the limit is still written). By time: on the first write rotate_every after the
// file was opened or rotated. rotate(): now; but when FILE is no longer the file we hold (moved
// away by an outside tool), it is only reopened. A failed rename is reported and rotation by
// size or time is not retried for a minute.
// Failures: a failed open or write of the file never throws or blocks beyond the write() call:
// the line still goes to syslog/stderr, and one notice ("log file FILE: write failed: ...",
// "log file FILE: open failed: ...", then "log file FILE: writing again") goes to syslog and
// stderr per change of state. A file that could not be opened is retried at most once a second.
#include "lib/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <list>
#include <mutex>

#include "lib/fd.h"
#include "lib/utf8.h"

namespace mpp::log {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxText = 4096;
constexpr auto kReopenDelay = std::chrono::seconds(1);
constexpr auto kRotateRetryDelay = std::chrono::seconds(60);

constexpr std::string_view kLevelNames[] = {"debug", "info", "notice", "warning", "error", "crit"};
constexpr int kPriorities[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR, LOG_CRIT};

struct Facility {
    std::string_view name;
    int value;
};
constexpr Facility kFacilities[] = {
    {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};
constexpr int kNoSyslog = -1, kUnknownFacility = -2;

int priority(Level level) {
    const int i = static_cast<int>(level);
    return i >= 0 && i < 6 ? kPriorities[i] : LOG_CRIT;
}

int facility_value(std::string_view name) {
    if (name.empty() || name == "none") return kNoSyslog;
    for (const auto& f : kFacilities)
        if (f.name == name) return f.value;
    return kUnknownFacility;
}

// Escapes control characters and cuts the text to kMaxText bytes (see the top of this file).
std::string clean(std::string_view text) {
    std::string out;
    out.reserve(std::min(text.size(), kMaxText) + 4);
    std::size_t fit = 0;  // longest piece-aligned prefix that leaves room for "..."
    bool stopped = false;
    for (char ch : text) {
        if (out.size() > kMaxText) {
            stopped = true;
            break;
        }
        if (out.size() <= kMaxText - 3) fit = out.size();
        unsigned char c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\x%02X", c);
            out += esc;
        } else {
            out += ch;
        }
    }
    if (!stopped && out.size() <= kMaxText) return out;
    out = cut_utf8(std::move(out), fit);
    out += "...";
    return out;
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (n == 0) {
            errno = EIO;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::string short_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
    std::string h(buf);
    if (auto dot = h.find('.'); dot != std::string::npos && dot > 0) h.resize(dot);
    return h;
}

class Logger {
public:
    static Logger& get() {
        static Logger logger;
        return logger;
    }

    std::atomic<int> min_level{static_cast<int>(Level::info)};

    void configure(const Options& o) {
        std::lock_guard lock(mu_);
        const bool same_file = o.file == opts_.file && file_;
        const int fac = facility_value(o.syslog_facility);
        const int want = fac == kUnknownFacility ? LOG_MAIL : fac;
        if (syslog_open_ && (want == kNoSyslog || want != facility_ || o.ident != *ident_)) {
            ::closelog();
            syslog_open_ = false;
        }
        opts_ = o;
        min_level.store(static_cast<int>(o.level), std::memory_order_relaxed);
        host_ = short_hostname();
        if (want != kNoSyslog && !syslog_open_) {
            // openlog() keeps the pointer: every ident ever used stays alive (there are few).
            ident_ = nullptr;
            for (const auto& i : idents_)
                if (i == o.ident) ident_ = &i;
            if (!ident_) ident_ = &idents_.emplace_back(o.ident);
            ::openlog(ident_->c_str(), LOG_PID | LOG_NDELAY, want);
            syslog_open_ = true;
            facility_ = want;
        }
        if (fac == kUnknownFacility)
            notice_locked(LOG_WARNING,
                          "unknown syslog facility \"" + o.syslog_facility + "\", using mail");
        if (!same_file) {
            file_.reset();
            failing_ = false;
            next_open_ = next_rotate_ = Clock::time_point{};
            if (!opts_.file.empty()) open_file_locked();
        }
    }

    // rotate(): rotate now unless logrotate already moved the file (then just reopen);
    // reopen(): only that reopening.
    void rotate(bool reopen_only) {
        std::lock_guard lock(mu_);
        if (opts_.file.empty()) return;
        if (file_ && moved_away_locked()) {
            open_file_locked();
            return;
        }
        if (reopen_only) return;
        next_rotate_ = Clock::time_point{};
        rotate_locked();
    }

    void write(Level level, std::string_view raw) {
        const std::string text = severity_prefix(level) + clean(raw);
        std::lock_guard lock(mu_);
        if (syslog_open_) ::syslog(priority(level), "%s", text.c_str());
        if (opts_.file.empty() && !opts_.to_stderr) return;
        const std::string line = prefix_locked() + text + "\n";
        if (!opts_.file.empty()) write_file_locked(line);
        if (opts_.to_stderr) write_all(STDERR_FILENO, line);
    }

private:
    // Postfix style: informational lines carry no word, the others say what they are.
    static std::string severity_prefix(Level level) {
        switch (level) {
        case Level::debug: return "debug: ";
        case Level::warning: return "warning: ";
        case Level::error: return "error: ";
        case Level::crit: return "fatal: ";
        default: return "";
        }
    }

    Logger() {
        opts_.to_stderr = true;
        host_ = short_hostname();
    }

    std::string prefix_locked() const {
        static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        std::time_t now = std::time(nullptr);
        std::tm tm{};
        ::localtime_r(&now, &tm);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s %2d %02d:%02d:%02d ", kMonths[tm.tm_mon % 12],
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        return cat(buf, host_, " ", opts_.ident, "[", ::getpid(), "]: ");
    }

    // A notice about the logger itself: to syslog and stderr, never to the file.
    void notice_locked(int priority, const std::string& text) {
        if (syslog_open_) ::syslog(priority, "%s", text.c_str());
        if (opts_.to_stderr) write_all(STDERR_FILENO, prefix_locked() + text + "\n");
    }

    void file_failed_locked(const char* what, int err) {
        if (failing_) return;
        failing_ = true;
        notice_locked(LOG_ERR, cat("log file ", opts_.file, ": ", what, ": ", std::strerror(err)));
    }

    void open_file_locked() {
        file_.reset(
            ::open(opts_.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640));
        opened_ = Clock::now();
        if (!file_) {
            file_failed_locked("open failed", errno);
            next_open_ = opened_ + kReopenDelay;
            return;
        }
        struct stat st {};
        if (::fstat(file_.get(), &st) == 0) {
            file_size_ = static_cast<std::uint64_t>(st.st_size);
            regular_ = S_ISREG(st.st_mode);
        } else {
            file_size_ = 0;
            regular_ = false;
        }
    }

    // True when the path no longer names the file we hold (renamed or removed by someone else).
    bool moved_away_locked() const {
        struct stat held {
        }, named{};
        if (::fstat(file_.get(), &held) != 0) return false;
        if (::stat(opts_.file.c_str(), &named) != 0) return true;
        return held.st_dev != named.st_dev || held.st_ino != named.st_ino;
    }

    void rename_report_locked(const std::string& from, const std::string& to, bool& ok) {
        if (::rename(from.c_str(), to.c_str()) == 0 || errno == ENOENT) return;
        ok = false;
        notice_locked(LOG_ERR, cat("log file ", opts_.file, ": rotation: cannot rename ", from,
                                   " to ", to, ": ", std::strerror(errno)));
    }

    void rotate_locked() {
        const std::string& path = opts_.file;
        struct stat st {};
        const bool exists = ::stat(path.c_str(), &st) == 0;
        if (exists && !S_ISREG(st.st_mode)) {  // a device or pipe: reopen only
            open_file_locked();
            return;
        }
        file_.reset();
        bool ok = true;
        if (exists) {
            const unsigned keep = opts_.rotate_keep;
            const std::string oldest = keep == 0 ? path : cat(path, ".", keep);
            if (::unlink(oldest.c_str()) != 0 && errno != ENOENT) {
                ok = false;
                notice_locked(LOG_ERR, cat("log file ", path, ": rotation: cannot remove ", oldest,
                                           ": ", std::strerror(errno)));
            }
            for (unsigned i = keep; i > 1; --i)
                rename_report_locked(cat(path, ".", i - 1), cat(path, ".", i), ok);
            if (keep > 0) rename_report_locked(path, path + ".1", ok);
        }
        if (!ok) next_rotate_ = Clock::now() + kRotateRetryDelay;
        open_file_locked();
    }

    void write_file_locked(const std::string& line) {
        const auto now = Clock::now();
        if (!file_) {
            if (now < next_open_) return;
            open_file_locked();
            if (!file_) return;
        }
        if (regular_ && now >= next_rotate_) {
            const bool by_size = opts_.rotate_size > 0 && file_size_ > 0 &&
                                 file_size_ + line.size() > opts_.rotate_size;
            const bool by_time =
                opts_.rotate_every.count() > 0 && now - opened_ >= opts_.rotate_every;
            if (by_size || by_time) {
                rotate_locked();
                if (!file_) return;
            }
        }
        if (write_all(file_.get(), line)) {
            file_size_ += line.size();
            if (failing_) {
                failing_ = false;
                notice_locked(LOG_NOTICE, cat("log file ", opts_.file, ": writing again"));
            }
            return;
        }
        const int err = errno;
        struct stat st {};
        if (::fstat(file_.get(), &st) == 0) file_size_ = static_cast<std::uint64_t>(st.st_size);
        file_failed_locked("write failed", err);
    }

    std::mutex mu_;
    Options opts_;
    std::string host_;
    std::list<std::string> idents_;  // every ident handed to openlog()
    const std::string* ident_ = nullptr;
    bool syslog_open_ = false;
    int facility_ = LOG_MAIL;
    Fd file_;
    std::uint64_t file_size_ = 0;
    bool regular_ = false;
    bool failing_ = false;
    Clock::time_point opened_;       // when the file was opened or rotated
    Clock::time_point next_open_;    // no open attempt before this after a failure
    Clock::time_point next_rotate_;  // no size/time rotation before this after a failure
};

}  // namespace

bool parse_level(std::string_view name, Level& out) {
    for (int i = 0; i < 6; ++i) {
        if (kLevelNames[i] == name) {
            out = static_cast<Level>(i);
            return true;
        }
    }
    return false;
}

std::string_view level_name(Level level) {
    int i = static_cast<int>(level);
    return i >= 0 && i < 6 ? kLevelNames[i] : "unknown";
}

bool valid_facility(std::string_view name) {
    return facility_value(name) != kUnknownFacility;
}

void configure(const Options& o) {
    Logger::get().configure(o);
}

void rotate() {
    Logger::get().rotate(false);
}

void reopen() {
    Logger::get().rotate(true);
}

bool enabled(Level level) {
    return static_cast<int>(level) >= Logger::get().min_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view text) {
    if (!enabled(level)) return;
    Logger::get().write(level, text);
}

void write_qid(Level level, std::string_view queue_id, std::string_view text) {
    if (!enabled(level)) return;
    Logger::get().write(level,
                        cat(queue_id.empty() ? std::string_view("NOQUEUE") : queue_id, ": ", text));
}

}  // namespace mpp::log
