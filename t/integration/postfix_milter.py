#!/usr/bin/env python3
"""postfix_milter: mppd as the milter of a real (private) Postfix.

A private Postfix on a loopback port with smtpd_milters pointing at mppd relays everything to an
SMTP sink of this test. Two messages (one from 127.0.0.1, one pretending to come from
client.example[192.0.2.5] through XCLIENT) must reach the sink unchanged (envelope, headers,
body bytes) and mppd's log must have the connect line and a per-message line with Postfix's
queue id. With mppd stopped, milter_default_action=tempfail must give a 4xx: the milter is
really in the path.

Needs root (Postfix runs its daemons as user postfix) and Postfix installed.
Run alone: MPP_TOP_BUILDDIR=<build dir> MPP_TOP_SRCDIR=<source dir> python3 postfix_milter.py
"""

import os
import re
import smtplib
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

SENDER = "alice@sender.example"


def message(subject, msgid, rcpts):
    """A message with every header Postfix would otherwise add, and a body with the bytes that
    transports like to touch: a leading dot, trailing white space, a tab, 8-bit UTF-8."""
    head = ("Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
            "From: Alice <%s>\r\n"
            "To: %s\r\n"
            "Subject: %s\r\n"
            "Message-ID: <%s@sender.example>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "X-Folded: first part\r\n"
            "\tsecond part\r\n") % (SENDER, ", ".join(rcpts), subject, msgid)
    body = ("Hello,\r\n"
            ".a line that starts with a dot\r\n"
            "..and one with two\r\n"
            "trailing spaces   \r\n"
            "a\ttab\r\n"
            "8-bit: gr\u00fc\u00dfe, \u00e9t\u00e9, \u65e5\u672c\r\n"
            "\r\n"
            "-- \r\n"
            "Alice\r\n").encode("utf-8")
    return head.encode("ascii") + b"\r\n" + body


def send(t, port, rcpts, data, xclient=None):
    """One SMTP transaction; returns (queue id or None, dialogue transcript)."""
    log = []
    s = smtplib.SMTP(mpptest.LOOPBACK, port, local_hostname="submit.example", timeout=30)
    try:
        log.append(("ehlo",) + s.ehlo())
        if xclient:
            code, resp = s.docmd("XCLIENT", xclient)
            log.append(("xclient", code, resp))
            if code != 220:
                return None, log
            log.append(("ehlo",) + s.ehlo(xclient_name(xclient)))
        code, resp = s.mail(SENDER, ["BODY=8BITMIME"])
        log.append(("mail", code, resp))
        for r in rcpts:
            log.append(("rcpt",) + s.rcpt(r))
        code, resp = s.data(data)
        log.append(("data", code, resp))
        m = re.search(rb"queued as (\S+)", resp)
        return (m.group(1).decode() if code == 250 and m else None), log
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass


def xclient_name(xclient):
    m = re.search(r"NAME=(\S+)", xclient)
    return m.group(1) if m else "client.example"


def strip_received(data):
    """The message without the Received: header(s) Postfix put on top."""
    while data.startswith(b"Received:"):
        end = data.find(b"\r\n")
        while data[end + 2:end + 3] in (b" ", b"\t"):
            end = data.find(b"\r\n", end + 2)
        data = data[end + 2:]
    return data


def check_delivery(t, sink, qid, rcpts, sent, what):
    def ours(msg):
        head = msg.data.split(b"\r\n\r\n", 1)[0]
        return re.search(rb"\bid %s\b" % re.escape(qid.encode()), head) is not None
    m = sink.find(ours, 30)
    if not t.ok(m, "%s: delivered to the sink" % what):
        return
    t.eq(m.mail_from, SENDER, "%s: envelope sender unchanged" % what)
    t.eq(sorted(m.rcpt_to), sorted(rcpts), "%s: envelope recipients unchanged" % what)
    t.ok(m.data.startswith(b"Received: "), "%s: Postfix added its Received: header on top" % what,
         m.data[:200])
    got = strip_received(m.data)
    t.ok(got == sent, "%s: headers and body arrive byte for byte unchanged" % what,
         lambda: "sent:\n%r\ngot:\n%r" % (sent, got))
    _, body_sent = sent.split(b"\r\n\r\n", 1)
    _, body_got = got.split(b"\r\n\r\n", 1) if b"\r\n\r\n" in got else (b"", b"")
    t.eq(body_got, body_sent, "%s: body bytes unchanged" % what)


