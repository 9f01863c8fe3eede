"""mpptest.sink: SmtpSink, a threaded SMTP server on 127.0.0.1 that accepts every envelope and
stores each message (SinkMessage) for the test to look at; where the private Postfix delivers.
"""

import re
import socket
import threading
import time

from .env import LOOPBACK


class SinkMessage:
    def __init__(self, helo, mail_from, rcpt_to, data):
        self.helo = helo
        self.mail_from = mail_from
        self.rcpt_to = rcpt_to
        self.data = data            # bytes, CRLF line ends, dot-unstuffed, without the final "."

    def headers_and_body(self):
        """(list of (name, raw header bytes including continuation lines), body bytes)."""
        head, sep, body = self.data.partition(b"\r\n\r\n")
        headers = []
        for line in head.split(b"\r\n"):
            if line[:1] in (b" ", b"\t") and headers:
                name, raw = headers[-1]
                headers[-1] = (name, raw + b"\r\n" + line)
            else:
                headers.append((line.split(b":", 1)[0].decode("ascii", "replace"), line))
        return headers, body

    def __repr__(self):
        return "<SinkMessage from=%r to=%r %d bytes>" % (self.mail_from, self.rcpt_to, len(self.data))


class SmtpSink:
    """A minimal SMTP server in a thread on 127.0.0.1:port. Accepts every envelope and stores
    each message (SinkMessage) in .messages. reply_data may be set to e.g. "451 4.3.0 try later"
    to refuse messages at end of data."""

    def __init__(self, port, hostname="sink.example"):
        self.port = port
        self.hostname = hostname
        self.messages = []
        self.reply_data = "250 2.0.0 Ok: stored"
        self.cond = threading.Condition()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, port))
        self.sock.listen(16)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept_loop, name="smtp-sink", daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        conn.settimeout(60)
        try:
            f = conn.makefile("rb")

            def send(line):
                conn.sendall(line.encode() + b"\r\n")
            send("220 %s ESMTP mpptest sink" % self.hostname)
            helo, mail_from, rcpts = None, None, []
            while True:
                line = f.readline(65536)
                if not line:
                    return
                cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
                verb = cmd.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    helo = cmd[5:].strip()
                    if verb == "EHLO":
                        send("250-%s" % self.hostname)
                        send("250-8BITMIME")
                        send("250 SIZE 104857600")
                    else:
                        send("250 %s" % self.hostname)
                elif verb == "MAIL":
                    m = re.match(r"(?i)MAIL FROM:\s*<([^>]*)>", cmd)
                    if not m:
                        send("501 5.5.4 syntax: MAIL FROM:<address>")
                        continue
                    mail_from, rcpts = m.group(1), []
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    m = re.match(r"(?i)RCPT TO:\s*<([^>]*)>", cmd)
                    if not m or mail_from is None:
                        send("503 5.5.1 need MAIL first" if m else "501 5.5.4 syntax")
                        continue
                    rcpts.append(m.group(1))
                    send("250 2.1.5 Ok")
                elif verb == "DATA":
                    if not rcpts:
                        send("503 5.5.1 need RCPT first")
                        continue
                    send("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while True:
                        dl = f.readline(1 << 20)
                        if not dl:
                            return
                        if dl in (b".\r\n", b".\n"):
                            break
                        if dl.startswith(b"."):
                            dl = dl[1:]
                        lines.append(dl)
                    msg = SinkMessage(helo, mail_from, rcpts, b"".join(lines))
                    if self.reply_data.startswith("2"):
                        with self.cond:
                            self.messages.append(msg)
                            self.cond.notify_all()
                    send(self.reply_data)
                    mail_from, rcpts = None, []
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    send("250 2.0.0 Ok")
                elif verb == "NOOP":
                    send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("502 5.5.2 command not recognized")
        except OSError:
            pass
        finally:
            conn.close()

    def wait_for_messages(self, count, timeout=20.0):
        """The first `count` messages once they have arrived, else None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return list(self.messages[:count])

    def find(self, predicate, timeout=20.0):
        """The first stored message for which predicate(msg) is true, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.messages:
                    if predicate(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def start_sink(t, port=None):
    sink = SmtpSink(port or t.free_port())
    t.add_cleanup(sink.stop)
    return sink
