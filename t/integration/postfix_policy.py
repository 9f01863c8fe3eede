#!/usr/bin/env python3
"""postfix_policy: mppd as the policy service (check_policy_service) of a real (private) Postfix.

A private Postfix on a loopback port asks mppd's policy server first in
smtpd_recipient_restrictions and relays what it accepts to an SMTP sink of this test. mppd's
default group greylists (delay 2s) and has a spam trap (^trap@example\\.net$, block-for 1h).
Every SMTP session pretends a client address with XCLIENT, so one test covers several clients:
  (a) greylisting: first attempt 450 4.7.1 at RCPT with mppd's decision line, an immediate retry
      450 again, a retry after the delay 250, delivered with Postfix prepending
      "X-MPP-Greylist: delayed N seconds";
  (b) spam trap: the trap recipient gets 550 5.7.1, then the same client is refused (550) for a
      normal recipient while another client is not;
  (e) a threshold of recipients (3 per sender and hour, counted at END-OF-MESSAGE through
      smtpd_end_of_data_restrictions): a message to 2 recipients is accepted, the next one to 2
      gets 451 4.7.1 after DATA, and the sender's next message is deferred at RCPT;
  (c) restart on the same state-dir: the triplet that passed in (a) passes at once, a new
      triplet is still greylisted (the greylist is persisted), the client caught by the
      spam trap in (b) is still refused with 550 (the block list is persisted), and the sender
      over the threshold in (e) is still deferred (the threshold blocks are persisted);
  (d) mppd stopped: Postfix applies smtpd_policy_service_default_action = DUNNO and accepts the
      message. This is the opposite of the milter (milter_default_action = tempfail, see
      postfix_milter.py): with DUNNO an unreachable policy service lets mail through unchecked
      by the policy checks. smtpd_milters is left empty here so that only the policy service
      decides.
The greylist delay is the one wait of this test that is not a synchronisation: waiting past the
delay is what is tested.

Needs root (Postfix runs its daemons as user postfix) and Postfix installed.
Run alone: MPP_TOP_BUILDDIR=<build dir> MPP_TOP_SRCDIR=<source dir> python3 postfix_policy.py
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402
from mpptest.smtp import Session, by_msgid, expect, header, message, transaction  # noqa: E402

GREYLIST_DELAY = 2  # seconds, as configured below
TRAP = "trap@example.net"

BULK_CLIENT, BULK_SENDER = "192.0.2.200", "bulk@sender.example"
GROUP = ('  <list name="bulkers" type="cidr">%s</list>\n'
         '  <group name="default">\n'
         '    <greylist delay="%ds" retry-window="1h" exempt="bulkers"/>\n'
         '    <spamtrap pattern="^trap@example\\.net$" block-for="1h"/>\n'
         '    <threshold name="rcpts" recipients="3" period="1h" block-for="1h" action="defer"\n'
         '               key="sender"/>\n'
         '  </group>\n') % (BULK_CLIENT, GREYLIST_DELAY)


def attempt(t, port, addr, name, sender, rcpt, deliver=None):
    """MAIL, RCPT and (when RCPT got 250 and deliver is a message text) DATA from a pretended
    client. Returns (rcpt code, rcpt text, data code or None, session)."""
    replies, data, s = transaction(port, addr, name, sender, [rcpt], deliver)
    rc, rt = replies[0] if replies else (None, "")
    return rc, rt, data[0] if data else None, s


def start_mppd(t, d, what):
    p = d.start()
    ok = d.wait_ready() and mpptest.wait_for_port(d.policy_port, timeout=10)
    return t.ok(ok, what, lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err"))))


def main(t):
    t.require_root("a private Postfix")
    t.require_tool("postfix")
    d = mpptest.Mppd(t)
    started = time.monotonic()
    pid = os.getpid()

    sink = mpptest.start_sink(t)
    t.write(d.conf, d.config(extra=GROUP))
    if not start_mppd(t, d, "mppd starts with a greylist and a spam trap in group default"):
        return
    restrictions = ("check_policy_service inet:127.0.0.1:%d, permit_mynetworks, "
                    "reject_unauth_destination" % d.policy_port)
    pf = mpptest.Postfix(t, t.free_port(), sink.port, extra_main={
        "smtpd_recipient_restrictions": restrictions,
        "smtpd_end_of_data_restrictions": "check_policy_service inet:127.0.0.1:%d" % d.policy_port,
        "smtpd_policy_service_default_action": "DUNNO",
        "smtpd_policy_service_timeout": "30s",
    })
    ok, why = pf.start()
    if not t.ok(ok, "private Postfix starts with smtpd_recipient_restrictions = %s" % restrictions, why):
        return
    maillog = mpptest.LogWatch(pf.maillog)
    port = pf.smtp_port

    # ---- (a) greylisting --------------------------------------------------------------------
    sender_a, rcpt_a = "alice@sender.example", "bob@rcpt.example"
    d.log.mark()
    first = time.monotonic()
    rc, rt, _, s = attempt(t, port, "192.0.2.5", "client.example", sender_a, rcpt_a)
    expect(t, rc, 450, "(a) first attempt from 192.0.2.5: 450 at RCPT", repr(s))
    t.ok(re.match(r"4\.7\.1\b", rt), "(a) ... with enhanced status 4.7.1", repr(s))
    t.ok(d.log.wait(r"client=client\.example\[192\.0\.2\.5\] from=<%s> to=<%s> group=default "
                    r"check=greylist action=greylist" % (re.escape(sender_a), re.escape(rcpt_a)), 10),
         "(a) mppd logs the decision 'client=client.example[192.0.2.5] from=<%s> to=<%s> "
         "group=default check=greylist action=greylist'" % (sender_a, rcpt_a), lambda: d.log.text())

    rc, rt, _, s = attempt(t, port, "192.0.2.5", "client.example", sender_a, rcpt_a)
    expect(t, rc, 450, "(a) immediate retry: 450 again", repr(s))
    t.ok(time.monotonic() - first < GREYLIST_DELAY,
         "(a) the immediate retry really came before the delay was over")

    # The one wait that is the point of the test: past the greylist delay (whole seconds).
    time.sleep(max(0.0, first + GREYLIST_DELAY + 0.5 - time.monotonic()))
    msgid_a = "a.%d@sender.example" % pid
    rc, rt, dc, s = attempt(t, port, "192.0.2.5", "client.example", sender_a, rcpt_a,
                            deliver=message(sender_a, rcpt_a, "greylisted", msgid_a))
    expect(t, rc, 250, "(a) retry after %ds: 250 at RCPT" % GREYLIST_DELAY, repr(s))
    expect(t, dc, 250, "(a) ... and DATA accepted", repr(s))
    if dc == 250:
        m = sink.find(by_msgid(msgid_a), 30)
        if t.ok(m, "(a) the message reaches the sink"):
            expect(t, m.rcpt_to, [rcpt_a], "(a) envelope recipient")
            h = header(m.data, "X-MPP-Greylist")
            t.ok(re.fullmatch(r"delayed \d+ seconds", h or ""),
                 "(a) header 'X-MPP-Greylist: delayed N seconds'", m.data[:600])
            n = int(re.search(r"\d+", h).group(0)) if h and re.search(r"\d+", h) else -1
            t.ok(GREYLIST_DELAY <= n <= 30, "(a) N (%d) is the time the triplet waited" % n)

    # ---- (b) spam trap ----------------------------------------------------------------------
    sender_b = "mallory@spam.example"
    d.log.mark()
    rc, rt, _, s = attempt(t, port, "192.0.2.66", "trapped.example", sender_b, TRAP)
    expect(t, rc, 550, "(b) 192.0.2.66 RCPT %s: 550" % TRAP, repr(s))
    t.ok(re.match(r"5\.7\.1\b", rt), "(b) ... with enhanced status 5.7.1", repr(s))
    t.ok(d.log.wait(r"client=trapped\.example\[192\.0\.2\.66\] from=<%s> to=<%s> group=default "
                    r"check=\S+ action=reject" % (re.escape(sender_b), re.escape(TRAP)), 10),
         "(b) mppd logs the spam-trap rejection", lambda: d.log.text())
    rc, rt, _, s = attempt(t, port, "192.0.2.66", "trapped.example", sender_b, rcpt_a)
    expect(t, rc, 550, "(b) then 192.0.2.66 RCPT %s: 550 (the client is blocked)" % rcpt_a, repr(s))
    rc, rt, _, s = attempt(t, port, "192.0.2.66", "trapped.example", "other@sender.example",
                           "carol@rcpt.example")
    expect(t, rc, 550, "(b) 192.0.2.66 is blocked for another sender and recipient too", repr(s))
    rc, rt, _, s = attempt(t, port, "192.0.2.77", "innocent.example", sender_b, rcpt_a)
    t.ok(rc in (250, 450), "(b) another client 192.0.2.77 to %s: not refused (got %r; 450 "
         "greylisting is fine)" % (rcpt_a, rc), repr(s))

    # ---- (e) recipients threshold at END-OF-MESSAGE -----------------------------------------
    def bulk(rcpts, tag):
        s = Session(port, BULK_CLIENT, "bulk.example")
        try:
            s.mail(BULK_SENDER)
            codes = [s.rcpt(r)[0] for r in rcpts]
            dc = dt = None
            if all(c == 250 for c in codes):
                dc, dt = s.data(message(BULK_SENDER, rcpts[0], tag, "%s.%d@sender.example" % (tag, pid)))
            return codes, dc, dt, s
        finally:
            s.close()

    d.log.mark()
    codes, dc, _, s = bulk(["r1@rcpt.example", "r2@rcpt.example"], "bulk1")
    expect(t, (codes, dc), ([250, 250], 250), "(e) 2 recipients from %s: accepted (2 of 3)"
           % BULK_SENDER, repr(s))
    codes, dc, dt, s = bulk(["r3@rcpt.example", "r4@rcpt.example"], "bulk2")
    expect(t, (codes, dc), ([250, 250], 451), "(e) 2 more: RCPTs accepted, then 451 after DATA "
           "(4 recipients would be above 3)", repr(s))
    t.ok(re.match(r"4\.7\.1\b", dt or ""), "(e) ... with enhanced status 4.7.1", repr(s))
    t.ok(d.log.wait(r"check=threshold:rcpts action=defer", 10),
         "(e) mppd logs the threshold decision", lambda: d.log.text())
    t.ok(d.log.wait(r"threshold rcpts of group default crossed by %s \(2 recipients"
                    % re.escape(BULK_SENDER), 10),
         "(e) mppd logs the crossing with the recipients in the window", lambda: d.log.text())
    t.ok(not sink.find(by_msgid("bulk2.%d@sender.example" % pid), 1),
         "(e) the deferred message did not reach the sink")
    codes, dc, _, s = bulk(["r5@rcpt.example"], "bulk3")
    expect(t, codes, [451], "(e) the sender's next message: 451 at RCPT (blocked for 1h)", repr(s))

    # ---- (c) restart: the greylist persists -------------------------------------------------
    expect(t, d.stop(), 0, "(c) mppd stops (mppctl stop, exit 0)")
    t.ok(mpptest.wait_for_port_closed(d.policy_port, timeout=5), "(c) policy port closed")
    if not start_mppd(t, d, "(c) mppd starts again on the same state-dir"):
        return
    msgid_c = "c.%d@sender.example" % pid
    rc, rt, dc, s = attempt(t, port, "192.0.2.5", "client.example", sender_a, rcpt_a,
                            deliver=message(sender_a, rcpt_a, "passed before", msgid_c))
    expect(t, rc, 250, "(c) after the restart the triplet passed in (a) gets 250 at once", repr(s))
    expect(t, dc, 250, "(c) ... and DATA accepted", repr(s))
    if dc == 250:
        m = sink.find(by_msgid(msgid_c), 30)
        if t.ok(m, "(c) the message reaches the sink"):
            expect(t, header(m.data, "X-MPP-Greylist"), None,
                 "(c) no X-MPP-Greylist header: only the first pass after a delay has one",
                 m.data[:600])
    d.log.mark()
    sender_c = "dave@new.example"
    rc, rt, _, s = attempt(t, port, "192.0.2.5", "client.example", sender_c, rcpt_a)
    expect(t, rc, 450, "(c) a new triplet (sender %s) is greylisted: 450" % sender_c, repr(s))
    t.ok(d.log.wait(r"from=<%s> to=<%s> group=default check=greylist action=greylist"
                    % (re.escape(sender_c), re.escape(rcpt_a)), 10),
         "(c) mppd logs the greylist decision for the new triplet", lambda: d.log.text())
    d.log.mark()
    rc, rt, _, s = attempt(t, port, "192.0.2.66", "trapped.example", "other@sender.example",
                           "carol@rcpt.example")
    expect(t, rc, 550, "(c) the client trapped in (b) is still refused after the restart: 550",
           repr(s))
    t.ok(d.log.wait(r"client=trapped\.example\[192\.0\.2\.66\] .* check=blocklist action=reject", 10),
         "(c) mppd logs the block list (the spam trap's block) as the reason", lambda: d.log.text())
    codes, dc, _, s = bulk(["r6@rcpt.example"], "bulk4")
    expect(t, codes, [451], "(c) the sender over the threshold in (e) is still deferred after the "
           "restart: 451 at RCPT", repr(s))

    # ---- (d) mppd stopped: smtpd_policy_service_default_action = DUNNO ----------------------
    # Unlike the milter (milter_default_action = tempfail: 4xx), an unreachable policy service
    # makes Postfix apply smtpd_policy_service_default_action; DUNNO accepts the message.
    expect(t, d.stop(), 0, "(d) mppd stops (mppctl stop, exit 0)")
    t.ok(mpptest.wait_for_port_closed(d.policy_port, timeout=5), "(d) policy port closed")
    maillog.mark()
    sender_d, rcpt_d = "erin@unchecked.example", "frank@rcpt.example"
    msgid_d = "d.%d@sender.example" % pid
    rc, rt, dc, s = attempt(t, port, "203.0.113.9", "unchecked.example", sender_d, rcpt_d,
                            deliver=message(sender_d, rcpt_d, "policy service down", msgid_d))
    expect(t, rc, 250, "(d) with mppd stopped a new triplet gets 250 at RCPT (default action DUNNO, "
         "not greylisted)", repr(s))
    expect(t, dc, 250, "(d) ... and DATA accepted", repr(s))
    if dc == 250:
        t.ok(sink.find(by_msgid(msgid_d), 30), "(d) the message reaches the sink")
    t.ok(maillog.wait(r"(?i)warning: .*(127\.0\.0\.1:%d|policy)" % d.policy_port, 5),
         "(d) Postfix's log has a warning about the unreachable policy service",
         lambda: maillog.text())
    t.diag("elapsed %.1fs" % (time.monotonic() - started))


if __name__ == "__main__":
    mpptest.Test("postfix_policy").run(main)
