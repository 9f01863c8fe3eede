#!/usr/bin/env python3
"""daemon_lifecycle: mppd and mppctl as an administrator uses them.

mppd -V / -h / usage errors; mppd -t on the sample, a broken and a stdin config; a daemon
started with -f on a config written here (loopback milter port, control socket and pidfile in
the temp dir, user nobody when run as root): pidfile, user, socket mode, status, a milter
conversation (connect and per-message log lines), reload by mppctl and by SIGHUP, a failed
reload that keeps the old revision, config-check, stop by mppctl and by SIGTERM, refusing root
without a user, exit 2 when the milter port is taken, a detached start; a daemon with its
configuration on standard input (-c -) serves and refuses a reload with the reason.

Run alone: MPP_TOP_BUILDDIR=<build dir> MPP_TOP_SRCDIR=<source dir> python3 daemon_lifecycle.py
"""

import os
import re
import signal
import socket
import stat
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

SHUTDOWN_TIMEOUT = 5  # seconds, written into the test config


def check_versions(t, mppd):
    rc, out, err = t.run_cmd([mppd, "-V"])
    t.eq(rc, 0, "mppd -V exits 0")
    lines = out.splitlines()
    want = mpptest.package_version()
    t.eq(lines[0] if lines else "", "mppd %s" % want, "mppd -V: first line is 'mppd VERSION'")
    # Library name as printed, pkg-config module to compare with (None: no .pc file).
    libs = [("libmilter", None), ("libevent", "libevent"), ("tinyxml2", "tinyxml2"),
            ("PCRE2", "libpcre2-8"), ("MariaDB Connector/C", "libmariadb"), ("GMime", "gmime-3.0"),
            ("libcurl", "libcurl")]
    for name, module in libs:
        m = re.search(r"^%s (\d+\.\d+[^\s]*)" % re.escape(name), out, re.M)
        t.ok(m, "mppd -V names %s with a version" % name, lambda: out + err)
        if not m or not module or not mpptest.find_tool("pkg-config"):
            continue
        prc, pver, _ = t.run_cmd(["pkg-config", "--modversion", module])
        pver = pver.strip()
        if prc != 0 or not pver:
            continue
        # Same machine: the version built against is the one loaded (allow a longer form).
        t.ok(m.group(1).startswith(pver) or pver.startswith(m.group(1)),
             "mppd -V: %s version matches pkg-config's %s" % (name, pver), "printed: " + m.group(0))


def check_usage(t, mppd, mppctl):
    rc, out, err = t.run_cmd([mppd, "-h"])
    t.eq(rc, 0, "mppd -h exits 0")
    t.like(out + err, r"usage: mppd", "mppd -h prints the usage")
    rc, out, err = t.run_cmd([mppd, "-x"])
    t.eq(rc, 64, "mppd with an unknown option exits 64")
    t.like(err, r"usage: mppd", "... and prints the usage on stderr")
    rc, out, err = t.run_cmd([mppctl])
    t.eq(rc, 64, "mppctl without a verb exits 64")
    rc, out, err = t.run_cmd([mppctl, "-s", t.path("no-such.sock"), "-T", "5", "status"])
    t.eq(rc, 2, "mppctl exits 2 when the daemon can't be reached")
    t.ok(err.strip() != "", "... and says why on stderr", "stderr was empty")


def check_config_tests(t, d):
    sample = mpptest.src_path("etc", "mppd.conf.xml")
    rc, out, err = t.run_cmd([d.mppd, "-t", "-c", sample])
    t.eq(rc, 0, "mppd -t on the sample config exits 0")
    t.like(out, r"^%s: configuration OK$" % re.escape(sample),
           "mppd -t on the sample prints 'FILE: configuration OK'")

    t.write(d.conf, d.config())
    rc, out, err = t.run_cmd([d.mppd, "-t", "-c", d.conf])
    t.ok(rc == 0, "mppd -t on the test's own config exits 0", lambda: "exit %r\n%s%s" % (rc, out, err))

    text, lines = d.broken_config()
    broken = t.write("broken.conf.xml", text)
    rc, out, err = t.run_cmd([d.mppd, "-t", "-c", broken])
    t.eq(rc, 1, "mppd -t on a broken config exits 1")
    for n in lines:
        t.like(err, r"^%s:%d: \S" % (re.escape(broken), n),
               "mppd -t reports %s:%d" % (os.path.basename(broken), n))
    t.unlike(out, r"configuration OK", "mppd -t on a broken config does not say OK")

    rc, out, err = t.run_cmd([d.mppd, "-t", "-c", "-"], input=d.config())
    t.eq(rc, 0, "mppd -t -c - reads a good config from stdin: exit 0")
    t.like(out, r"configuration OK", "... and says configuration OK")
    rc, out, err = t.run_cmd([d.mppd, "-t", "-c", "-"], input=text)
    t.eq(rc, 1, "mppd -t -c - with a broken config on stdin: exit 1")
    t.like(err, r"^(-|<stdin>):%d: \S" % lines[0], "... errors name stdin and the line")
    return broken, lines


