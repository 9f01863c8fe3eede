// lib/config_schema_shared.h: pieces of the schema used by more than one area file: common
// choices, the attributes of <match>/<allow>/<deny>, and the <reject>/<defer> elements (which
// appear both globally and in groups). Internal to lib/config_schema_*.cc.
#pragma once

#include <string_view>

#include "lib/config_schema.h"

namespace mpp::config::schema {

extern const Choices kDirections;  // any inbound outbound
extern const Choices kEngineErrors;
extern const Choices kCheckModes;  // enforce shadow

// Adds recipient, recipient-domain, sender, sender-domain, client, direction, sasl.
void add_match_attrs(Element& e);
// Requires at least one attribute (for <allow> and <deny>, which would otherwise match all).
void require_some_match(Element& e);

// <reject> or <defer> under `parent`, stored in `member` of P (Config or GroupCfg).
template <typename P>
Element reply_element(bool reject, std::string_view parent, std::vector<ReplyCfg> P::*member);

void add_reply_attrs_and_checks(Element& e, bool reject);

template <typename P>
Element reply_element(bool reject, std::string_view parent, std::vector<ReplyCfg> P::*member) {
    Builder<ReplyCfg, P> b(
        reject ? "reject" : "defer", parent, Mult::many,
        reject ? "The permanent (5xx) SMTP reply for a condition; the text is a template."
               : "The temporary (4xx) SMTP reply for a condition; the text is a template.");
    b.in(member).built(true, "");
    b.text(Text::template_text, &ReplyCfg::text,
           "Reply text; %MACRO%s: GROUP REASON QUEUEID CLIENT_IP CLIENT_NAME HELO SENDER RECIPIENT "
           "CHECK SCORE VIRUS RBL DELAY. "
           "Several lines give a multi-line reply.",
           &kReplyMacros);
    Element e = b.done();
    add_reply_attrs_and_checks(e, reject);
    return e;
}

}  // namespace mpp::config::schema
