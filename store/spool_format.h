// store/spool_format.h: the bytes of one spool file, and the escaping the maildir index and the
// tracking log share.
//
// File (one entry, written once, never changed):
//   "MPP-Spool 1" LF                          magic and format version
//   *( NAME ": " VALUE LF )                   metadata, one field per line (see below)
//   LF                                        end of the metadata
//   MESSAGE                                   the message bytes as given (RFC 5322, CRLF)
//   "MPP-End " LENGTH SP CRC LF               LENGTH: decimal bytes of MESSAGE; CRC: CRC-32 of
//                                             everything before this line, 8 lower-case hex
// Fields: uuid, kind (quarantine|archive), received (Unix seconds), queue-id, message-id,
// subject, client-ip, client-name, helo, sender, recipient (one line per recipient: ADDRESS SP
// GROUP), size, score, checks, verdict, reason, config-revision. Values are escaped with
// escape(): bytes below 0x20, DEL and '%' as %XX (and in a recipient line ' ' too), so a value
// never holds a line end. Empty fields may be left out.
// Parsing is strict: a wrong magic or version, an unknown or repeated field (recipient
// repeats), a bad %XX, a bad number, a bad uuid, no recipient, metadata over kMaxHeader bytes
// or more than kMaxRecipients recipients, a missing trailer, a length that does not add up to
// the file's size, or a checksum that differs each give a clear error ("line 3: unknown field
// \"colour\""); such a file is damaged and is never replayed.
// Threads: plain functions, no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/entry.h"

namespace mpp::store {

inline constexpr std::string_view kSpoolMagic = "MPP-Spool 1\n";
inline constexpr std::size_t kMaxHeader = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxRecipients = 10000;
inline constexpr std::size_t kMaxTrailer = 40;  // "MPP-End " + 20 digits + ' ' + 8 + LF

// Incremental CRC-32 (IEEE 802.3, as zlib's crc32): crc = crc32_update(crc, data, n), from 0.
std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n);

// Bytes below 0x20, DEL, '%' and every byte of `extra` as %XX (upper-case hex).
std::string escape(std::string_view value, std::string_view extra = {});
// The inverse; nullopt for a '%' not followed by two hex digits.
std::optional<std::string> unescape(std::string_view text);

// The metadata block (magic to the blank line) of `e`; "" and *error when the entry can't be
// written (bad uuid, no recipient, too many recipients, over kMaxHeader).
std::string encode_header(const Entry& e, std::string* error);
std::string encode_trailer(std::uint64_t length, std::uint32_t crc);

// Parses the metadata block at the start of `data`: the entry and the block's length (through
// the blank line). nullopt and *error when damaged; *error "incomplete" (and nullopt) when
// `data` ends before the blank line and is shorter than kMaxHeader (read more).
struct ParsedHeader {
    Entry entry;
    std::size_t length = 0;
};
std::optional<ParsedHeader> parse_header(std::string_view data, std::string* error);

// Parses the trailer at the end of `tail` (the last bytes of the file, at most kMaxTrailer):
// the message length, the checksum, and the trailer's own length.
struct ParsedTrailer {
    std::uint64_t length = 0;
    std::uint32_t crc = 0;
    std::size_t size = 0;
};
std::optional<ParsedTrailer> parse_trailer(std::string_view tail, std::string* error);

// Formats a score so that it parses back to the same double ("7.3", "-1", "0").
std::string format_score(double);

}  // namespace mpp::store
