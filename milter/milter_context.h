// milter/milter_context.h: MilterContext, the seam between the filter logic (filter.h) and
// libmilter's per-connection API (smfi_getsymval, smfi_setreply, smfi_insheader,
// smfi_chgheader, smfi_delrcpt, smfi_setsymlist).
//
// SmfiContext is the one real implementation, over an SMFICTX of the callback in progress; it
// lives only for that callback (libmilter's context may not be kept). Tests drive the filter
// with a recording implementation, which is also how the failure of an smfi_* call (that a
// real MTA can't be made to cause) is tested.
// Threads: the libmilter worker running the callback.
// Failures: every action returns false when libmilter refused it (MI_FAILURE); the caller
// logs it and decides what the message gets.
#pragma once

#include <libmilter/mfapi.h>

#include <string>

namespace mpp::milter {

class MilterContext {
public:
    virtual ~MilterContext() = default;
    // The value of a macro the MTA sent ("i", "{auth_authen}"); "" when it sent none.
    virtual std::string macro(const char* name) = 0;
    // The reply of the next SMFIS_TEMPFAIL/SMFIS_REJECT: code "450", dsn "4.7.1", text in
    // libmilter's syntax ('%' doubled); lines separated by '\n' (at most 32) make a multi-line
    // reply (smfi_setmlreply), one line smfi_setreply.
    virtual bool set_reply(const std::string& code, const std::string& dsn,
                           const std::string& text) = 0;
    // Inserts a header at `index` (0: on top). End-of-message only.
    virtual bool insert_header(int index, const std::string& name, const std::string& value) = 0;
    // Replaces the `index`th (1-based) header field called `name` by `value`. End-of-message
    // only.
    virtual bool change_header(const std::string& name, int index, const std::string& value) = 0;
    // Removes an envelope recipient ("<bob@example.org>", as RCPT TO gave it). End-of-message
    // only.
    virtual bool delete_recipient(const std::string& recipient) = 0;
    // Asks the MTA for these macros (space-separated) at `stage` (SMFIM_CONNECT...).
    // Negotiation only.
    virtual bool request_macros(int stage, const std::string& names) = 0;
};

class SmfiContext final : public MilterContext {
public:
    explicit SmfiContext(SMFICTX* ctx) : ctx_(ctx) {}
    std::string macro(const char* name) override;
    bool set_reply(const std::string& code, const std::string& dsn,
                   const std::string& text) override;
    bool insert_header(int index, const std::string& name, const std::string& value) override;
    bool change_header(const std::string& name, int index, const std::string& value) override;
    bool delete_recipient(const std::string& recipient) override;
    bool request_macros(int stage, const std::string& names) override;

private:
    SMFICTX* ctx_;
};

}  // namespace mpp::milter
