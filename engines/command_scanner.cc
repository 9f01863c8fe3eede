// engines/command_scanner.cc: the command-line scanner engine (see command_scanner.h).
#include "engines/command_scanner.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>

#include "lib/fd.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/subprocess.h"
#include "lib/template.h"

namespace mpp::engines {
namespace {

using Clock = std::chrono::steady_clock;
using Status = EngineResult::Status;
using std::chrono::milliseconds;

constexpr std::string_view kPrefix = "scan-";
constexpr std::string_view kSuffix = ".eml";

std::string error_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// A message file: created with O_EXCL and mode 0600, removed when it goes out of scope.
class TempFile {
public:
    TempFile() = default;
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        if (!path_.empty() && ::unlink(path_.c_str()) != 0 && errno != ENOENT)
            log::warning(log::cat("command scanner: cannot remove ", path_, ": ",
                                  error_text(errno)));
    }

    // "" or why not.
    std::string create(const std::string& dir) {
        std::string name = dir + "/" + std::string(kPrefix) + "XXXXXX" + std::string(kSuffix);
        int fd = ::mkostemps(name.data(), static_cast<int>(kSuffix.size()), O_CLOEXEC);
        if (fd < 0) return "temp file " + dir + "/" + std::string(kPrefix) + "...: " +
                           error_text(errno);
        fd_.reset(fd);
        path_ = name;
        return {};
    }

    // "" or why not.
    std::string write(const char* data, std::size_t n) {
        while (n > 0) {
            ssize_t w = ::write(fd_.get(), data, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return "temp file " + path_ + ": " + error_text(w < 0 ? errno : EIO);
            data += w;
            n -= static_cast<std::size_t>(w);
        }
        return {};
    }

    // "" or why not (a full disk may only show here).
    std::string close() {
        if (::close(fd_.release()) != 0 && errno != EINTR)
            return "temp file " + path_ + ": " + error_text(errno);
        return {};
    }

    const std::string& path() const { return path_; }

private:
    Fd fd_;
    std::string path_;
};

std::string too_big(std::uint64_t max) {
    return "message larger than max-size (" + std::to_string(max) + " bytes)";
}

}  // namespace

std::vector<std::string> CommandEngine::argv(const std::string& file) const {
    std::vector<std::string> out{cfg_.path};
    for (const auto& a : cfg_.args)
        out.push_back(tmpl::expand(a, [&](std::string_view name) -> std::optional<std::string> {
            if (name == "FILE" && !file.empty()) return file;
            return std::nullopt;
        }));
    return out;
}

EngineResult CommandEngine::scan(const ScanMessage& msg, Deadline deadline) {
    const auto start = Clock::now();
    EngineResult res;
    res.engine = cfg_.name;
    auto done = [&](Status s, std::string detail) {
        res.status = s;
        res.detail = std::move(detail);
        res.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
        return res;
    };
    auto timeout = [&] {
        auto budget = std::max(milliseconds(0), std::chrono::round<milliseconds>(deadline - start));
        return done(Status::error, "timeout after " + proc::duration_text(budget));
    };
    if (start >= deadline) return timeout();

    std::unique_ptr<MessageReader> reader = msg.open ? msg.open() : nullptr;
    if (!reader) return done(Status::error, "reading the message: no reader");
    std::uint64_t total = 0;
    TempFile file;
    proc::Options po;
    std::string input_error;  // why the standard input stopped (input="stdin")
    if (cfg_.input == config::CommandInput::file) {
        if (std::string e = file.create(temp_dir_); !e.empty()) return done(Status::error, e);
        std::vector<char> buf(kChunk);
        for (;;) {
            if (Clock::now() >= deadline) return timeout();
            std::size_t n = reader->read(buf.data(), buf.size());
            if (n == 0) break;
            total += n;
            if (cfg_.max_size && total > cfg_.max_size)
                return done(Status::error, too_big(cfg_.max_size));
            if (std::string e = file.write(buf.data(), n); !e.empty())
                return done(Status::error, e);
        }
        if (reader->failed()) return done(Status::error, "reading the message: " + reader->error());
        if (std::string e = file.close(); !e.empty()) return done(Status::error, e);
    } else {
        po.input = [&](char* buf, std::size_t n) -> long {
            std::size_t got = reader->read(buf, std::min(n, kChunk));
            if (got == 0 && reader->failed()) {
                input_error = "reading the message: " + reader->error();
                return -1;
            }
            total += got;
            if (cfg_.max_size && total > cfg_.max_size) {
                input_error = too_big(cfg_.max_size);
                return -1;
            }
            return static_cast<long>(got);
        };
    }

    po.argv = argv(file.path());
    po.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "LANG=C"};
    po.output = proc::Output::combined;
    po.max_output = kMaxOutput;
    po.deadline = deadline;
    po.term_grace = opts_.kill_grace;
    po.kill_group_on_exit = true;
    proc::Result r = proc::run(po);

    using End = proc::Result::End;
    switch (r.end) {
    case End::timeout:
        return timeout();
    case End::input_failed:
        return done(Status::error, input_error);
    case End::spawn_failed:
        return done(Status::error, "cannot run " + cfg_.path + ": " + r.error);
    case End::wait_failed:
    case End::cancelled:  // no cancel is given
        return done(Status::error, r.error.empty() ? "stopped" : r.error);
    case End::signaled:
        return done(Status::error, "killed by signal " + std::to_string(r.signal));
    case End::exited:
        break;
    }
    auto has = [&](const std::vector<int>& codes) {
        return std::find(codes.begin(), codes.end(), r.exit_code) != codes.end();
    };
    if (has(cfg_.clean_exit)) return done(Status::clean, {});
    if (!has(cfg_.virus_exit)) {
        std::string line = proc::first_line(r.output, kMaxDetail);
        return done(Status::error,
                    "exit code " + std::to_string(r.exit_code) + (line.empty() ? "" : ": " + line));
    }
    std::string name;
    if (cfg_.virus_name) {
        std::string group1;
        MatchResult m = cfg_.virus_name->match(r.output, opts_.regex, &group1);
        if (m == MatchResult::match) {
            name = proc::first_line(group1, kMaxDetail);
        } else if (m == MatchResult::limit || m == MatchResult::error) {
            if (m == MatchResult::limit) metrics::get("regex-limit-hits").inc();
            log::write_qid(log::Level::warning, msg.queue_id,
                           log::cat("command ", cfg_.name, ": virus-name \"",
                                    cfg_.virus_name->pattern(), "\" ",
                                    m == MatchResult::limit ? "hit a PCRE2 limit" : "failed",
                                    " over the output; the name is unknown"));
        }
    } else {
        name = proc::first_line(r.output, kMaxDetail);
    }
    return done(Status::virus, name.empty() ? "unknown" : name);
}

int CommandEngine::remove_stale_files(const std::string& dir) {
    std::error_code ec;
    int removed = 0;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string n = it->path().filename().string();
        if (n.size() == kPrefix.size() + 6 + kSuffix.size() && n.starts_with(kPrefix) &&
            n.ends_with(kSuffix) && ::unlink(it->path().c_str()) == 0)
            ++removed;
    }
    return removed;
}

}  // namespace mpp::engines
