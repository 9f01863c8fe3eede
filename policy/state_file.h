// policy/state_file.h: the building blocks of the state files in the daemon's state-dir, shared
// by the greylist store (policy/greylist_store.h) and the table snapshots
// (policy/table_snapshots.h): little-endian integers, CRC-framed records, whole-file reads and
// writes, the atomic replace, and setting a damaged file aside.
//
// Frame (every record of every state file):
//   payload length (u32 LE, 1..max, the file kind's bound) + CRC-32 of the payload (u32 LE) +
//   payload
// A scan stops at a length out of range (nothing after it can be trusted) or a frame that runs
// past the end (torn); a frame whose checksum fails is handed to the caller, which either skips
// it (the table snapshots) or stops (the greylist journal, replayed in order).
// Threads: plain functions, no state; callers serialise writes to one file.
// Failures: returned as values (false, an error string); nothing here logs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mpp::policy {

// CRC-32 (IEEE 802.3, as zlib's crc32), for the frames.
std::uint32_t crc32(const std::uint8_t* data, std::size_t size);

namespace state {

void put_u8(std::string& b, std::uint8_t v);
void put_u16(std::string& b, std::uint16_t v);
void put_u32(std::string& b, std::uint32_t v);
void put_u64(std::string& b, std::uint64_t v);
// `n` bytes at `p`, little-endian.
std::uint64_t get_le(const std::uint8_t* p, int n);

// Appends one frame holding `payload`.
void frame(std::string& out, std::string_view payload);

// Reads a payload field by field; any read past the end makes ok() false (and returns zeros).
class Reader {
public:
    Reader(const std::uint8_t* p, std::size_t n) : p_(p), n_(n) {}
    std::uint64_t num(int bytes);
    std::string_view str(std::size_t len);
    std::string_view str16() { return str(static_cast<std::size_t>(num(2))); }  // u16 length + bytes
    bool ok() const { return ok_; }
    bool at_end() const { return ok_ && off_ == n_; }

private:
    const std::uint8_t* p_;
    std::size_t n_;
    std::size_t off_ = 0;
    bool ok_ = true;
};

struct FrameScan {
    std::size_t frames = 0;       // handed to the caller (checksum good or not)
    bool torn = false;            // the last frame runs past the end of the data
    bool corrupt = false;         // a length out of range, or the caller stopped the scan
    std::size_t stop_offset = 0;  // where the scan stopped; the data's size when neither
};

// Walks the frames of `bytes` from `off`. on_frame(payload, size, checksum_ok, frame_offset)
// returns false to stop the scan (marked corrupt).
template <typename F>
FrameScan scan_frames(std::string_view bytes, std::size_t off, std::size_t max_payload, F&& on_frame) {
    FrameScan s;
    const auto* d = reinterpret_cast<const std::uint8_t*>(bytes.data());
    while (off < bytes.size()) {
        s.stop_offset = off;
        if (bytes.size() - off < 8) {
            s.torn = true;
            return s;
        }
        std::size_t len = get_le(d + off, 4);
        auto crc = static_cast<std::uint32_t>(get_le(d + off + 4, 4));
        if (len == 0 || len > max_payload) {
            s.corrupt = true;
            return s;
        }
        if (bytes.size() - off - 8 < len) {
            s.torn = true;
            return s;
        }
        ++s.frames;
        if (!on_frame(d + off + 8, len, crc32(d + off + 8, len) == crc, off)) {
            s.corrupt = true;
            return s;
        }
        off += 8 + len;
    }
    s.stop_offset = off;
    return s;
}

// The whole file into `out` (appended). False when it can't be opened or read (errno says why);
// a file over `max_size` bytes is refused with EFBIG.
bool read_file(const std::string& path, std::string& out, std::size_t max_size = SIZE_MAX);
bool write_all(int fd, std::string_view bytes);
bool fsync_dir(const std::string& dir);

// Replaces DIR/NAME by `bytes` atomically: DIR/NAME.tmp, fsync, rename, fsync DIR. On failure
// the old file stays, the temp file is removed and `error` says what failed.
bool write_atomic(const std::string& dir, const std::string& name, std::string_view bytes,
                  std::string* error);

// Renames `path` to PATH.corrupt-SECONDS (wall clock, seconds since the epoch) so that it is
// kept for a look but never read again; returns the new name, or "" when the rename failed.
std::string set_aside(const std::string& path);

}  // namespace state
}  // namespace mpp::policy
