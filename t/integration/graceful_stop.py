#!/usr/bin/env python3
"""graceful_stop: how mppd stops while milter sessions are open.

The contract: SIGTERM or `mppctl stop` stops gracefully: the milter stops accepting new
connections at once, sessions in flight finish, then mppd exits 0; `mppctl status` says
`state: stopping` meanwhile. The wait is bounded by <daemon shutdown-timeout>: sessions still
open at the deadline are logged (`shutdown timeout: N session(s) still open`) and mppd exits 0
anyway.

1. A session in flight (past MAIL FROM) when `mppctl stop` arrives: mppd keeps running, status
   says stopping, a new milter connection gets no negotiation reply, the open session finishes
   its message (accepted, per-message log line), and once it quits mppd exits 0 long before the
   shutdown timeout and removes its pidfile.
2. A session that stays idle: with shutdown-timeout="2s" mppd exits 0 at the deadline (not
   before it, not much after it) and logs the sessions it left open.

Run alone: MPP_TOP_BUILDDIR=<build dir> MPP_TOP_SRCDIR=<source dir> python3 graceful_stop.py
"""

import os
import re
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

LONG_TIMEOUT = 20   # seconds: the session must end the wait long before this
QUIT_TO_EXIT = 3    # seconds from the last session's end to mppd's exit
REPLY_TIMEOUT = 5   # seconds the session in flight waits for each answer
REFUSE_TIMEOUT = 3  # seconds a new connection may take to be refused or closed
SHORT_TIMEOUT = 2   # seconds: the idle session is cut off at this deadline
EXIT_MARGIN = 2.5   # seconds allowed past the deadline for the exit itself
SENDER = "sender@example.org"


