// milter/callbacks.h: the libmilter filter description (smfiDesc) and its callbacks.
//
// libmilter contract (all callbacks run on libmilter's worker threads, several at once):
// - per-connection state is a Session (session.h) attached with smfi_setpriv at connect and
//   freed at close; close may come without connect; abort resets only the message;
// - modifications of the message happen only at end-of-message;
// - a header value ends at its first NUL (libmilter passes C strings);
// - no exception crosses into libmilter: each callback is a trampoline that catches everything
//   and answers SMFIS_TEMPFAIL (our own failure is never a 5xx).
// This version logs each connection and message and accepts them; the checks come with the
// policy and content issues.
#pragma once

#include <libmilter/mfapi.h>

#include <atomic>

#include "lib/config_holder.h"

namespace mpp::milter {

// The filter description to pass to smfi_register. `holder` gives each new connection its
// snapshot; while `*draining` is true (a graceful stop), a new connection gets a tempfail at
// connect. Both must outlive smfi_main.
smfiDesc make_filter_description(const config::ConfigHolder* holder,
                                 const std::atomic<bool>* draining);

}  // namespace mpp::milter
