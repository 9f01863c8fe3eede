// milter/callbacks.h: the libmilter filter description (smfiDesc) and its callbacks.
//
// libmilter contract (all callbacks run on libmilter's worker threads, several at once):
// - per-connection state is a Session (session.h) attached with smfi_setpriv at negotiation
//   (or connect) and freed at close; close may come without connect; abort resets only the
//   message; several messages may follow on one connection;
// - modifications of the message happen only at end-of-message;
// - a header value ends at its first NUL (libmilter passes C strings);
// - no exception crosses into libmilter: each callback is a trampoline that takes the session,
//   calls the Filter (filter.h), catches everything and answers SMFIS_TEMPFAIL with
//   451 4.3.0 (our own failure is never a 5xx), or no reply where none was agreed.
#pragma once

#include <libmilter/mfapi.h>

#include "milter/filter.h"

namespace mpp::milter {

// The filter description to pass to smfi_register. `context` must outlive smfi_main; it is
// what every callback reads (config holder, draining flag, check engine).
smfiDesc make_filter_description(FilterContext* context);

}  // namespace mpp::milter
