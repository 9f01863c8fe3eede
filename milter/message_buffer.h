// milter/message_buffer.h: one message's header fields and body as the milter receives them
// (field by field, then body chunks), kept so that the content stage (header filters, engines,
// strip, store) can read the whole message back.
//
// Owns: the header fields (always in memory, as engines::Header), the body in memory up to
// spill_size bytes, and beyond that an unlinked temp file in the spool directory given by the
// caller (O_TMPFILE; where the file system lacks it, mkstemp and unlink at once), so the file
// is gone when the buffer is (also after a crash). Every handle is an Fd; nothing leaks on any
// path. Move-only.
// Threads: one libmilter worker at a time (the connection's current callback); readers must not
// overlap writes to the same buffer.
// Reading back: reader() streams the message as RFC 5322 bytes: "Name: value" per field (the
// value as received, its folds kept; "Name:value" when the MTA passes the leading blank,
// SMFIP_HDR_LEADSPC), a blank line, the body. Line endings are made CRLF (a bare LF becomes
// CRLF) or LF (CRLF becomes LF) as asked; bare CRs stay. A message received with CRLF reads back
// byte for byte in CRLF mode.
// Limits (Limits, from <limits>): max_size bytes in all (fields counted as "Name: value\r\n",
// the blank line as 2, the body as received): more makes the buffer too_big, drops the body
// kept so far, and the milter answers 552 5.3.4; max_headers fields, max_header_size bytes per
// field and kMaxHeaderBlock bytes of fields in all: more makes it header_limit (a content limit,
// <limits on-exceeded>). Both are final: later input is counted in size() but not kept.
// Failures: a temp file that can't be created or written (missing or unwritable spool,
// ENOSPC, EFBIG) makes the buffer error, with a text naming the directory and the errno; the
// milter tempfails (451 4.3.0, or 452 4.3.1 for a full disk: error_code()). One warning is
// logged per failed buffer ("warning: QUEUEID: message buffer: spool DIR: write: REASON");
// metrics "message-spills" and "message-spill-errors".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engines/header_filter.h"
#include "lib/config.h"
#include "lib/fd.h"

namespace mpp::milter {

enum class LineEnding { crlf, lf };

class MessageBuffer {
public:
    static constexpr std::uint64_t kDefaultSpillSize = 1024 * 1024;
    static constexpr std::size_t kMaxHeaderBlock = 1024 * 1024;

    struct Limits {
        std::uint64_t spill_size = kDefaultSpillSize;  // body bytes kept in memory
        std::uint64_t max_size = 0;                    // 0: no limit of ours
        std::size_t max_headers = engines::HeaderFilterLimits::kDefaultMaxHeaders;
        std::size_t max_header_size = engines::HeaderFilterLimits::kDefaultMaxHeaderSize;
    };
    // The limits of a snapshot's <limits> (0 there: the defaults above).
    static Limits limits_from(const config::Config&);

    enum class State { ok, too_big, header_limit, error };

    // `spool_dir`: where a body over spill_size goes; `lead_space`: header values come with
    // the blank after the colon (SMFIP_HDR_LEADSPC).
    MessageBuffer(std::string spool_dir, Limits limits, bool lead_space = false);
    MessageBuffer(MessageBuffer&&) noexcept = default;
    MessageBuffer& operator=(MessageBuffer&&) noexcept = default;
    MessageBuffer(const MessageBuffer&) = delete;
    MessageBuffer& operator=(const MessageBuffer&) = delete;

    // Each returns whether the buffer is still ok. A field after the first body chunk is an
    // error (the milter protocol sends all fields first).
    bool add_header(std::string_view name, std::string_view value);
    bool add_body(std::string_view chunk);
    // The MTA's queue id, for the warning of an error state.
    void set_queue_id(std::string queue_id) { queue_id_ = std::move(queue_id); }

    State state() const { return state_; }
    bool ok() const { return state_ == State::ok; }
    // Why the buffer is not ok ("" when it is): "message size 30000001 exceeds 30000000",
    // "spool /var/spool/mppd: No space left on device"...
    const std::string& error() const { return error_; }
    // errno of an error state (ENOSPC...), 0 otherwise.
    int error_code() const { return errno_; }
    // Bytes received so far, counted as above with the blank line (also past a limit).
    std::uint64_t size() const { return size_ + 2; }
    std::uint64_t body_size() const { return body_size_; }
    bool spilled() const { return static_cast<bool>(file_); }
    const std::vector<engines::Header>& headers() const { return headers_; }

    // Streams the message; the buffer must outlive it and not change while it reads.
    class Reader {
    public:
        // Up to `n` bytes into `out`; 0 at the end or on failure (see failed()).
        std::size_t read(char* out, std::size_t n);
        bool failed() const { return !error_.empty(); }
        const std::string& error() const { return error_; }

    private:
        friend class MessageBuffer;
        Reader(const MessageBuffer& b, LineEnding eol) : b_(&b), eol_(eol) {}
        bool fill();                          // converts the next piece into out_
        void convert(std::string_view raw);   // appends `raw` with line endings converted

        const MessageBuffer* b_;
        LineEnding eol_;
        enum class Phase { headers, separator, memory, file, done } phase_ = Phase::headers;
        std::size_t index_ = 0;     // next header
        std::uint64_t offset_ = 0;  // in the memory body or the file
        bool pending_cr_ = false;
        std::string out_;           // converted bytes not yet returned
        std::size_t out_pos_ = 0;
        std::string error_;
    };

    // A reader over the message; when the buffer is not ok, it fails at once.
    Reader reader(LineEnding eol = LineEnding::crlf) const { return Reader(*this, eol); }
    // The whole message into `out` (replacing its content); false (and `error`) on failure.
    bool read_all(std::string& out, LineEnding eol = LineEnding::crlf,
                  std::string* error = nullptr) const;

private:
    bool fail(State s, std::string why, int err = 0);
    bool spill(std::string_view more);
    bool write_file(std::string_view data);

    std::string dir_;
    std::string queue_id_;
    Limits limits_;
    bool lead_space_ = false;
    State state_ = State::ok;
    std::string error_;
    int errno_ = 0;
    std::uint64_t size_ = 0;  // fields and body (size() adds the blank line)
    std::uint64_t body_size_ = 0;
    std::size_t header_bytes_ = 0;
    std::vector<engines::Header> headers_;
    std::string body_;       // the body while it is in memory
    Fd file_;                // the body once spilled
    std::uint64_t file_size_ = 0;
};

std::string_view state_name(MessageBuffer::State);

}  // namespace mpp::milter