def milter_message(t, d, name, addr, qid, what):
    """Drives one message through the running daemon's milter; checks replies and log lines."""
    d.log.mark()
    try:
        c = mpptest.MilterClient(mpptest.LOOPBACK, d.milter_port)
        steps = c.message(name, addr, "sender@example.org", ["rcpt1@example.net", "rcpt2@example.net"],
                          [("From", "sender@example.org"), ("To", "rcpt1@example.net"),
                           ("Subject", "lifecycle probe")],
                          b"Hello.\r\n", qid)
    except (OSError, mpptest.MilterError) as e:
        t.ok(False, "%s: milter conversation" % what, repr(e))
        return
    bad = [(s, r) for s, r in steps[1:] if r is not None and r[0] not in ("c", "a")]
    t.ok(not bad, "%s: the milter continues/accepts at every step" % what, repr(steps))
    t.ok(steps[-1][1] is not None and steps[-1][1][0] in ("c", "a"),
         "%s: end of message is accepted" % what, repr(steps[-1]))
    t.ok(not c.modifications, "%s: the milter does not modify the message" % what, repr(c.modifications))
    esc = re.escape("%s[%s]" % (name, addr))
    t.ok(d.log.wait(r"connect from %s" % esc, 10), "%s: log has 'connect from %s[%s]'" % (what, name, addr),
         lambda: d.log.text())
    t.ok(d.log.wait(r"%s: (.* )?from=<sender@example\.org>( .*)? nrcpt=2( .*)? size=\d+( .*)? action=accept"
                    % re.escape(qid), 10),
         "%s: log has '%s: from=<...> nrcpt=2 size=N action=accept'" % (what, qid), lambda: d.log.text())
    t.ok(d.log.wait(r"disconnect from %s" % esc, 10), "%s: log has 'disconnect from'" % what,
         lambda: d.log.text())


