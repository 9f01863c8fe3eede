// milter/message_buffer.cc: header and body buffering with spill to an unlinked temp file (see
// message_buffer.h for the contract).
#include "milter/message_buffer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/log.h"
#include "lib/metrics.h"

namespace mpp::milter {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

std::string errno_text(int err) { return std::strerror(err); }

// An unlinked file in `dir`, or -1 with errno set.
Fd open_unlinked(const std::string& dir) {
#ifdef O_TMPFILE
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) return Fd(fd);
    // Kernels or file systems without O_TMPFILE; anything else is a real failure.
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return Fd();
#endif
    std::string path = dir + "/mppd-msg.XXXXXX";
    Fd f(::mkostemp(path.data(), O_CLOEXEC));
    if (!f) return f;
    if (::unlink(path.c_str()) != 0) {
        const int err = errno;
        f.reset();
        errno = err;
        return Fd();
    }
    return f;
}

}  // namespace

std::string_view state_name(MessageBuffer::State s) {
    switch (s) {
        case MessageBuffer::State::ok: return "ok";
        case MessageBuffer::State::too_big: return "too-big";
        case MessageBuffer::State::header_limit: return "header-limit";
        case MessageBuffer::State::error: return "error";
    }
    return "?";
}

MessageBuffer::Limits MessageBuffer::limits_from(const config::Config& cfg) {
    Limits l;
    if (cfg.limits.spill_size > 0) l.spill_size = cfg.limits.spill_size;
    l.max_size = cfg.limits.max_message_size;
    if (cfg.limits.max_headers > 0)
        l.max_headers = static_cast<std::size_t>(cfg.limits.max_headers);
    if (cfg.limits.max_header_size > 0) l.max_header_size = cfg.limits.max_header_size;
    return l;
}

MessageBuffer::MessageBuffer(std::string spool_dir, Limits limits, bool lead_space)
    : dir_(std::move(spool_dir)), limits_(limits), lead_space_(lead_space) {}

bool MessageBuffer::fail(State s, std::string why, int err) {
    state_ = s;
    error_ = std::move(why);
    errno_ = err;
    // What was kept is of no use any more: the message is refused or tempfailed.
    std::string().swap(body_);
    file_.reset();
    file_size_ = 0;
    if (s == State::error) {
        metrics::get("message-spill-errors").inc();
        log::write_qid(log::Level::warning, queue_id_, "message buffer: " + error_);
    }
    return false;
}

bool MessageBuffer::add_header(std::string_view name, std::string_view value) {
    const std::size_t field = name.size() + (lead_space_ ? 1 : 2) + value.size() + 2;
    size_ += field;
    if (state_ != State::ok) return false;
    if (body_size_ > 0) return fail(State::error, "header field after the body");
    if (limits_.max_size > 0 && size() > limits_.max_size)
        return fail(State::too_big,
                    log::cat("message size ", size(), " exceeds ", limits_.max_size));
    if (headers_.size() >= limits_.max_headers)
        return fail(State::header_limit,
                    log::cat("more than ", limits_.max_headers, " header fields"));
    if (field - 2 > limits_.max_header_size)
        return fail(State::header_limit, log::cat("header field ", name, " of ", field - 2,
                                                  " bytes exceeds ", limits_.max_header_size));
    if (header_bytes_ + field > kMaxHeaderBlock)
        return fail(State::header_limit,
                    log::cat("header fields exceed ", kMaxHeaderBlock, " bytes in all"));
    header_bytes_ += field;
    headers_.push_back(engines::Header{std::string(name), std::string(value)});
    return true;
}

bool MessageBuffer::add_body(std::string_view chunk) {
    size_ += chunk.size();
    body_size_ += chunk.size();
    if (state_ != State::ok) return false;
    if (limits_.max_size > 0 && size() > limits_.max_size)
        return fail(State::too_big,
                    log::cat("message size ", size(), " exceeds ", limits_.max_size));
    if (file_) return write_file(chunk);
    if (body_.size() + chunk.size() > limits_.spill_size) return spill(chunk);
    body_.append(chunk);
    return true;
}

