#!/usr/bin/env python3
"""milter_checks: the SMTP-level checks from the milter alone (Sendmail's case, or Postfix with
smtpd_milters and no check_policy_service).

mppd runs with <policy-server enabled="no">, so <milter checks="auto"> makes the milter ask the
check engine at each RCPT TO. Group "vip" (recipient domain vip.example) has no checks; group
"default" greylists (delay 2s) and has a spam trap (^trap@example\\.net$, block-for 1h). A
private Postfix with smtpd_milters = mppd and no policy service relays to a sink; XCLIENT
pretends the client addresses:
  (a) greylisting: first attempt 450 4.7.1 at RCPT (Postfix logs it as milter-reject), the
      engine's decision line and the summary "action=refused"; an immediate retry 450 again;
      after the delay 250, delivered with "X-MPP-Greylist: delayed N seconds" on top and the
      summary "nrcpt=1 refused=0 ... action=accept" under Postfix's queue id;
  (b) spam trap: the trap recipient 550 5.7.1, then the same client 550 for a normal recipient
      while another client is not refused;
  (c) one transaction, two recipients: the greylisted one 450, the vip one 250; the message
      reaches the vip recipient only, and the summary says nrcpt=1 refused=1;
  (d) the milter protocol without an MTA (mpptest.MilterClient): the steps and macros mppd
      negotiates; an abort after a refused recipient and a second message on the same
      connection; a connection dropped mid-message; 200 sessions that end in aborts, drops and
      close-without-connect leave no session behind (mppctl status milter-sessions = 0);
  (e) mppd stops with exit 0 and its standard error has no sanitizer report (run against an
      ASan/UBSan build with MPP_TOP_BUILDDIR to check for leaks).
The greylist delay is the one wait that is not a synchronisation.

Needs root (Postfix runs its daemons as user postfix) and Postfix installed.
Run alone: MPP_TOP_BUILDDIR=<build dir> MPP_TOP_SRCDIR=<source dir> python3 milter_checks.py
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402
from mpptest.smtp import by_msgid, expect, header, header_lines, message, transaction  # noqa: E402

GREYLIST_DELAY = 2  # seconds, as configured below
TRAP = "trap@example.net"
VIP = "boss@vip.example"

GROUPS = ('  <group name="vip">\n'
          '    <match recipient-domain="vip.example"/>\n'
          '  </group>\n'
          '  <group name="default">\n'
          '    <greylist delay="%ds" retry-window="1h"/>\n'
          '    <spamtrap pattern="^trap@example\\.net$" block-for="1h"/>\n'
          '    <reject on="spamtrap" code="550" dsn="5.7.1">\n'
          '      Refused by %%GROUP%%: %%REASON%%.\n'
          '      See https://example.net/trap\n'
          '    </reject>\n'
          '  </group>\n') % GREYLIST_DELAY

SMFIM_CONNECT, SMFIM_ENVFROM, SMFIM_ENVRCPT, SMFIM_EOM = 0, 2, 3, 5
SMFIF_ADDHDRS = 0x1


def queue_id(data_reply):
    m = re.search(r"queued as (\S+)", data_reply[1]) if data_reply else None
    return m.group(1) if m else None


def summary(qid, name, addr, sender, nrcpt, refused, action):
    return (r"%s: client=%s\[%s\] from=<%s> nrcpt=%d refused=%d size=\d+( groups=\S+)?"
            r"( checks=\S+)? action=%s delay=\d+ms"
            % (re.escape(qid), re.escape(name), re.escape(addr), re.escape(sender), nrcpt,
               refused, action))


def greylisting(t, d, pf, sink, maillog):
    port = pf.smtp_port
    sender, rcpt = "alice@sender.example", "bob@rcpt.example"
    d.log.mark()
    maillog.mark()
    first = time.monotonic()
    replies, _, s = transaction(port, "192.0.2.5", "client.example", sender, [rcpt])
    expect(t, [c for c, _ in replies], [450], "(a) first attempt from 192.0.2.5: 450 at RCPT",
           repr(s))
    t.ok(replies and re.match(r"4\.7\.1\b", replies[0][1]), "(a) ... with enhanced status 4.7.1",
         repr(s))
    t.ok(maillog.wait(r"milter-reject: RCPT from client\.example\[192\.0\.2\.5\]: 450 4\.7\.1", 10),
         "(a) Postfix logs the 450 as the milter's (milter-reject), no policy service is asked",
         lambda: maillog.text())
    t.ok(d.log.wait(r"client=client\.example\[192\.0\.2\.5\] from=<%s> to=<%s> group=default "
                    r"check=greylist action=greylist" % (re.escape(sender), re.escape(rcpt)), 10),
         "(a) mppd logs the engine's decision line", lambda: d.log.text())
    t.ok(d.log.wait(summary("NOQUEUE", "client.example", "192.0.2.5", sender, 0, 1, "refused"), 10),
         "(a) mppd logs the summary 'NOQUEUE: ... nrcpt=0 refused=1 size=0 action=refused'",
         lambda: d.log.text())

    replies, _, s = transaction(port, "192.0.2.5", "client.example", sender, [rcpt])
    expect(t, [c for c, _ in replies], [450], "(a) immediate retry: 450 again", repr(s))
    t.ok(time.monotonic() - first < GREYLIST_DELAY,
         "(a) the immediate retry really came before the delay was over")

    # The one wait that is the point of the test: past the greylist delay (whole seconds).
    time.sleep(max(0.0, first + GREYLIST_DELAY + 0.5 - time.monotonic()))
    msgid = "a.%d@sender.example" % os.getpid()
    d.log.mark()
    replies, data, s = transaction(port, "192.0.2.5", "client.example", sender, [rcpt],
                                   deliver=message(sender, [rcpt], "greylisted", msgid))
    expect(t, [c for c, _ in replies], [250], "(a) retry after %ds: 250 at RCPT" % GREYLIST_DELAY,
           repr(s))
    expect(t, data and data[0], 250, "(a) ... and DATA accepted", repr(s))
    qid = queue_id(data)
    if qid:
        t.ok(d.log.wait(summary(qid, "client.example", "192.0.2.5", sender, 1, 0, "accept"), 10),
             "(a) mppd logs '%s: client=client.example[192.0.2.5] from=<%s> nrcpt=1 refused=0 "
             "size=N action=accept delay=Nms'" % (qid, sender), lambda: d.log.text())
    m = sink.find(by_msgid(msgid), 30)
    if t.ok(m, "(a) the message reaches the sink"):
        expect(t, m.rcpt_to, [rcpt], "(a) envelope recipient")
        h = header(m.data, "X-MPP-Greylist")
        t.ok(re.fullmatch(r"delayed \d+ seconds", h or ""),
             "(a) header 'X-MPP-Greylist: delayed N seconds'", m.data[:600])
        n = int(re.search(r"\d+", h).group(0)) if h and re.search(r"\d+", h) else -1
        t.ok(GREYLIST_DELAY <= n <= 30, "(a) N (%d) is the time the triplet waited" % n)
        lines = header_lines(m.data)
        mine = [i for i, l in enumerate(lines) if l.lower().startswith("x-mpp-greylist:")]
        subject = [i for i, l in enumerate(lines) if l.lower().startswith("subject:")]
        t.ok(mine and subject and mine[0] < subject[0],
             "(a) the header is inserted above the message's own headers", "\n".join(lines))


def spam_trap(t, d, pf):
    port = pf.smtp_port
    sender = "mallory@spam.example"
    d.log.mark()
    replies, _, s = transaction(port, "192.0.2.66", "trapped.example", sender, [TRAP])
    expect(t, [c for c, _ in replies], [550], "(b) 192.0.2.66 RCPT %s: 550" % TRAP, repr(s))
    t.ok(replies and re.match(r"5\.7\.1\b", replies[0][1]), "(b) ... with enhanced status 5.7.1",
         repr(s))
    # smtplib joins the lines of a multi-line reply with "\n" and strips each "550-5.7.1 ".
    expect(t, replies[0][1] if replies else None,
           "5.7.1 Refused by default: spam trap.\n5.7.1 See https://example.net/trap",
           "(b) the group's two-line <reject on=\"spamtrap\"> template as a multi-line reply "
           "(smfi_setmlreply), each line trimmed", repr(s))
    t.ok(d.log.wait(r"client=trapped\.example\[192\.0\.2\.66\] from=<%s> to=<%s> group=default "
                    r"check=spamtrap action=reject" % (re.escape(sender), re.escape(TRAP)), 10),
         "(b) mppd logs the spam-trap rejection", lambda: d.log.text())
    replies, _, s = transaction(port, "192.0.2.66", "trapped.example", sender, ["bob@rcpt.example"])
    expect(t, [c for c, _ in replies], [550],
           "(b) then 192.0.2.66 RCPT bob@rcpt.example: 550 (the client is blocked)", repr(s))
    t.ok(d.log.wait(r"to=<bob@rcpt\.example> group=default check=blocklist action=reject", 10),
         "(b) mppd logs the block-list rejection", lambda: d.log.text())
    replies, _, s = transaction(port, "192.0.2.77", "innocent.example", sender,
                                ["bob@rcpt.example"])
    codes = [c for c, _ in replies]
    t.ok(codes and codes[0] in (250, 450),
         "(b) another client 192.0.2.77: not refused (got %r; 450 greylisting is fine)" % codes,
         repr(s))


def two_recipients(t, d, pf, sink):
    sender = "carol@sender.example"
    rcpts = ["dave@rcpt.example", VIP]
    msgid = "c.%d@sender.example" % os.getpid()
    d.log.mark()
    replies, data, s = transaction(pf.smtp_port, "192.0.2.88", "mixed.example", sender, rcpts,
                                   deliver=message(sender, rcpts, "two recipients", msgid))
    expect(t, [c for c, _ in replies], [450, 250],
           "(c) one transaction: %s greylisted (450), %s (group vip) accepted (250)" % tuple(rcpts),
           repr(s))
    expect(t, data and data[0], 250, "(c) DATA accepted for the one recipient", repr(s))
    qid = queue_id(data)
    if qid:
        t.ok(d.log.wait(summary(qid, "mixed.example", "192.0.2.88", sender, 1, 1, "accept"), 10),
             "(c) mppd's summary: nrcpt=1 refused=1 action=accept", lambda: d.log.text())
    m = sink.find(by_msgid(msgid), 30)
    if t.ok(m, "(c) the message reaches the sink"):
        expect(t, m.rcpt_to, [VIP], "(c) only the accepted recipient is delivered")
        expect(t, header(m.data, "X-MPP-Greylist"), None, "(c) no greylist header")


def expect_reply(t, got, letter, name, prefix=None):
    ok = got is not None and got[0] == letter and (prefix is None or got[1].startswith(prefix))
    return t.ok(ok, name, lambda: "got %r" % (got,))


def milter_protocol(t, d):
    """(d) mppd's milter port driven as an MTA would, aborts and drops included."""
    host, port = mpptest.LOOPBACK, d.milter_port
    c = mpptest.MilterClient(host, port)
    try:
        _, actions, protocol = c.negotiate()
        skipped = (mpptest.SMFIP_NODATA | mpptest.SMFIP_NOEOH | mpptest.SMFIP_NOUNKNOWN |
                   mpptest.SMFIP_NR_HELO | mpptest.SMFIP_NR_HDR | mpptest.SMFIP_NR_BODY)
        expect(t, protocol, skipped,
               "(d) negotiated: no DATA, EOH or unknown commands; no reply to HELO, headers, body")
        expect(t, actions & SMFIF_ADDHDRS, SMFIF_ADDHDRS, "(d) asks to add headers")
        expect(t, c.macro_lists, {SMFIM_CONNECT: "j _ {daemon_name} {if_addr}",
                                  SMFIM_ENVFROM: "i {auth_authen}", SMFIM_ENVRCPT: "i",
                                  SMFIM_EOM: "i"}, "(d) the macros it asks for, per stage")
        d.log.mark()
        expect_reply(t, c.connect("proto.example", "198.51.100.7"), "c", "(d) connect: continue")
        expect(t, c.helo("proto.example"), None, "(d) HELO: no reply")
        expect_reply(t, c.mail("erin@sender.example", ""), "c", "(d) MAIL: continue")
        expect_reply(t, c.rcpt("frank@rcpt.example", ""), "y",
                     "(d) RCPT of a new triplet: reply code 450 4.7.1", b"450 4.7.1 ")
        c.abort()
        t.ok(d.log.wait(summary("NOQUEUE", "proto.example", "198.51.100.7", "erin@sender.example",
                                0, 1, "refused"), 10),
             "(d) abort after the refused recipient: summary action=refused", lambda: d.log.text())
        expect_reply(t, c.mail("erin@sender.example", "PROTO2"), "c",
                     "(d) a second MAIL on the same connection: continue")
        expect_reply(t, c.rcpt(VIP, "PROTO2"), "c", "(d) RCPT %s: continue" % VIP)
        expect(t, c.data("PROTO2"), None, "(d) DATA is not sent (negotiated away)")
        expect(t, c.header("Subject", "protocol"), None, "(d) header: no reply")
        expect(t, c.eoh("PROTO2"), None, "(d) EOH is not sent")
        expect(t, c.body(b"Hello.\r\n"), None, "(d) body: no reply")
        expect_reply(t, c.eom("PROTO2"), "c", "(d) end of message: continue")
        expect(t, c.modifications, [], "(d) no header added without a greylist pass")
        t.ok(d.log.wait(summary("PROTO2", "proto.example", "198.51.100.7", "erin@sender.example",
                                1, 0, "accept"), 10),
             "(d) summary of the second message: nrcpt=1 refused=0 action=accept",
             lambda: d.log.text())
    finally:
        c.quit()
    t.ok(d.log.wait(r"disconnect from proto\.example\[198\.51\.100\.7\]", 10),
         "(d) disconnect logged", lambda: d.log.text())

    # Dropped mid-message: libmilter calls abort, then close.
    d.log.mark()
    c = mpptest.MilterClient(host, port)
    c.negotiate()
    c.connect("drop.example", "198.51.100.8")
    c.mail("gina@sender.example", "PROTO3")
    expect_reply(t, c.rcpt(VIP, "PROTO3"), "c", "(d) dropped connection: RCPT accepted first")
    c.close()
    t.ok(d.log.wait(summary("PROTO3", "drop.example", "198.51.100.8", "gina@sender.example", 1, 0,
                            "abort"), 10),
         "(d) a connection dropped mid-message logs action=abort", lambda: d.log.text())

    # Many sessions ending every way but the normal one.
    failures = []
    for i in range(200):
        c = mpptest.MilterClient(host, port)
        try:
            c.negotiate()
            kind = i % 4
            if kind == 0:       # close without connect
                c.close()
                continue
            c.connect("churn%d.example" % i, "198.51.100.%d" % (10 + i % 200))
            c.mail("churn%d@sender.example" % i, "")
            r = c.rcpt(VIP if kind == 1 else "x%d@rcpt.example" % i, "")
            if r is None or r[0] not in "cy":
                failures.append((i, r))
            if kind == 3:
                c.abort()
                c.quit()
            else:
                c.close()   # dropped after RCPT (accepted or refused)
        except (OSError, mpptest.MilterError) as e:
            failures.append((i, repr(e)))
            c.close()
    expect(t, failures, [], "(d) 200 sessions ending in close-before-connect, drops and aborts")

    def no_sessions():
        _, st, _ = d.status()
        return st.get("milter-sessions") == "0"
    t.ok(mpptest.wait_for(no_sessions, 10), "(d) every session is freed: milter-sessions 0",
         lambda: d.status()[2])
    _, st, out = d.status()
    expect(t, st.get("milter-internal-errors"), "0", "(d) no internal error", out)
    expect(t, st.get("milter-action-errors"), "0", "(d) no failed smfi_* action", out)