def main(t):
    d = mpptest.Mppd(t, shutdown_timeout=SHUTDOWN_TIMEOUT)

    check_versions(t, d.mppd)
    check_usage(t, d.mppd, d.mppctl)
    broken, broken_lines = check_config_tests(t, d)

    # ---- refusing to run as root without a user; exit 2 when the port is taken --------------
    if mpptest.is_root():
        noroot = t.write("nouser.conf.xml", d.config(user=False))
        p = d.start(noroot)
        rc = mpptest.wait_for_exit(p, 15)
        if rc is None:
            t.stop_proc(t.procs[-1])
        t.ok(rc not in (None, 0), "as root without <daemon user=...>: mppd refuses to run",
             "exit status %r" % rc)
        t.like(mpptest.read_file(t.path("mppd.err")), r"(?i)root.*user|user.*root",
               "... with a message about root and the user")
    else:
        t.skip_missing("refusing root without a user", "not running as root")
    with socket.socket() as busy:
        busy.bind((mpptest.LOOPBACK, 0))
        busy.listen(1)
        taken = t.write("taken.conf.xml", d.config(milter_port=busy.getsockname()[1]))
        p = d.start(taken)
        rc = mpptest.wait_for_exit(p, 15)
        if rc is None:
            t.stop_proc(t.procs[-1])
        t.eq(rc, 2, "mppd exits 2 when its milter port is taken")
    mpptest.wait_for_gone(d.sock, 5)

    # ---- start ---------------------------------------------------------------------------------
    t.write(d.conf, d.config())
    p = d.start()
    if not t.ok(d.wait_ready(), "mppd -f starts: control socket answers, milter port open",
                lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        return
    version = re.escape(mpptest.package_version() or "")
    t.ok(d.log.wait(r"starting mppd %s" % version, 5), "log file has 'starting mppd VERSION'")
    t.like(mpptest.read_file(t.path("mppd.err")), r"starting mppd %s" % version,
           "with -f the log also goes to stderr")
    t.eq(mpptest.read_file(d.pidfile).strip(), str(p.pid), "pidfile holds the PID")
    if mpptest.is_root():
        status_text = mpptest.read_file("/proc/%d/status" % p.pid)
        uid = re.search(r"^Uid:\s+(.*)$", status_text, re.M)
        gid = re.search(r"^Gid:\s+(.*)$", status_text, re.M)
        import pwd
        pw = pwd.getpwnam(d.user)
        t.eq(uid.group(1).split() if uid else None, [str(pw.pw_uid)] * 4,
             "mppd runs as user %s (real, effective, saved, fs uid)" % d.user)
        t.eq(gid.group(1).split() if gid else None, [str(pw.pw_gid)] * 4,
             "mppd runs with %s's group" % d.user)
    else:
        t.skip_missing("mppd runs as the configured user", "not running as root")
    st = os.lstat(d.sock)
    t.ok(stat.S_ISSOCK(st.st_mode), "control socket is a unix socket")
    t.eq(oct(stat.S_IMODE(st.st_mode)), oct(0o660), "control socket has mode 0660")

    rc, s0, out = d.status()
    t.eq(rc, 0, "mppctl status exits 0")
    for k in ("pid", "uptime", "config", "config-revision", "config-loaded", "reloads",
              "reload-failures", "milter-connections"):
        t.ok(k in s0, "status shows %s:" % k, out)
    t.eq(s0.get("pid"), str(p.pid), "status pid: is the daemon's")
    t.eq(s0.get("config"), d.conf, "status config: is the config file")
    t.ok(re.match(r"^\S+$", s0.get("config-revision", "")), "status config-revision: is set", out)
    t.eq(s0.get("reloads"), "0", "status reloads: 0 after start")
    t.eq(s0.get("reload-failures"), "0", "status reload-failures: 0 after start")
    rc, s0c, out = d.ctl("status", via_config=True)
    t.eq(rc, 0, "mppctl -c CONFIG status finds the socket through the config")
    rc, out, err = d.ctl("help")
    t.eq(rc, 0, "mppctl help exits 0")
    for verb in ("status", "reload", "stop", "config-check"):
        t.like(out, r"\b%s\b" % verb, "mppctl help lists %s" % verb)

    # ---- a message through the milter -------------------------------------------------------
    milter_message(t, d, "probe.example", "192.0.2.9", "4TEST1AB", "first message")
    rc, s1, out = d.status()
    t.ok(s1.get("milter-connections", "").isdigit() and int(s1["milter-connections"]) >= 1,
         "status milter-connections: counts the connection", out)

    # ---- reload: good, bad, by SIGHUP ------------------------------------------------------
    rev0 = s0.get("config-revision")
    t.write(d.conf, d.config(timeout="45s"))
    d.log.mark()
    rc, out, err = d.ctl("reload")
    t.eq(rc, 0, "mppctl reload after a valid change exits 0")
    rc, s2, out = d.status()
    rev1 = s2.get("config-revision")
    t.ok(rev1 and rev1 != rev0, "status shows a new config-revision", "before %r after %r" % (rev0, rev1))
    t.eq(s2.get("reloads"), "1", "status reloads: 1")
    t.ok(d.log.wait(r"reload: configuration %s revision %s loaded" % (re.escape(d.conf), re.escape(rev1 or "?")), 5),
         "log has 'reload: configuration FILE revision R loaded'", lambda: d.log.text())

    text, lines = d.broken_config()
    t.write(d.conf, text)
    d.log.mark()
    rc, out, err = d.ctl("reload")
    t.eq(rc, 1, "mppctl reload of an invalid config exits 1")
    for n in lines:
        t.like(out + err, r"%s:%d: \S" % (re.escape(d.conf), n), "reload failure prints %s:%d" % (
            os.path.basename(d.conf), n))
    rc, s3, out = d.status()
    t.eq(s3.get("config-revision"), rev1, "after the failed reload the old revision stays")
    t.eq(s3.get("reload-failures"), "1", "status reload-failures: 1")
    t.ok(d.log.wait(r"reload failed", 5), "log has 'reload failed'", lambda: d.log.text())
    t.ok(d.log.wait(r"%s:%d: " % (re.escape(d.conf), lines[0]), 5), "log has the error with FILE:LINE",
         lambda: d.log.text())
    t.ok(p.poll() is None, "mppd still runs after the failed reload")
    milter_message(t, d, "after-failed-reload.example", "192.0.2.10", "4TEST2CD", "after a failed reload")

    t.write(d.conf, d.config(timeout="60s"))
    d.log.mark()
    os.kill(p.pid, signal.SIGHUP)
    m = d.log.wait(r"reload: configuration %s revision (\S+) loaded" % re.escape(d.conf), 10)
    t.ok(m, "SIGHUP reloads (log line)", lambda: d.log.text())
    rc, s4, out = d.status()
    rev2 = s4.get("config-revision")
    t.ok(rev2 not in (None, rev0, rev1), "after SIGHUP status shows another new revision",
         "revisions %r %r %r" % (rev0, rev1, rev2))
    t.eq(rev2, m.group(1) if m else None, "the revision in the log is the one status shows")
    t.eq(s4.get("reloads"), "2", "status reloads: 2")

    # ---- config-check ----------------------------------------------------------------------
    good = t.write("good.conf.xml", d.config(timeout="90s"))
    rc, out, err = d.ctl("config-check", good)
    t.eq(rc, 0, "mppctl config-check on a good file exits 0")
    rc, out, err = d.ctl("config-check", broken)
    t.eq(rc, 1, "mppctl config-check on a bad file exits 1")
    for n in broken_lines:
        t.like(out + err, r"%s:%d: \S" % (re.escape(broken), n), "config-check prints %s:%d" % (
            os.path.basename(broken), n))
    rc, s5, out = d.status()
    t.eq(s5.get("config-revision"), rev2, "config-check does not change the running revision")

    # ---- stop by mppctl ------------------------------------------------------------------
    d.log.mark()
    rc, out, err = d.ctl("stop")
    t.eq(rc, 0, "mppctl stop exits 0")
    code = mpptest.wait_for_exit(p, SHUTDOWN_TIMEOUT + 5)
    t.eq(code, 0, "after mppctl stop mppd exits 0 within the shutdown timeout")
    t.ok(mpptest.wait_for_gone(d.pidfile, 2), "mppd removed its pidfile")
    t.ok(d.log.search(r"stopping"), "log has 'stopping'", lambda: d.log.text())
    t.ok(mpptest.wait_for_port_closed(d.milter_port, timeout=5), "milter port is closed after stop")

    # ---- stop by SIGTERM -------------------------------------------------------------------
    p = d.start()
    if t.ok(d.wait_ready(), "mppd starts again",
            lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        os.kill(p.pid, signal.SIGTERM)
        code = mpptest.wait_for_exit(p, SHUTDOWN_TIMEOUT + 5)
        t.eq(code, 0, "after SIGTERM mppd exits 0 within the shutdown timeout")
        t.ok(mpptest.wait_for_gone(d.pidfile, 2), "mppd removed its pidfile after SIGTERM")
        t.ok(d.log.search(r"stopping"), "log has 'stopping' after SIGTERM", lambda: d.log.text())

    # ---- detached (no -f): what a forking service manager relies on --------------------------
    d.log.mark()
    rc, out, err = t.run_cmd([d.mppd, "-c", d.conf], timeout=30)
    t.eq(rc, 0, "without -f mppd returns 0 once the daemon is ready")
    pid = mpptest.read_file(d.pidfile).strip()
    if t.ok(pid.isdigit() and mpptest.pid_alive(int(pid)), "... the pidfile names the running daemon",
            "pidfile: %r\n%s" % (pid, err)):
        t.track_pid("mppd-detached", int(pid))
        rc, s6, out = d.status()
        t.eq(s6.get("pid"), pid, "... and its control socket answers right away")
        with socket.socket() as busy:
            busy.bind((mpptest.LOOPBACK, 0))
            busy.listen(1)
            other = t.write("other.conf.xml", d.config(milter_port=busy.getsockname()[1]).replace(
                d.sock, d.sock + "2").replace(d.pidfile, d.pidfile + "2"))
            rc, out, err = t.run_cmd([d.mppd, "-c", other], timeout=30)
            t.eq(rc, 2, "without -f a start that fails (port taken) returns 2")
            t.ok(err.strip() != "", "... with the reason on stderr", "stderr was empty")
        os.kill(int(pid), signal.SIGTERM)
        t.ok(mpptest.wait_for(lambda: not mpptest.pid_alive(int(pid)), SHUTDOWN_TIMEOUT + 5),
             "the detached daemon stops on SIGTERM")
        t.ok(mpptest.wait_for_gone(d.pidfile, 2), "... and removes its pidfile")

    # ---- the configuration on standard input (mppd -f -c -) ----------------------------------
    t.write(d.conf, d.config())
    p = d.start("-")
    if t.ok(d.wait_ready(), "mppd -f -c - (configuration on stdin) starts",
            lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        rc, s7, out = d.status()
        t.eq(s7.get("config"), "-", "status config: - for a configuration read from stdin")
        milter_message(t, d, "stdin-config.example", "192.0.2.11", "4TEST3EF", "config from stdin")
        d.log.mark()
        rc, out, err = d.ctl("reload")
        t.eq(rc, 1, "mppctl reload of a configuration read from stdin exits 1")
        t.like(out + err, r"configuration was read from standard input and can't be re-read",
               "... and says the configuration came from standard input and can't be re-read")
        t.ok(d.log.wait(r"reload failed", 5), "log has 'reload failed'", lambda: d.log.text())
        rc, s8, out = d.status()
        t.eq(s8.get("config-revision"), s7.get("config-revision"), "... the revision stays")
        t.eq(s8.get("reload-failures"), "1", "... status reload-failures: 1")
        t.ok(p.poll() is None, "mppd -c - still runs after the refused reload")
        milter_message(t, d, "after-stdin-reload.example", "192.0.2.12", "4TEST4GH",
                       "config from stdin, after the refused reload")
        t.eq(d.stop(), 0, "mppd -c - stops on mppctl stop (exit 0)")


if __name__ == "__main__":
    mpptest.Test("daemon_lifecycle").run(main)
