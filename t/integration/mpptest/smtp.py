"""mpptest.smtp: the SMTP client side of tests against a private Postfix: sessions that pretend
a client address with XCLIENT, one-call transactions, test messages and header lookups."""

import re
import smtplib

from .env import LOOPBACK


class Session:
    """One SMTP session with a pretended client (XCLIENT ADDR=... NAME=...); every reply is
    kept in self.log (repr() shows the transcript), each step returns (code, text)."""

    def __init__(self, port, addr, name):
        self.log = []
        self.s = smtplib.SMTP(LOOPBACK, port, local_hostname="submit.example", timeout=30)
        self.step("ehlo", self.s.ehlo)
        self.xclient = self.step("xclient",
                                 lambda: self.s.docmd("XCLIENT", "ADDR=%s NAME=%s" % (addr, name)))
        if self.xclient[0] == 220:
            self.step("ehlo", lambda: self.s.ehlo(name))

    def step(self, what, fn):
        code, text = fn()
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        self.log.append((what, code, text))
        return code, text

    def mail(self, sender):
        return self.step("mail", lambda: self.s.mail(sender))

    def rcpt(self, rcpt):
        return self.step("rcpt", lambda: self.s.rcpt(rcpt))

    def data(self, text):
        return self.step("data", lambda: self.s.data(text.encode("ascii")))

    def close(self):
        try:
            self.s.quit()
        except (smtplib.SMTPException, OSError):
            pass

    def __repr__(self):
        return "\n".join("%s: %s %s" % e for e in self.log)


def transaction(port, addr, name, sender, rcpts, deliver=None):
    """MAIL, RCPT for each of rcpts, and DATA (when deliver is a message text and a recipient
    got 250). Returns ([(rcpt code, text)...], data (code, text) or None, session)."""
    s = Session(port, addr, name)
    try:
        if s.xclient[0] != 220 or s.mail(sender)[0] != 250:
            return [], None, s
        replies = [s.rcpt(r) for r in rcpts]
        data = None
        if deliver is not None and any(c == 250 for c, _ in replies):
            data = s.data(deliver)
        return replies, data, s
    finally:
        s.close()


def message(sender, rcpts, subject, msgid):
    """A small test message; rcpts is one address or a list (the To: header)."""
    rcpts = [rcpts] if isinstance(rcpts, str) else rcpts
    return ("Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
            "From: <%s>\r\n"
            "To: %s\r\n"
            "Subject: %s\r\n"
            "Message-ID: <%s>\r\n"
            "\r\n"
            "Hello.\r\n") % (sender, ", ".join("<%s>" % r for r in rcpts), subject, msgid)


def expect(t, got, want, name, diag=None):
    """t.ok(got == want) with both values (and diag, e.g. a session transcript) on failure."""
    return t.ok(got == want, name,
                lambda: "got:  %r\nwant: %r%s" % (got, want, "\n%s" % diag if diag else ""))


def by_msgid(msgid):
    """A predicate for SmtpSink.find: the message with this Message-ID."""
    return lambda m: ("Message-ID: <%s>" % msgid).encode() in m.data


def header_lines(data):
    return data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").split("\r\n")


def header(data, name):
    """The value of the first header field `name` of a delivered message, or None."""
    for line in header_lines(data):
        m = re.match(r"(?i)%s:[ \t]*(.*)$" % re.escape(name), line)
        if m:
            return m.group(1).strip()
    return None