def main(t):
    t.require_root("a private Postfix")
    t.require_tool("postfix")
    d = mpptest.Mppd(t)

    sink = mpptest.start_sink(t)
    t.write(d.conf, d.config())
    p = d.start()
    if not t.ok(d.wait_ready(), "mppd starts",
                lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        return
    pf = mpptest.Postfix(t, t.free_port(), sink.port, milter="inet:127.0.0.1:%d" % d.milter_port)
    ok, why = pf.start()
    if not t.ok(ok, "private Postfix starts with smtpd_milters = inet:127.0.0.1:%d" % d.milter_port, why):
        return
    maillog = mpptest.LogWatch(pf.maillog)

    # ---- 1: from 127.0.0.1 ------------------------------------------------------------------
    d.log.mark()
    rcpts1 = ["bob@rcpt.example"]
    data1 = message("plain submission", "m1.%d" % os.getpid(), rcpts1)
    qid1, dialogue = send(t, pf.smtp_port, rcpts1, data1)
    if t.ok(qid1, "message 1 accepted by Postfix (250 queued as ...)", repr(dialogue)):
        t.ok(d.log.wait(r"connect from localhost\[127\.0\.0\.1\]", 10),
             "mppd logs 'connect from localhost[127.0.0.1]'", lambda: d.log.text())
        t.ok(d.log.wait(r"%s: (.* )?from=<%s>( .*)? nrcpt=1( .*)? size=\d+( .*)? action=accept"
                        % (re.escape(qid1), re.escape(SENDER)), 10),
             "mppd logs '%s: from=<%s> nrcpt=1 size=N action=accept'" % (qid1, SENDER), lambda: d.log.text())
        check_delivery(t, sink, qid1, rcpts1, data1, "message 1")

    # ---- 2: a pretended client through XCLIENT ----------------------------------------------
    d.log.mark()
    rcpts2 = ["carol@rcpt.example", "dave@other.example"]
    data2 = message("through XCLIENT", "m2.%d" % os.getpid(), rcpts2)
    qid2, dialogue = send(t, pf.smtp_port, rcpts2, data2, xclient="ADDR=192.0.2.5 NAME=client.example")
    if t.ok(qid2, "message 2 (XCLIENT ADDR=192.0.2.5 NAME=client.example) accepted", repr(dialogue)):
        t.ok(d.log.wait(r"connect from client\.example\[192\.0\.2\.5\]", 10),
             "mppd logs 'connect from client.example[192.0.2.5]'", lambda: d.log.text())
        t.ok(d.log.wait(r"%s: (.* )?from=<%s>( .*)? nrcpt=2( .*)? size=\d+( .*)? action=accept"
                        % (re.escape(qid2), re.escape(SENDER)), 10),
             "mppd logs '%s: from=<%s> nrcpt=2 size=N action=accept'" % (qid2, SENDER), lambda: d.log.text())
        t.ok(d.log.wait(r"disconnect from client\.example\[192\.0\.2\.5\]", 10),
             "mppd logs 'disconnect from client.example[192.0.2.5]'", lambda: d.log.text())
        check_delivery(t, sink, qid2, rcpts2, data2, "message 2")
    t.unlike(maillog.text(since_mark=False), r"(?i)warning: .*milter",
             "Postfix logged no milter warning while mppd ran")
    rc, st, out = d.status()
    t.ok(st.get("milter-connections", "").isdigit() and int(st["milter-connections"]) >= 2,
         "mppctl status counts the milter connections", out)

    # ---- 3: mppd stopped: Postfix's milter_default_action = tempfail ------------------------
    t.eq(d.stop(), 0, "mppd stops (mppctl stop, exit 0)")
    t.ok(mpptest.wait_for_port_closed(d.milter_port, timeout=5), "milter port closed")
    delivered_before = len(sink.messages)
    maillog.mark()
    first_refusal = None
    transcript = []
    try:
        s = smtplib.SMTP(mpptest.LOOPBACK, pf.smtp_port, local_hostname="submit.example", timeout=30)
        try:
            steps = [("ehlo", lambda: s.ehlo()),
                     ("mail", lambda: s.mail(SENDER)),
                     ("rcpt", lambda: s.rcpt("erin@rcpt.example")),
                     ("data", lambda: s.data(message("milter down", "m3.%d" % os.getpid(),
                                                     ["erin@rcpt.example"])))]
            for name, fn in steps:
                code, resp = fn()
                transcript.append((name, code, resp))
                if code >= 400:
                    first_refusal = (name, code, resp)
                    break
        finally:
            try:
                s.quit()
            except smtplib.SMTPException:
                pass
    except smtplib.SMTPConnectError as e:  # refused at the greeting
        first_refusal = ("greeting", e.smtp_code, e.smtp_error)
        transcript.append(first_refusal)
    except (OSError, smtplib.SMTPException) as e:
        transcript.append(("error", repr(e)))
    t.ok(first_refusal and 400 <= first_refusal[1] < 500,
         "with mppd stopped Postfix answers 4xx (milter_default_action = tempfail)", repr(transcript))
    t.eq(len(sink.messages), delivered_before, "with mppd stopped nothing is delivered")
    t.ok(maillog.wait(r"(?i)milter.*%d|%d.*milter" % (d.milter_port, d.milter_port), 5),
         "Postfix's log names the unreachable milter", lambda: maillog.text())


if __name__ == "__main__":
    mpptest.Test("postfix_milter").run(main)