def start(t, d, shutdown_timeout, what):
    d.shutdown_timeout = shutdown_timeout
    t.write(d.conf, d.config())
    p = d.start()
    ok = t.ok(d.wait_ready(),
              "%s: mppd starts (shutdown-timeout=\"%ds\")" % (what, shutdown_timeout),
              lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err"))))
    return p if ok else None


def open_session(t, d, name, addr, qid, what):
    """A milter session left open after MAIL FROM; returns the client or None."""
    try:
        c = mpptest.MilterClient(mpptest.LOOPBACK, d.milter_port)
        c.negotiate()
        steps = [("connect", c.connect(name, addr)), ("helo", c.helo(name)),
                 ("mail", c.mail(SENDER, qid))]
    except (OSError, mpptest.MilterError) as e:
        t.ok(False, "%s: session opened (negotiate, connect, helo, mail)" % what, repr(e))
        return None
    bad = [(s, r) for s, r in steps if r is not None and r[0] != "c"]
    t.ok(not bad, "%s: session opened, the milter continues at connect, helo and mail" % what,
         repr(steps))
    t.ok(d.log.wait(r"connect from %s" % re.escape("%s[%s]" % (name, addr)), 10),
         "%s: log has 'connect from %s[%s]'" % (what, name, addr), lambda: d.log.text())
    rc, st, out = d.status()
    t.eq(st.get("milter-sessions"), "1", "%s: status milter-sessions: 1 before the stop" % what)
    return c


def finish_message(c, qid, steps):
    """The rest of the message on an open session; appends (step, reply) pairs to `steps`
    (a step that gets no answer raises, and `steps` shows how far the message got)."""
    steps.append(("rcpt", c.rcpt("rcpt@example.net", qid)))
    steps.append(("data", c.data(qid)))
    for name, value in (("From", SENDER), ("To", "rcpt@example.net"), ("Subject", "in flight")):
        steps.append(("header " + name, c.header(name, value)))
    steps.append(("eoh", c.eoh(qid)))
    steps.append(("body", c.body(b"Sent while mppd was stopping.\r\n")))
    steps.append(("eom", c.eom(qid)))


def new_connection_refused(d):
    """(True, how) when a new milter connection is refused, closed before any negotiation reply,
    or answered with a temporary failure at connect (what the MTA then tells its client: try
    later); (False, what happened) when it is served or left hanging."""
    try:
        c = mpptest.MilterClient(mpptest.LOOPBACK, d.milter_port, timeout=REFUSE_TIMEOUT)
    except ConnectionRefusedError:
        return True, "connection refused"
    except OSError as e:
        return False, "connect failed otherwise: %r" % e
    try:
        c.negotiate()
        reply = c.connect("new.example", "192.0.2.99")
        if reply and (reply[0] == "t" or (reply[0] == "y" and reply[1][:1] == b"4")):
            return True, "tempfail at connect: %r" % (reply,)
        return False, "the milter served the new connection: connect reply %r" % (reply,)
    except socket.timeout:
        return False, "accepted, then neither answered nor closed for %ds" % REFUSE_TIMEOUT
    except (mpptest.MilterError, ConnectionResetError, BrokenPipeError) as e:
        return True, "closed without a reply (%s)" % e
    except OSError as e:
        return False, "unexpected error: %r" % e
    finally:
        c.quit()


def in_flight_session_finishes(t, d):
    what = "in flight"
    p = start(t, d, LONG_TIMEOUT, what)
    if not p:
        return
    qid = "4STOP1AB"
    c = open_session(t, d, "inflight.example", "192.0.2.21", qid, what)
    if not c:
        return
    d.log.mark()
    stop_at = time.monotonic()
    rc, out, err = d.ctl("stop")
    t.eq(rc, 0, "%s: mppctl stop exits 0" % what)
    t.ok(d.log.wait(r"stopping \(mppctl stop\): waiting up to %ds for 1 session\(s\) in flight"
                    % LONG_TIMEOUT, 5),
         "%s: log has 'stopping (mppctl stop): waiting up to %ds for 1 session(s) in flight'"
         % (what, LONG_TIMEOUT), lambda: d.log.text())
    time.sleep(0.5)  # the point of this check: still there a moment later
    t.ok(p.poll() is None, "%s: mppd still runs 0.5s after the stop" % what,
         lambda: "exit status %r" % p.poll())
    rc, st, out = d.status()
    t.eq(rc, 0, "%s: mppctl status answers while stopping" % what)
    t.eq(st.get("state"), "stopping", "%s: status state: stopping" % what)
    t.eq(st.get("milter-sessions"), "1", "%s: status milter-sessions: 1 while stopping" % what)
    refused, how = new_connection_refused(d)
    t.ok(refused, "%s: a new milter connection is refused, closed or tempfailed at connect"
         % what, how)
    if refused:
        t.diag("new connection: " + how)

    steps = []
    c.sock.settimeout(REPLY_TIMEOUT)
    try:
        finish_message(c, qid, steps)
        finished = None
    except (OSError, mpptest.MilterError) as e:
        finished = "no answer after %r: %r" % ([s for s, _ in steps] or "mppctl stop", e)
    bad = [(s, r) for s, r in steps if r is not None and r[0] not in ("c", "a")]
    t.ok(finished is None and not bad,
         "%s: the open session is served: continue/accept at rcpt, data, headers, body" % what,
         finished or repr(steps))
    eom = dict(steps).get("eom")
    t.ok(eom is not None and eom[0] in ("c", "a"), "%s: end of message is accepted" % what,
         repr(steps))
    t.ok(d.log.wait(r"%s: (.* )?from=<%s>( .*)? nrcpt=1( .*)? size=\d+( .*)? action=accept"
                    % (re.escape(qid), re.escape(SENDER)), 2),
         "%s: log has '%s: from=<%s> nrcpt=1 size=N action=accept'" % (what, qid, SENDER),
         lambda: d.log.text())
    t.ok(p.poll() is None, "%s: mppd still runs while the session is open" % what)

    c.quit()
    quit_at = time.monotonic()
    code = mpptest.wait_for_exit(p, LONG_TIMEOUT + 5)
    exit_at = time.monotonic()
    t.eq(code, 0, "%s: after the session quits mppd exits 0" % what)
    t.ok(code is not None and exit_at - quit_at < QUIT_TO_EXIT
         and exit_at - stop_at < LONG_TIMEOUT - 1,
         "%s: ... within %ds of the session's end, before the %ds shutdown timeout"
         % (what, QUIT_TO_EXIT, LONG_TIMEOUT),
         "exit seen %.2fs after the session quit, %.2fs after mppctl stop"
         % (exit_at - quit_at, exit_at - stop_at))
    t.ok(mpptest.wait_for_gone(d.pidfile, 2), "%s: mppd removed its pidfile" % what)
    t.ok(d.log.wait(r"disconnect from inflight\.example\[192\.0\.2\.21\]", 2),
         "%s: log has the session's 'disconnect from'" % what, lambda: d.log.text())
    t.ok(d.log.wait(r"\bstopped$", 2), "%s: log has 'stopped'" % what, lambda: d.log.text())
    t.unlike(d.log.text(), r"shutdown timeout|stopped with sessions still open",
             "%s: no shutdown timeout logged" % what)


def idle_session_is_bounded(t, d):
    what = "idle session"
    p = start(t, d, SHORT_TIMEOUT, what)
    if not p:
        return
    c = open_session(t, d, "idle.example", "192.0.2.22", "4STOP2CD", what)
    if not c:
        return
    try:
        d.log.mark()
        stop_at = time.monotonic()   # the daemon's deadline is set after this
        rc, out, err = d.ctl("stop")
        t.eq(rc, 0, "%s: mppctl stop exits 0" % what)
        t.ok(d.log.wait(r"stopping \(mppctl stop\): waiting up to %ds for 1 session\(s\) in flight"
                        % SHORT_TIMEOUT, 5),
             "%s: log has 'stopping (mppctl stop): waiting up to %ds for 1 session(s) in flight'"
             % (what, SHORT_TIMEOUT), lambda: d.log.text())
        code = mpptest.wait_for_exit(p, SHORT_TIMEOUT + 15)
        took = time.monotonic() - stop_at
        t.eq(code, 0, "%s: mppd exits 0 with the session still open" % what)
        t.ok(code is not None and took >= SHORT_TIMEOUT - 0.05,
             "%s: ... not before the %ds shutdown timeout" % (what, SHORT_TIMEOUT),
             "exited %.2fs after mppctl stop" % took)
        t.ok(code is not None and took <= SHORT_TIMEOUT + EXIT_MARGIN,
             "%s: ... within %ds + %.1fs" % (what, SHORT_TIMEOUT, EXIT_MARGIN),
             "exited %.2fs after mppctl stop" % took)
        t.ok(d.log.wait(r"shutdown timeout: 1 session\(s\) still open", 2),
             "%s: log has 'shutdown timeout: 1 session(s) still open'" % what, lambda: d.log.text())
        t.ok(d.log.wait(r"stopped with sessions still open", 2),
             "%s: log has 'stopped with sessions still open'" % what, lambda: d.log.text())
        t.ok(mpptest.wait_for_gone(d.pidfile, 2), "%s: mppd removed its pidfile" % what)
    finally:
        c.close()


def main(t):
    d = mpptest.Mppd(t)
    in_flight_session_finishes(t, d)
    if d.proc is not None and d.proc.poll() is None:
        t.stop_proc(t.procs[-1])
    idle_session_is_bounded(t, d)


if __name__ == "__main__":
    mpptest.Test("graceful_stop").run(main)