bool MessageBuffer::spill(std::string_view more) {
    file_ = open_unlinked(dir_);
    if (!file_) {
        const int err = errno;
        return fail(State::error, log::cat("spool ", dir_, ": temp file: ", errno_text(err)), err);
    }
    metrics::get("message-spills").inc();
    std::string kept;
    kept.swap(body_);
    return write_file(kept) && write_file(more);
}

bool MessageBuffer::write_file(std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::pwrite(file_.get(), data.data(), data.size(),
                                   static_cast<off_t>(file_size_));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : EIO;
            return fail(State::error, log::cat("spool ", dir_, ": write: ", errno_text(err)), err);
        }
        file_size_ += static_cast<std::uint64_t>(n);
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool MessageBuffer::read_all(std::string& out, LineEnding eol, std::string* error) const {
    out.clear();
    Reader r = reader(eol);
    char buf[kReadChunk];
    for (std::size_t n; (n = r.read(buf, sizeof buf)) > 0;) out.append(buf, n);
    if (r.failed()) {
        if (error) *error = r.error();
        out.clear();
        return false;
    }
    return true;
}

void MessageBuffer::Reader::convert(std::string_view raw) {
    const std::string_view nl = eol_ == LineEnding::crlf ? "\r\n" : "\n";
    for (char c : raw) {
        if (pending_cr_) {
            pending_cr_ = false;
            if (c == '\n') {
                out_ += nl;
                continue;
            }
            out_ += '\r';
        }
        if (c == '\r')
            pending_cr_ = true;
        else if (c == '\n')
            out_ += nl;
        else
            out_ += c;
    }
}

bool MessageBuffer::Reader::fill() {
    out_.clear();
    out_pos_ = 0;
    const MessageBuffer& b = *b_;
    while (out_.empty()) {
        switch (phase_) {
            case Phase::headers:
                if (index_ >= b.headers_.size()) {
                    phase_ = Phase::separator;
                    break;
                }
                for (; index_ < b.headers_.size() && out_.size() < kReadChunk; ++index_) {
                    const auto& h = b.headers_[index_];
                    convert(h.name);
                    convert(b.lead_space_ ? ":" : ": ");
                    convert(h.value);
                    convert("\n");
                }
                break;
            case Phase::separator:
                convert("\n");
                phase_ = b.file_ ? Phase::file : Phase::memory;
                break;
            case Phase::memory:
                if (offset_ >= b.body_.size()) {
                    phase_ = Phase::done;
                    break;
                }
                convert(std::string_view(b.body_).substr(offset_, kReadChunk));
                offset_ += kReadChunk;
                break;
            case Phase::file: {
                if (offset_ >= b.file_size_) {
                    phase_ = Phase::done;
                    break;
                }
                char buf[kReadChunk];
                const std::size_t want = static_cast<std::size_t>(
                    std::min<std::uint64_t>(sizeof buf, b.file_size_ - offset_));
                const ssize_t n = ::pread(b.file_.get(), buf, want, static_cast<off_t>(offset_));
                if (n < 0 && errno == EINTR) break;
                if (n <= 0) {
                    error_ = log::cat("spool ", b.dir_, ": read: ",
                                      n < 0 ? errno_text(errno) : std::string("short file"));
                    phase_ = Phase::done;
                    return false;
                }
                offset_ += static_cast<std::uint64_t>(n);
                convert(std::string_view(buf, static_cast<std::size_t>(n)));
                break;
            }
            case Phase::done:
                if (pending_cr_) {
                    pending_cr_ = false;
                    out_ += '\r';
                    break;
                }
                return false;
        }
    }
    return true;
}

std::size_t MessageBuffer::Reader::read(char* out, std::size_t n) {
    if (!b_->ok()) {
        if (error_.empty())
            error_ = "message not kept (" + std::string(state_name(b_->state())) +
                     (b_->error().empty() ? "" : ": " + b_->error()) + ")";
        return 0;
    }
    if (!error_.empty() || n == 0) return 0;
    if (out_pos_ >= out_.size() && !fill()) return 0;
    const std::size_t k = std::min(n, out_.size() - out_pos_);
    std::memcpy(out, out_.data() + out_pos_, k);
    out_pos_ += k;
    return k;
}

}  // namespace mpp::milter
