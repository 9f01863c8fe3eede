#!/usr/bin/env python3
"""policy_alerts: alert mail for threshold crossings from a running mppd.

The contract: mppd with a threshold of 2 messages (action defer, block-for 0s, so every further
message of the client crosses it again) and <alerts relay=...> pointing at a local SMTP sink:
- while the relay refuses the message, the crossing is logged as a failed alert with the
  relay's reply, and nothing is stored;
- once it accepts, a client sending 6 messages gets DUNNO twice, then 4 deferrals, and exactly one
  alert mail arrives (the other 3 crossings are rate-limited by min-interval and logged so):
  envelope from <alerts from>, to the rule's alert-to; From, To, Subject "mppd: threshold burst
  (group default) crossed by CLIENT", Date, Message-ID, Auto-Submitted: auto-generated; the body
  names group, rule, key and action; the log says "alert: sent to=<...> rule=burst key=CLIENT";
- after `mppctl reload` with <alerts sendmail=SCRIPT> (no relay), the next client's crossing
  runs the script as `SCRIPT -i -f FROM -- RCPT` with the message on its standard input, and
  the sink receives nothing more.

Run alone: MPP_TOP_BUILDDIR=<build dir> MPP_TOP_SRCDIR=<source dir> python3 policy_alerts.py
"""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402
from mpptest.policy import policy_request as ask_policy  # noqa: E402

FROM = "mppd-alerts@gw.example"
ALERT_TO = "abuse@example.net"
GROUPS = ('  <group name="default">\n'
          '    <threshold name="burst" messages="2" period="1h" block-for="0s" action="defer"'
          ' alert-to="%s"/>\n'
          '  </group>\n') % ALERT_TO
REPLY_TIMEOUT = 10  # seconds


def alerts_relay(port):
    return ('  <alerts from="%s" to="postmaster@example.org" relay="127.0.0.1:%d"'
            ' min-interval="1h"/>\n') % (FROM, port)


def alerts_sendmail(program):
    return ('  <alerts from="%s" to="postmaster@example.org" sendmail="%s"'
            ' min-interval="1h"/>\n') % (FROM, program)


def policy_request(port, client, instance):
    """One Postfix policy request (RCPT stage); returns the action value."""
    return ask_policy(port, client, instance, timeout=REPLY_TIMEOUT)


def header(msg, name):
    headers, _ = msg.headers_and_body()
    for n, raw in headers:
        if n.lower() == name.lower():
            return raw.decode("ascii", "replace").split(":", 1)[1].strip()
    return None


