// milter/callbacks.cc: libmilter callbacks, each a trampoline into Filter (see callbacks.h for
// the contract they keep).
#include "milter/callbacks.h"

#include <exception>
#include <memory>
#include <string_view>

#include "lib/log.h"
#include "lib/metrics.h"
#include "milter/milter_context.h"
#include "milter/session.h"

namespace mpp::milter {
namespace {

// Set once by make_filter_description, before smfi_main starts any worker; the pointer is
// read-only after (what it points to is thread-safe).
FilterContext* g_context = nullptr;

Session* session_of(SMFICTX* ctx) { return static_cast<Session*>(smfi_getpriv(ctx)); }

// The session of this connection, created on first use (negotiate, or connect when the MTA
// skipped negotiation). nullptr only when libmilter can't store it.
Session* ensure_session(SMFICTX* ctx) {
    if (Session* s = session_of(ctx)) return s;
    std::unique_ptr<Session> s = Filter(*g_context).open_session();
    if (smfi_setpriv(ctx, s.get()) != MI_SUCCESS) {
        log::error("milter: smfi_setpriv failed");
        return nullptr;
    }
    metrics::get("milter-sessions").inc();
    return s.release();  // owned by the libmilter context until on_close takes it back
}

// Runs `body` with the connection's session; an exception (or no session) becomes a logged
// tempfail with 451 4.3.0, never a crash or a 5xx; NOREPLY where the step has no reply
// (`no_reply_flag` agreed at negotiation).
template <typename F>
sfsistat guarded(const char* stage, SMFICTX* ctx, unsigned long no_reply_flag, F&& body) {
    Session* s = nullptr;
    try {
        s = ensure_session(ctx);
        if (s) return body(*s);
    } catch (const std::exception& e) {
        log::write_qid(log::Level::error, s && s->message ? s->message->queue_id : "",
                       log::cat("milter ", stage, ": internal error: ", e.what(), "; tempfail"));
    } catch (...) {
        log::error(log::cat("milter ", stage, ": internal error; tempfail"));
    }
    metrics::get("milter-internal-errors").inc();
    if (s && no_reply_flag && (s->protocol & no_reply_flag)) return SMFIS_NOREPLY;
    if (smfi_setreply(ctx, const_cast<char*>("451"), const_cast<char*>("4.3.0"),
                      const_cast<char*>("Temporary failure in the mail filter, try again later")) !=
        MI_SUCCESS) {
        metrics::get("milter-action-errors").inc();
        log::error(log::cat("milter ", stage, ": smfi_setreply failed; the MTA tempfails with "
                            "its default text"));
    }
    return SMFIS_TEMPFAIL;
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long,
                      unsigned long, unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                      unsigned long* pf3) {
    return guarded("negotiate", ctx, 0, [&](Session& s) {
        SmfiContext mc(ctx);
        auto n = Filter(*g_context).negotiate(s, mc, f0, f1);
        *pf0 = n.actions;
        *pf1 = n.protocol;
        *pf2 = 0;
        *pf3 = 0;
        return SMFIS_CONTINUE;
    });
}

sfsistat on_connect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* hostaddr) {
    return guarded("connect", ctx, 0, [&](Session& s) {
        SmfiContext mc(ctx);
        return Filter(*g_context).connect(s, mc, hostname, hostaddr);
    });
}

sfsistat on_helo(SMFICTX* ctx, char* helo) {
    return guarded("helo", ctx, SMFIP_NR_HELO,
                   [&](Session& s) { return Filter(*g_context).helo(s, helo); });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
    return guarded("mail", ctx, 0, [&](Session& s) {
        SmfiContext mc(ctx);
        return Filter(*g_context).mail(s, mc, argv);
    });
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
    return guarded("rcpt", ctx, SMFIP_NR_RCPT, [&](Session& s) {
        SmfiContext mc(ctx);
        return Filter(*g_context).rcpt(s, mc, argv);
    });
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
    return guarded("header", ctx, SMFIP_NR_HDR,
                   [&](Session& s) {
                       SmfiContext mc(ctx);
                       return Filter(*g_context).header(s, mc, name, value);
                   });
}

sfsistat on_body(SMFICTX* ctx, unsigned char* chunk, size_t len) {
    return guarded("body", ctx, SMFIP_NR_BODY, [&](Session& s) {
        SmfiContext mc(ctx);
        return Filter(*g_context).body(
            s, mc, std::string_view(reinterpret_cast<const char*>(chunk), chunk ? len : 0));
    });
}

sfsistat on_eom(SMFICTX* ctx) {
    return guarded("eom", ctx, 0, [&](Session& s) {
        SmfiContext mc(ctx);
        return Filter(*g_context).eom(s, mc);
    });
}

sfsistat on_abort(SMFICTX* ctx) {
    try {
        if (Session* s = session_of(ctx)) Filter(*g_context).abort(*s);
    } catch (const std::exception& e) {
        log::error(log::cat("milter abort: internal error: ", e.what()));
        metrics::get("milter-internal-errors").inc();
    } catch (...) {
        metrics::get("milter-internal-errors").inc();
    }
    return SMFIS_CONTINUE;
}

sfsistat on_close(SMFICTX* ctx) {
    // Takes back ownership first, so the session is freed whatever happens below.
    std::unique_ptr<Session> s(session_of(ctx));
    if (smfi_setpriv(ctx, nullptr) != MI_SUCCESS) log::error("milter close: smfi_setpriv failed");
    if (!s) return SMFIS_CONTINUE;
    metrics::get("milter-sessions").dec();
    try {
        Filter(*g_context).close(*s);
    } catch (const std::exception& e) {
        log::error(log::cat("milter close: internal error: ", e.what()));
        metrics::get("milter-internal-errors").inc();
    } catch (...) {
        metrics::get("milter-internal-errors").inc();
    }
    return SMFIS_CONTINUE;
}

}  // namespace

smfiDesc make_filter_description(FilterContext* context) {
    g_context = context;
    // Listed by `mppctl status` from the start, not only once they have counted something.
    for (const char* name : {"milter-connections", "milter-sessions", "milter-messages",
                             "milter-internal-errors", "milter-action-errors",
                             "milter-removed-recipients"})
        metrics::get(name);
    smfiDesc d{};
    d.xxfi_name = const_cast<char*>("mppd");
    d.xxfi_version = SMFI_VERSION;
    // What negotiation may ask for at most (plus SETSYMLIST).
    d.xxfi_flags = SMFIF_ADDHDRS | SMFIF_DELRCPT;
    d.xxfi_connect = on_connect;
    d.xxfi_helo = on_helo;
    d.xxfi_envfrom = on_envfrom;
    d.xxfi_envrcpt = on_envrcpt;
    d.xxfi_header = on_header;
    d.xxfi_eoh = nullptr;
    d.xxfi_body = on_body;
    d.xxfi_eom = on_eom;
    d.xxfi_abort = on_abort;
    d.xxfi_close = on_close;
    d.xxfi_unknown = nullptr;
    d.xxfi_data = nullptr;
    d.xxfi_negotiate = on_negotiate;
    return d;
}

}  // namespace mpp::milter