def main(t):
    t.require_root("a private Postfix")
    t.require_tool("postfix")
    d = mpptest.Mppd(t)
    started = time.monotonic()

    sink = mpptest.start_sink(t)
    t.write(d.conf, d.config(extra=GROUPS, policy_attrs=' enabled="no"'))
    p = d.start()
    if not t.ok(d.wait_ready(), "mppd starts with <policy-server enabled=\"no\"> and greylisting",
                lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        return
    t.unlike(d.log.text(since_mark=False), r"have no effect|count(s)? twice",
             "mppd does not warn where the checks run (the milter runs them)")
    pf = mpptest.Postfix(t, t.free_port(), sink.port, milter="inet:127.0.0.1:%d" % d.milter_port)
    ok, why = pf.start()
    if not t.ok(ok, "private Postfix starts with smtpd_milters = mppd, no policy service", why):
        return
    maillog = mpptest.LogWatch(pf.maillog)

    greylisting(t, d, pf, sink, maillog)
    spam_trap(t, d, pf)
    two_recipients(t, d, pf, sink)
    milter_protocol(t, d)

    # ---- (e) stop; no sanitizer report ------------------------------------------------------
    pf.stop()
    expect(t, d.stop(), 0, "(e) mppd stops (mppctl stop, exit 0)")
    err = mpptest.read_file(t.path("mppd.err"))
    t.unlike(err, r"==\d+==ERROR: |SUMMARY: \w*Sanitizer|runtime error: ",
             "(e) mppd's standard error has no sanitizer report")
    t.diag("elapsed %.1fs" % (time.monotonic() - started))


if __name__ == "__main__":
    mpptest.Test("milter_checks").run(main)
