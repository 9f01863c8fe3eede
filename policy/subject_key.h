// policy/subject_key.h: the key of a <threshold key="subject"> (the backscatter rule: "400
// bounces with the same subject in 2 minutes block that subject"): a Subject made one key for
// all its spellings that differ only in case and blanks.
//
// Owns: nothing; pure functions. Threads: thread-safe (the C.UTF-8 locale used for case
// mapping is made once, on first use, and only read after).
// Input: the Subject as text, RFC 2047 already decoded to UTF-8 by the front end (the milter
// decodes it with engines/header_filter.h decode_value; engines::subject_key() does both).
// Key: lower-cased (Unicode simple case mapping for valid UTF-8 without NUL, through glibc's
// C.UTF-8 locale; ASCII only otherwise or without that locale), every run of whitespace (space,
// tab, CR, LF, VT, FF) made one space, trimmed; "Re:"/"Fwd:" prefixes and digits kept as they
// are; cut to kMaxSubjectKey bytes at a UTF-8 character boundary (a trailing blank of the cut
// dropped). A blank subject gives "".
// Limits: the key is at most kMaxSubjectKey bytes; the input is read once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mpp::policy {

inline constexpr std::size_t kMaxSubjectKey = 256;

std::string normalise_subject(std::string_view decoded_subject);

}  // namespace mpp::policy
