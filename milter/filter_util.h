// milter/filter_util.h: what the milter's per-callback code (filter.cc) and its end-of-message
// content stage (filter_content.cc) share: the summary line, the checks list and the error
// line of a failed smfi_* action.
#pragma once

#include <string>
#include <string_view>

#include "lib/config.h"
#include "milter/session.h"

namespace mpp::milter {

// The message's one summary line (see filter.h "Logs").
void log_summary(const Session& s, const Message& m, std::string_view action,
                 std::string_view reason = {});
// Appends `check` to the summary line's checks (comma-separated).
void add_check(Message& m, std::string_view check);
// An smfi_* action libmilter refused: counted (milter-action-errors) and logged.
void action_failed(const std::string& queue_id, const std::string& what);
// Whether any group has header filters, <scan> or <score>: then the milter keeps the message
// for the content stage and may remove recipients.
bool any_content_checks(const config::Config&);
// Whether any group's <score> puts a prefix before the subject (smfi_chgheader needed).
bool any_subject_prefix(const config::Config&);

}  // namespace mpp::milter