def main(t):
    sink = mpptest.start_sink(t)
    d = mpptest.Mppd(t)
    t.write(d.conf, d.config(extra=alerts_relay(sink.port) + GROUPS))
    p = d.start()
    if not t.ok(d.wait_ready(), "mppd starts with <alerts relay> and a threshold",
                lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        return
    t.unlike(mpptest.read_file(t.path("mppd.err")) + d.log.text(), r"alert mail",
             "no 'not implemented' warning for <alerts>")

    # ---- a relay that refuses: a failed alert with its reply -------------------------------
    sink.reply_data = "554 5.7.1 no alerts today"
    a = "192.0.2.10"
    for i in range(3):
        policy_request(d.policy_port, a, "r%d" % i)
    m = d.log.wait(r"warning: alert: failed to=<%s> rule=burst key=%s group=default: "
                   r"smtp 127\.0\.0\.1:%d: .*554 5\.7\.1 no alerts today$"
                   % (re.escape(ALERT_TO), re.escape(a), sink.port), 20)
    t.ok(m, "a refused alert is logged as failed with the relay's reply", lambda: d.log.text())
    t.eq(len(sink.messages), 0, "the refusing relay stored nothing")

    # ---- the relay accepts: exactly one alert for 4 crossings ------------------------------
    sink.reply_data = "250 2.0.0 Ok: stored"
    client = "192.0.2.20"
    actions = [policy_request(d.policy_port, client, "m%d" % i) for i in range(6)]
    t.eq(actions[:2], ["DUNNO", "DUNNO"], "the first 2 messages pass")
    t.ok(all(re.match(r"4\d\d 4\.7\.1 ", x) for x in actions[2:]),
         "messages 3 to 6 are deferred (the threshold is crossed each time)", repr(actions))
    msgs = sink.wait_for_messages(1, timeout=20)
    t.ok(msgs, "an alert mail reaches the relay")
    # post() decides the rate limit before the policy reply: the 3 lines are already written.
    limited = re.findall(r"alert: rate-limited rule=burst key=%s group=default" % re.escape(client),
                         d.log.text())
    t.eq(len(limited), 3, "the 3 later crossings are rate-limited and logged")
    t.ok(d.log.wait(r"alert: sent to=<%s> rule=burst key=%s group=default$"
                    % (re.escape(ALERT_TO), re.escape(client)), 10),
         "the log says the alert was sent")
    t.eq(len(sink.messages), 1, "exactly one alert mail")
    if msgs:
        msg = msgs[0]
        t.eq(msg.mail_from, FROM, "envelope sender is <alerts from>")
        t.eq(msg.rcpt_to, [ALERT_TO], "envelope recipient is the rule's alert-to")
        t.eq(header(msg, "From"), FROM, "From: header")
        t.eq(header(msg, "To"), ALERT_TO, "To: header")
        t.eq(header(msg, "Subject"), "mppd: threshold burst (group default) crossed by %s" % client,
             "Subject: names rule, group and key")
        t.eq(header(msg, "Auto-Submitted"), "auto-generated", "Auto-Submitted: auto-generated")
        t.like(header(msg, "Date") or "",
               r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
               r"Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000$", "Date: in RFC 5322 form")
        t.like(header(msg, "Message-ID") or "", r"^<[^<>@\s]+@[^<>@\s]+>$", "Message-ID: present")
        _, body = msg.headers_and_body()
        body = body.decode("ascii", "replace")
        for line in ("group:     default", "rule:      burst", "key:       %s" % client,
                     "action:    defer"):
            t.like(body, r"^  %s" % re.escape(line), "the body says %s" % line)

    # ---- reload: the sendmail program instead of the relay ---------------------------------
    out = t.mkdir("sendmail-out", owner=d.user)
    script = t.path("sendmail.sh")
    t.write(script, "#!/bin/sh\n"
                    "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done > '%s/argv.tmp'\n"
                    "cat > '%s/msg'\n"
                    "mv '%s/argv.tmp' '%s/argv'\n" % (out, out, out, out), mode=0o755)
    t.write(d.conf, d.config(extra=alerts_sendmail(script) + GROUPS))
    rc, o, e = d.ctl("reload")
    t.eq(rc, 0, "mppctl reload to <alerts sendmail> exits 0")
    client = "192.0.2.30"
    for i in range(3):
        policy_request(d.policy_port, client, "s%d" % i)
    argv_file = os.path.join(out, "argv")
    t.ok(mpptest.wait_for_file(argv_file, 20), "the sendmail script ran",
         lambda: d.log.text())
    t.eq(mpptest.read_file(argv_file), "-i\n-f\n%s\n--\n%s\n" % (FROM, ALERT_TO),
         "argv: -i -f FROM -- RCPT")
    msg = mpptest.read_file(os.path.join(out, "msg")) or ""
    t.like(msg, r"^Subject: mppd: threshold burst \(group default\) crossed by %s$"
           % re.escape(client), "the script got the alert on its standard input")
    t.like(msg, r"^Auto-Submitted: auto-generated$", "with Auto-Submitted")
    t.unlike(msg, "\r", "with local (LF) line ends")
    t.ok(d.log.wait(r"alert: sent to=<%s> rule=burst key=%s group=default$"
                    % (re.escape(ALERT_TO), re.escape(client)), 10),
         "the log says the alert was sent")
    t.eq(len(sink.messages), 1, "the relay got nothing more")

    t.eq(d.stop(), 0, "mppd stops")


if __name__ == "__main__":
    mpptest.Test("policy_alerts").run(main)
