// store/uuid.h: the identity of a stored entry: an RFC 4122 version 4 UUID in lower-case text
// ("0b7d1f3e-5c2a-4d6b-9e8f-123456789abc"), 122 random bits from getrandom(2).
//
// Threads: any; no state. Failures: new_uuid() returns "" when the kernel gives no random bytes
// (getrandom failing other than EINTR: practically never); callers treat that as an internal
// error (tempfail), never as an identity.
#pragma once

#include <string>
#include <string_view>

namespace mpp::store {

std::string new_uuid();

// 36 characters, 8-4-4-4-12 lower-case hex digits with '-' (any version): what the spool
// accepts as a file name and the admin verbs as an ID.
bool valid_uuid(std::string_view);

}  // namespace mpp::store
