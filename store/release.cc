// store/release.cc: re-injection of a stored message through the MTA (see release.h).
#include "store/release.h"

#include <algorithm>

#include "lib/log.h"
#include "lib/mail_submit.h"
#include "store/maildir_index.h"
#include "store/spool_format.h"

namespace mpp::store {

ReleaseResult release(Query& store, const ReleaseRequest& req, const ReleaseSettings& settings) {
    ReleaseResult r;
    std::string error;
    auto stored = store.show(req.uuid, &error);
    if (!stored) {
        r.error = error.empty() ? "no entry " + req.uuid : error;
        return r;
    }
    const auto& rcpts = stored->entry.recipients;
    if (!req.recipients.empty()) {
        for (const auto& want : req.recipients) {
            bool found = false;
            for (const auto& have : rcpts) {
                if (!same_address(want, have.address)) continue;
                found = true;
                r.released.push_back(have.address);
                break;
            }
            if (!found) {
                r.error = "entry " + req.uuid + " has no recipient " + escape(want);
                return r;
            }
        }
    } else {
        for (std::size_t i = 0; i < rcpts.size(); ++i)
            if (i >= stored->released.size() || stored->released[i] == 0)
                r.released.push_back(rcpts[i].address);
        if (r.released.empty()) {
            r.error = "entry " + req.uuid +
                      " was released to every recipient already; name one with --rcpt to "
                      "release it again";
            return r;
        }
    }
    if (stored->body_size > settings.max_size) {
        r.error = "entry " + req.uuid + ": the message (" + std::to_string(stored->body_size) +
                  " bytes) is larger than " + std::to_string(settings.max_size) +
                  " bytes, the most a release holds in memory";
        return r;
    }
    std::string text;
    text.reserve(static_cast<std::size_t>(stored->body_size) + 64);
    if (!store.fetch(
            req.uuid,
            [&](std::string_view piece) {
                text.append(piece);
                return text.size() <= settings.max_size;
            },
            &error)) {
        r.error = "entry " + req.uuid + ": " + error;
        return r;
    }
    std::size_t nl = text.find('\n');
    const bool crlf = nl == std::string::npos || (nl > 0 && text[nl - 1] == '\r');
    text.insert(0, "X-MPP-Released: " + req.uuid + (crlf ? "\r\n" : "\n"));

    mail::Message m;
    m.sender = stored->entry.sender;
    m.recipients = req.to.empty() ? r.released : std::vector<std::string>{req.to};
    m.text = std::move(text);
    mail::Result sent;
    if (!settings.relay.empty()) {
        mail::SmtpOptions o;
        o.relay = settings.relay;
        o.timeout = settings.timeout;
        o.connect_timeout = std::min(settings.timeout, o.connect_timeout);
        r.via = "smtp " + settings.relay;
        sent = mail::submit_smtp(m, o);
    } else {
        mail::SendmailOptions o;
        o.program = settings.sendmail;
        o.timeout = settings.timeout;
        r.via = "sendmail " + settings.sendmail;
        sent = mail::submit_sendmail(m, o);
    }
    if (!sent.ok()) {
        r.error = "entry " + req.uuid + " not released: " + sent.error;
        r.released.clear();
        return r;
    }
    r.sent_to = m.recipients;
    for (const auto& a : r.released) {
        if (!store.mark_released(req.uuid, a, &error))
            log::warning(log::cat("release ", req.uuid, ": sent, but not marked released for <",
                                  escape(a), ">: ", error));
    }
    std::string to;
    for (const auto& a : r.sent_to) to += (to.empty() ? "<" : ",<") + escape(a) + ">";
    log::info(log::cat("release ", req.uuid, ": from=<", escape(m.sender), "> to=", to,
                       " via ", r.via, " queue-id=", escape(stored->entry.queue_id)));
    return r;
}

}  // namespace mpp::store
