// store/tracking_log.cc: the local message-tracking log (see tracking_log.h).
#include "store/tracking_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/units.h"
#include "store/spool_format.h"

namespace mpp::store {
namespace {

std::string v(std::string_view s) { return escape(s, " "); }

Fd open_log(const std::string& path) {
    return Fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
}

}  // namespace

std::string tracking_line(const TrackingRecord& r, bool full) {
    std::string groups = r.groups;
    for (char& c : groups)
        if (c == ' ') c = ',';
    std::string l =
        format_utc(std::chrono::system_clock::time_point(std::chrono::seconds(r.received))) +
        " uuid=" + v(r.uuid) + " qid=" + v(r.queue_id) + " msgid=" + v(r.message_id) +
        " client=" + v(r.client_name.empty() ? "unknown" : r.client_name) + "[" +
        v(r.client_ip) + "] helo=" + v(r.helo) + " from=<" + escape(r.sender, " ") + ">" +
        " nrcpt=" + std::to_string(r.rcpt_count) + " size=" + std::to_string(r.size) +
        " score=" + format_score(r.score) + " verdict=" + v(r.verdict) + " groups=" + v(groups) +
        " rev=" + v(r.config_revision);
    if (full)
        l += " checks=" + v(r.checks) + " scores=" + v(r.scores) + " rbl=" + v(r.rbl_hits) +
             " parse=" + v(r.parse_result) + " timings=" + v(r.timings) +
             " elapsed=" + std::to_string(r.elapsed_ms) + "ms";
    return l;
}

TrackingLog::TrackingLog(Private, Settings settings, Fd fd, std::uint64_t size)
    : settings_(std::move(settings)), fd_(std::move(fd)), size_(size) {}

std::unique_ptr<TrackingLog> TrackingLog::open(Settings settings, std::string* error) {
    Fd fd = open_log(settings.path);
    struct stat st{};
    if (!fd || ::fstat(fd.get(), &st) != 0) {
        if (error) *error = "tracking log " + settings.path + ": open: " + std::strerror(errno);
        return nullptr;
    }
    return std::make_unique<TrackingLog>(Private{}, std::move(settings), std::move(fd),
                                         static_cast<std::uint64_t>(st.st_size));
}

void TrackingLog::set_full(bool full) {
    std::lock_guard lock(mutex_);
    settings_.full = full;
}

bool TrackingLog::rotate() {
    const std::string& p = settings_.path;
    if (settings_.keep == 0) {
        if (::ftruncate(fd_.get(), 0) != 0) return false;
        size_ = 0;
        return true;
    }
    ::unlink((p + "." + std::to_string(settings_.keep)).c_str());
    for (unsigned i = settings_.keep; i > 1; --i)
        ::rename((p + "." + std::to_string(i - 1)).c_str(), (p + "." + std::to_string(i)).c_str());
    if (::rename(p.c_str(), (p + ".1").c_str()) != 0) return false;
    Fd fresh = open_log(p);
    if (!fresh) return false;
    fd_ = std::move(fresh);
    size_ = 0;
    return true;
}

void TrackingLog::write(const TrackingRecord& record) {
    std::lock_guard lock(mutex_);
    const std::string line = tracking_line(record, settings_.full) + "\n";
    bool ok = true;
    if (settings_.rotate_size > 0 && size_ > 0 && size_ + line.size() > settings_.rotate_size)
        ok = rotate();
    std::string_view rest = line;
    while (ok && !rest.empty()) {
        ssize_t n = ::write(fd_.get(), rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ok = false;
            break;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
        size_ += static_cast<std::uint64_t>(n);
    }
    if (!ok) {
        metrics::get("tracking-log-errors").inc();
        if (!failing_)
            log::warning(log::cat("tracking log ", settings_.path,
                                  ": write failed: ", std::strerror(errno),
                                  "; tracking records are lost until it works"));
        failing_ = true;
    } else if (failing_) {
        failing_ = false;
        log::info(log::cat("tracking log ", settings_.path, ": writing again"));
    }
}

}  // namespace mpp::store
