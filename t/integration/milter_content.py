#!/usr/bin/env python3
"""milter_content: the milter's content stage with a real Postfix (smtpd_milters, no policy
service): header filters, a subject threshold and the message size limit at end-of-message.

mppd runs with <policy-server enabled="no"> (the milter runs the checks), <limits
max-message-size="20000" spill-size="4096"> (bodies over 4 KiB go to a temp file in the test's
spool directory), and group "default" with a header
filter that rejects Subject "^forbidden", one that tags Subject "^offer", and a threshold keyed
on the subject (messages=2 in 2 minutes, block for 1 hour). XCLIENT pretends the clients; a
local sink receives what Postfix relays:
  (a) a message with Subject "forbidden ..." gets 550 5.7.1 after DATA (Postfix logs
      milter-reject END-OF-MESSAGE), mppd's summary says action=reject with the filter, and
      nothing reaches the sink;
  (b) a message with Subject "offer ..." is delivered with "X-MPP-Status: tagged (an offer)"
      on top of its headers;
  (c) three messages with the same subject (in other case and spacing, from two clients): the
      first two are delivered, the third gets 550 after DATA; a message with another subject
      passes right after;
  (d) a message of 30000 bytes gets 552 5.3.4 after DATA;
  (e) group "sales" (recipient domain sales.example) rejects Subject "^newsletter": a message
      to a sales and a default recipient is accepted, the sales recipient removed
      (smfi_delrcpt, logged), and only the default recipient receives it;
  (f) the milter protocol without an MTA (mpptest.MilterClient): header and body get replies
      (the content stage is on); 400 sessions whose messages (bodies over spill-size, so in
      temp files) end in end-of-message, abort, a dropped connection or a second message leave
      no session and no descriptor behind;
  (h) a message with a 94 KB header field gets 552 5.3.4 from mppd's size limit (a permanent
      refusal, never a tempfail that would make the sender retry forever);
  (g) mppd stops with exit 0, no failed smfi_* action, no sanitizer report (run against an
      ASan/UBSan build with MPP_TOP_BUILDDIR to check for leaks).
No wait in this test is a sleep: each waits for a log line or a delivered message.

Needs root (Postfix runs its daemons as user postfix) and Postfix installed.
Run alone: MPP_TOP_BUILDDIR=<build dir> MPP_TOP_SRCDIR=<source dir> python3 milter_content.py
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402
from mpptest.smtp import (by_msgid, expect, header, header_lines, message,  # noqa: E402
                          transaction)

SENDER = "alice@sender.example"
RCPT = "bob@rcpt.example"

CONFIG = ('  <store spool="%s"/>\n'
          '  <group name="sales">\n'
          '    <match recipient-domain="sales.example"/>\n'
          '    <header-filter header="Subject" pattern="^newsletter" action="reject"\n'
          '                   reason="no newsletters"/>\n'
          '  </group>\n'
          '  <limits max-message-size="20000" spill-size="4096"/>\n'
          '  <group name="default">\n'
          '    <header-filter header="Subject" pattern="^forbidden" action="reject"\n'
          '                   reason="forbidden subject"/>\n'
          '    <header-filter header="Subject" pattern="^offer" action="tag" reason="an offer"/>\n'
          '    <threshold name="bounces" key="subject" messages="2" period="2m" block-for="1h"\n'
          '               action="block"/>\n'
          '  </group>\n')


def send(pf, addr, name, subject, tag, body=None):
    """One message from SENDER to RCPT; returns (rcpt replies, data reply, msgid, session)."""
    msgid = "%s.%d@sender.example" % (tag, os.getpid())
    text = message(SENDER, [RCPT], subject, msgid)
    if body is not None:
        text += body
    replies, data, s = transaction(pf.smtp_port, addr, name, SENDER, [RCPT], deliver=text)
    return replies, data, msgid, s


def header_filter_reject(t, d, pf, sink, maillog):
    d.log.mark()
    maillog.mark()
    replies, data, msgid, s = send(pf, "192.0.2.40", "filtered.example", "forbidden words", "a")
    expect(t, [c for c, _ in replies], [250], "(a) RCPT accepted", repr(s))
    expect(t, data and data[0], 550, "(a) Subject 'forbidden ...': 550 after DATA", repr(s))
    t.ok(data and data[1].startswith("5.7.1"), "(a) ... with 5.7.1 and the filter's reason",
         repr(s))
    t.ok(data and "forbidden subject" in data[1], "(a) ... the reply names the reason", repr(s))
    t.ok(maillog.wait(r"milter-reject: END-OF-MESSAGE from filtered\.example\[192\.0\.2\.40\]: "
                      r"5\.7\.1", 10),
         "(a) Postfix logs the milter's END-OF-MESSAGE reject", lambda: maillog.text())
    t.ok(d.log.wait(r"client=filtered\.example\[192\.0\.2\.40\] from=<%s> nrcpt=1 refused=0 "
                    r"size=\d+ groups=default checks=header-filter:\d+\(reject\) action=reject "
                    r"delay=\d+ms reason=\"forbidden subject\"" % re.escape(SENDER), 10),
         "(a) mppd's summary: groups=default checks=header-filter:LINE(reject) action=reject",
         lambda: d.log.text())
    return msgid


def tagged(t, d, pf, sink):
    replies, data, msgid, s = send(pf, "192.0.2.41", "offers.example", "offer of the week", "b")
    expect(t, data and data[0], 250, "(b) Subject 'offer ...': accepted", repr(s))
    m = sink.find(by_msgid(msgid), 30)
    if t.ok(m, "(b) the tagged message reaches the sink"):
        expect(t, header(m.data, "X-MPP-Status"), "tagged (an offer)",
               "(b) header 'X-MPP-Status: tagged (an offer)'", m.data[:600])
        lines = header_lines(m.data)
        mine = [i for i, l in enumerate(lines) if l.lower().startswith("x-mpp-status:")]
        subject = [i for i, l in enumerate(lines) if l.lower().startswith("subject:")]
        t.ok(mine and subject and mine[0] < subject[0],
             "(b) the header is inserted above the message's own headers", "\n".join(lines))


def subject_threshold(t, d, pf, sink):
    subjects = ["Undelivered Mail Returned to Sender", "undelivered mail  returned to SENDER",
                "UNDELIVERED MAIL RETURNED TO SENDER"]
    clients = [("192.0.2.50", "bounce1.example"), ("192.0.2.51", "bounce2.example"),
               ("192.0.2.50", "bounce1.example")]
    delivered = []
    for i, (subject, (addr, name)) in enumerate(zip(subjects, clients)):
        d.log.mark()
        _, data, msgid, s = send(pf, addr, name, subject, "c%d" % i)
        if i < 2:
            expect(t, data and data[0], 250,
                   "(c) message %d with the subject (%r): accepted" % (i + 1, subject), repr(s))
            delivered.append(msgid)
        else:
            expect(t, data and data[0], 550,
                   "(c) the third with the same subject (%r): 550 after DATA" % subject, repr(s))
            t.ok(d.log.wait(r"checks=threshold:bounces action=reject", 10),
                 "(c) mppd's summary names the threshold", lambda: d.log.text())
            t.ok(d.log.wait(r"threshold bounces of group default crossed by undelivered mail "
                            r"returned to sender", 10),
                 "(c) mppd logs the crossing with the subject key", lambda: d.log.text())
    body = "".join("line %05d %s\r\n" % (i, "y" * 50) for i in range(150))  # 9450 bytes
    _, data, msgid, s = send(pf, "192.0.2.50", "bounce1.example", "Another subject", "c3", body)
    expect(t, data and data[0], 250,
           "(c) another subject from the same client (%d bytes of body, kept in a temp file): "
           "accepted" % len(body), repr(s))
    delivered.append(msgid)
    for m in delivered:
        t.ok(sink.find(by_msgid(m), 30), "(c) %s delivered" % m)


def too_big(t, d, pf, sink):
    d.log.mark()
    body = "".join("line %05d %s\r\n" % (i, "x" * 50) for i in range(500))  # about 30000 bytes
    _, data, msgid, s = send(pf, "192.0.2.60", "big.example", "a big one", "d", body)
    expect(t, data and data[0], 552, "(d) a message of %d bytes: 552 after DATA" % len(body),
           repr(s))
    t.ok(data and data[1].startswith("5.3.4"), "(d) ... with 5.3.4", repr(s))
    t.ok(d.log.wait(r"client=big\.example\[192\.0\.2\.60\] .* action=reject delay=\d+ms "
                    r"reason=\"message size \d+ exceeds 20000\"", 10),
         "(d) mppd's summary says why", lambda: d.log.text())
    return msgid


def long_header(t, d, pf):
    """A header field of 94 KB (Postfix allows up to header_size_limit, 100 KiB): mppd refuses
    it by its own <limits> (here the message size limit of 20000 bytes comes first) with a
    permanent reply, instead of a tempfail that would make the sender retry forever."""
    d.log.mark()
    msgid = "h.%d@sender.example" % os.getpid()
    text = message(SENDER, [RCPT], "long header", msgid)
    head, body = text.split("\r\n\r\n", 1)
    folded = "\r\n".join(" " + "y" * 70 for _ in range(1300))  # 1300 lines of 71: ~94 KB
    text = head + "\r\nX-Long:" + folded + "\r\n\r\n" + body
    _, data, s = transaction(pf.smtp_port, "192.0.2.80", "long.example", SENDER, [RCPT],
                             deliver=text)
    expect(t, data and data[0], 552, "(h) a 94 KB header field: 552 after DATA, not a tempfail",
           repr(s))
    t.ok(data and data[1].startswith("5.3.4"), "(h) ... with 5.3.4", repr(s))


def removal(t, d, pf, sink):
    d.log.mark()
    rcpts = ["carol@sales.example", RCPT]
    msgid = "f.%d@sender.example" % os.getpid()
    replies, data, s = transaction(pf.smtp_port, "192.0.2.70", "news.example", SENDER, rcpts,
                                   deliver=message(SENDER, rcpts, "newsletter of May", msgid))
    expect(t, [c for c, _ in replies], [250, 250], "(e) both recipients accepted at RCPT",
           repr(s))
    expect(t, data and data[0], 250, "(e) the message is accepted (the groups disagree)",
           repr(s))
    t.ok(d.log.wait(r"client=news\.example\[192\.0\.2\.70\] from=<%s> to=<carol@sales\.example> "
                    r"group=sales check=header-filter:\d+\(reject\) action=reject "
                    r"reason=\"no newsletters\": recipient removed" % re.escape(SENDER), 10),
         "(e) mppd logs the removed recipient", lambda: d.log.text())
    t.ok(d.log.wait(r"nrcpt=2 refused=0 size=\d+ removed=1 groups=sales,default", 10),
         "(e) mppd's summary: removed=1 groups=sales,default", lambda: d.log.text())
    m = sink.find(by_msgid(msgid), 30)
    if t.ok(m, "(e) the message reaches the sink"):
        expect(t, m.rcpt_to, [RCPT], "(e) only the default group's recipient gets it")


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def churn(t, d):
    host, port = mpptest.LOOPBACK, d.milter_port
    body = b"".join(b"line %05d %s\r\n" % (i, b"z" * 60) for i in range(100))  # 7100 bytes
    c = mpptest.MilterClient(host, port)
    try:
        _, actions, protocol = c.negotiate()
        expect(t, protocol & (mpptest.SMFIP_NR_HDR | mpptest.SMFIP_NR_BODY), 0,
               "(f) negotiated: replies to headers and body (the content stage is on)")
        expect(t, actions & 0x9, 0x9, "(f) asks to add headers and remove recipients")
        c.connect("proto.example", "198.51.100.7")
        c.mail(SENDER, "CHURN0")
        c.rcpt(RCPT, "CHURN0")
        expect(t, c.header("Subject", "forbidden by protocol"), ("c", b""), "(f) header: continue")
        expect(t, c.body(body), ("c", b""), "(f) body chunk: continue")
        r = c.eom("CHURN0")
        t.ok(r and r[0] == "y" and r[1].startswith(b"550 5.7.1 "),
             "(f) end of message: reply code 550 5.7.1 from the header filter", repr(r))
    finally:
        c.quit()

    def no_sessions():
        _, st, _ = d.status()
        return st.get("milter-sessions") == "0"
    mpptest.wait_for(no_sessions, 10)
    before = open_fds(d.proc.pid)
    failures = []
    for i in range(400):
        c = mpptest.MilterClient(host, port)
        try:
            c.negotiate()
            c.connect("churn%d.example" % i, "198.51.100.%d" % (10 + i % 200))
            c.mail(SENDER, "")
            c.rcpt(RCPT, "")
            c.header("Subject", "churn %d" % i)
            r = c.body(body)
            if r is None or r[0] != "c":
                failures.append((i, r))
            kind = i % 4
            if kind == 0:
                r = c.eom("")
                if r is None or r[0] not in "ac":
                    failures.append((i, r))
                c.quit()
            elif kind == 1:
                c.abort()
                c.quit()
            elif kind == 2:
                c.close()   # dropped mid-message
            else:           # aborted, then a second message on the same connection
                c.abort()
                c.mail(SENDER, "")
                c.rcpt(RCPT, "")
                c.body(body)
                c.eom("")
                c.quit()
        except (OSError, mpptest.MilterError) as e:
            failures.append((i, repr(e)))
            c.close()
    expect(t, failures, [], "(f) 400 sessions with spilled bodies ending in end-of-message, "
           "aborts, drops and second messages")
    t.ok(mpptest.wait_for(no_sessions, 10), "(f) every session is freed: milter-sessions 0",
         lambda: d.status()[2])
    t.ok(mpptest.wait_for(lambda: open_fds(d.proc.pid) <= before, 10),
         "(f) no descriptor left behind (%d before, %d after)" % (before,
                                                                 open_fds(d.proc.pid)))


def main(t):
    t.require_root("a private Postfix")
    t.require_tool("postfix")
    d = mpptest.Mppd(t)
    started = time.monotonic()
    spool = t.mkdir("spool", owner=d.user, mode=0o700)

    sink = mpptest.start_sink(t)
    t.write(d.conf, d.config(extra=CONFIG % spool, policy_attrs=' enabled="no"'))
    p = d.start()
    if not t.ok(d.wait_ready(), "mppd starts with header filters and a subject threshold",
                lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        return
    pf = mpptest.Postfix(t, t.free_port(), sink.port, milter="inet:127.0.0.1:%d" % d.milter_port)
    ok, why = pf.start()
    if not t.ok(ok, "private Postfix starts with smtpd_milters = mppd, no policy service", why):
        return
    maillog = mpptest.LogWatch(pf.maillog)

    rejected = header_filter_reject(t, d, pf, sink, maillog)
    tagged(t, d, pf, sink)
    subject_threshold(t, d, pf, sink)
    big = too_big(t, d, pf, sink)
    removal(t, d, pf, sink)
    long_header(t, d, pf)
    churn(t, d)
    # Everything accepted has been delivered by now (each was waited for); the refused ones
    # were never queued.
    for msgid, what in ((rejected, "(a) the rejected message"), (big, "(d) the big message")):
        t.ok(not any(by_msgid(msgid)(m) for m in sink.messages), what + " is not delivered")

    # ---- (g) stop; no failed action; no sanitizer report -----------------------------------
    _, st, out = d.status()
    expect(t, st.get("milter-action-errors"), "0", "(g) no failed smfi_* action", out)
    expect(t, st.get("milter-internal-errors"), "0", "(g) no internal error", out)
    t.ok(int(st.get("message-spills") or 0) >= 1,
         "(g) a body over spill-size went to a temp file in the spool (message-spills)", out)
    pf.stop()
    expect(t, d.stop(), 0, "(g) mppd stops (mppctl stop, exit 0)")
    err = mpptest.read_file(t.path("mppd.err"))
    t.unlike(err, r"==\d+==ERROR: |SUMMARY: \w*Sanitizer|runtime error: ",
             "(g) mppd's standard error has no sanitizer report")
    t.ok(not os.listdir(spool), "(g) the spool directory is left empty", repr(os.listdir(spool)))
    t.diag("elapsed %.1fs" % (time.monotonic() - started))


if __name__ == "__main__":
    mpptest.Test("milter_content").run(main)
