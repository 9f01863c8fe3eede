// milter/callbacks.cc: libmilter callbacks (see callbacks.h for the contract they keep).
#include "milter/callbacks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <exception>
#include <memory>

#include "lib/log.h"
#include "lib/metrics.h"
#include "milter/session.h"

namespace mpp::milter {
namespace {

// Set once by make_filter_description, before smfi_main starts any worker; read-only after.
const config::ConfigHolder* g_holder = nullptr;
const std::atomic<bool>* g_draining = nullptr;

Session* session_of(SMFICTX* ctx) { return static_cast<Session*>(smfi_getpriv(ctx)); }

std::string macro(SMFICTX* ctx, const char* name) {
    const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
    return v ? v : "";
}

std::string address_text(const sockaddr* sa) {
    if (!sa) return "";
    char buf[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    return buf;
}

std::string strip_brackets(const char* addr) {
    std::string s = addr ? addr : "";
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
    return s;
}

// Runs `body`; an exception becomes a logged tempfail, never a crash or a 5xx.
template <typename F>
sfsistat guarded(const char* stage, SMFICTX* ctx, F&& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        Session* s = ctx ? session_of(ctx) : nullptr;
        log::write_qid(log::Level::error, s ? s->message.queue_id : "",
                       log::cat("milter ", stage, ": internal error: ", e.what(), "; tempfail"));
    } catch (...) {
        log::error(log::cat("milter ", stage, ": internal error; tempfail"));
    }
    metrics::get("milter-internal-errors").inc();
    return SMFIS_TEMPFAIL;
}

// The session of this connection, created on first use (negotiate, or connect when the MTA
// skipped negotiation). nullptr only when libmilter can't store it.
Session* ensure_session(SMFICTX* ctx) {
    if (Session* s = session_of(ctx)) return s;
    auto s = std::make_unique<Session>();
    s->config = g_holder->current();
    if (smfi_setpriv(ctx, s.get()) != MI_SUCCESS) {
        log::error("milter: smfi_setpriv failed");
        return nullptr;
    }
    metrics::get("milter-sessions").inc();
    return s.release();  // owned by the context until on_close
}

// Header and body callbacks need no reply when the MTA agreed to that (fewer round trips).
sfsistat no_reply(const Session* s, unsigned long flag) {
    return s && (s->protocol & flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                      unsigned long* pf3) {
    return guarded("negotiate", ctx, [&] {
        Session* s = ensure_session(ctx);
        if (!s) return SMFIS_TEMPFAIL;
        *pf0 = 0;  // no message modifications in this version
        // Steps this version does not use are skipped by the MTA.
        const unsigned long want = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOEOH | SMFIP_NR_HDR |
                                   SMFIP_NR_BODY;
        *pf1 = f1 & want;
        *pf2 = 0;
        *pf3 = 0;
        s->protocol = *pf1;
        smfi_setsymlist(ctx, SMFIM_CONNECT, const_cast<char*>("j _ {daemon_name} {if_addr}"));
        smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("i {auth_authen} {mail_addr}"));
        smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i"));
        return SMFIS_CONTINUE;
    });
}

sfsistat on_connect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* hostaddr) {
    return guarded("connect", ctx, [&] {
        Session* s = ensure_session(ctx);
        if (!s) return SMFIS_TEMPFAIL;
        s->client_name = hostname && *hostname ? hostname : "unknown";
        s->client_addr = address_text(hostaddr);
        metrics::get("milter-connections").inc();
        log::info("connect from " + s->client());
        if (g_draining && g_draining->load()) {
            log::info("reject: CONNECT from " + s->client() + ": mppd is stopping; tempfail");
            smfi_setreply(ctx, const_cast<char*>("421"), const_cast<char*>("4.3.2"),
                          const_cast<char*>("Mail filter shutting down, try again later"));
            return SMFIS_TEMPFAIL;
        }
        return SMFIS_CONTINUE;
    });
}

sfsistat on_helo(SMFICTX* ctx, char* helo) {
    return guarded("helo", ctx, [&] {
        if (Session* s = session_of(ctx)) s->helo = helo ? helo : "";
        return SMFIS_CONTINUE;
    });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
    return guarded("mail", ctx, [&] {
        Session* s = session_of(ctx);
        if (!s) return SMFIS_CONTINUE;
        s->reset_message();
        s->message.started = std::chrono::steady_clock::now();
        s->message.sender = strip_brackets(argv ? argv[0] : nullptr);
        s->message.queue_id = macro(ctx, "i");
        return SMFIS_CONTINUE;
    });
}

sfsistat on_envrcpt(SMFICTX* ctx, char**) {
    return guarded("rcpt", ctx, [&] {
        if (Session* s = session_of(ctx)) ++s->message.recipients;
        return SMFIS_CONTINUE;
    });
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
    return guarded("header", ctx, [&] {
        Session* s = session_of(ctx);
        if (s) s->message.size += std::strlen(name ? name : "") + 2 + std::strlen(value ? value : "") + 2;
        return no_reply(s, SMFIP_NR_HDR);
    });
}

sfsistat on_body(SMFICTX* ctx, unsigned char*, size_t len) {
    return guarded("body", ctx, [&] {
        Session* s = session_of(ctx);
        if (s) s->message.size += len;
        return no_reply(s, SMFIP_NR_BODY);
    });
}

sfsistat on_eom(SMFICTX* ctx) {
    return guarded("eom", ctx, [&] {
        Session* s = session_of(ctx);
        if (!s) return SMFIS_CONTINUE;
        std::string qid = macro(ctx, "i");
        if (!qid.empty()) s->message.queue_id = qid;
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - s->message.started)
                      .count();
        log::write_qid(log::Level::info, s->message.queue_id,
                       log::cat("client=", s->client(), " from=<", s->message.sender,
                                "> nrcpt=", s->message.recipients, " size=", s->message.size,
                                " action=accept delay=", ms, "ms"));
        metrics::get("milter-messages").inc();
        s->reset_message();
        return SMFIS_CONTINUE;
    });
}

sfsistat on_abort(SMFICTX* ctx) {
    return guarded("abort", ctx, [&] {
        if (Session* s = session_of(ctx)) s->reset_message();
        return SMFIS_CONTINUE;
    });
}

sfsistat on_close(SMFICTX* ctx) {
    return guarded("close", ctx, [&] {
        std::unique_ptr<Session> s(session_of(ctx));  // takes back ownership (may be null)
        smfi_setpriv(ctx, nullptr);
        if (s) {
            if (!s->client_name.empty())  // connect was seen
                log::info("disconnect from " + s->client());
            metrics::get("milter-sessions").dec();
        }
        return SMFIS_CONTINUE;
    });
}

}  // namespace

smfiDesc make_filter_description(const config::ConfigHolder* holder,
                                 const std::atomic<bool>* draining) {
    g_holder = holder;
    g_draining = draining;
    // Listed by `mppctl status` from the start, not only once they have counted something.
    for (const char* name : {"milter-connections", "milter-sessions", "milter-messages",
                             "milter-internal-errors"})
        metrics::get(name);
    smfiDesc d{};
    d.xxfi_name = const_cast<char*>("mppd");
    d.xxfi_version = SMFI_VERSION;
    d.xxfi_flags = 0;
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
