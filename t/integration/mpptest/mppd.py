"""mpptest.mppd: Mppd, one mppd of a test: the config it writes into the temp dir (milter on a
free loopback port, control socket, pidfile, log file and state dir in the temp dir, user nobody
when run as root), starting it in the foreground, readiness, mppctl calls, status and its log.
"""

import os
import subprocess

from .env import LOOPBACK, TOP_BUILDDIR, build_path, is_root
from .wait import LogWatch, port_open, wait_for, wait_for_exit


class Mppd:
    """One mppd of a test: its config (written by the test into the temp dir: milter on a free
    loopback port, control socket, pidfile, log file and state dir in the temp dir, user nobody
    when run as root), the process, mppctl calls and its log."""

    def __init__(self, t, user="nobody", shutdown_timeout=5):
        self.t = t
        self.user = user if is_root() else None
        self.shutdown_timeout = shutdown_timeout
        self.mppd = build_path("mppd")
        self.mppctl = build_path("mppctl")
        for b in (self.mppd, self.mppctl):
            if not os.access(b, os.X_OK):
                t.bail_out("%s not built (MPP_TOP_BUILDDIR=%s)" % (b, TOP_BUILDDIR))
        owner = self.user
        self.run_dir = t.mkdir("run", owner=owner)
        self.log_dir = t.mkdir("log", owner=owner)
        self.state_dir = t.mkdir("state", owner=owner)
        self.sock = os.path.join(self.run_dir, "control.sock")
        self.pidfile = os.path.join(self.run_dir, "mppd.pid")
        self.logfile = os.path.join(self.log_dir, "mppd.log")
        self.milter_port = t.free_port()
        self.policy_port = t.free_port()
        self.conf = t.path("mppd.conf.xml")
        self.proc = None
        self.log = LogWatch(self.logfile)
        t.on_failure_dump("mppd log", self.logfile)
        t.on_failure_dump("mppd stderr", t.path("mppd.err"))

    def config(self, timeout="30s", user=True, extra="", milter_port=None, policy_attrs=""):
        """The test's config text. extra: lines inserted before </mppd>; policy_attrs: more
        attributes of <policy-server> (which listens on self.policy_port)."""
        user_attr = ' user="%s"' % self.user if (user and self.user) else ""
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            "<mppd>\n"
            '  <daemon%s state-dir="%s" pidfile="%s" shutdown-timeout="%ds"/>\n'
            '  <log syslog-facility="none" file="%s" level="info"/>\n'
            '  <milter socket="inet:%d@127.0.0.1" timeout="%s"/>\n'
            '  <policy-server listen="127.0.0.1:%d"%s/>\n'
            '  <control socket="%s"/>\n'
            "%s"
            "</mppd>\n"
        ) % (user_attr, self.state_dir, self.pidfile, self.shutdown_timeout, self.logfile,
             milter_port or self.milter_port, timeout, self.policy_port, policy_attrs, self.sock,
             extra)

    def broken_config(self):
        """(text, [line numbers that must be reported]): an unknown element and a bad port."""
        good = self.config().splitlines(keepends=True)
        out, lines = [], []
        for line in good:
            if "<milter " in line:
                line = line.replace("inet:%d@" % self.milter_port, "inet:99999@")
                lines.append(len(out) + 1)
            out.append(line)
            if "<control " in line:
                out.append('  <no-such-element answer="42"/>\n')
                lines.append(len(out))
        return "".join(out), lines

    def start(self, conf=None):
        """mppd -f -c CONF (default: the test's config file). conf "-": the test's config file
        is given on standard input."""
        self.log.mark()
        stdin = open(self.conf, "rb") if conf == "-" else subprocess.DEVNULL
        try:
            self.proc = self.t.spawn([self.mppd, "-f", "-c", conf or self.conf], name="mppd",
                                     stdin=stdin, stdout=self.t.path("mppd.out"),
                                     stderr=self.t.path("mppd.err"))
        finally:
            if conf == "-":
                stdin.close()
        return self.proc

    def wait_ready(self, timeout=15.0):
        """True once the control socket answers and the milter port accepts connections."""
        def ready():
            if self.proc.poll() is not None:
                return "exited"
            if not os.path.exists(self.sock):
                return False
            rc, _, _ = self.ctl("status")
            return rc == 0 and port_open(LOOPBACK, self.milter_port)
        r = wait_for(ready, timeout, interval=0.1)
        return r is True

    def ctl(self, *args, via_config=False):
        target = ["-c", self.conf] if via_config else ["-s", self.sock]
        return self.t.run_cmd([self.mppctl] + target + ["-T", "10"] + list(args), timeout=30)

    def status(self):
        rc, out, err = self.ctl("status")
        fields = {}
        for line in out.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                fields[k.strip()] = v.strip()
        return rc, fields, out + err

    def stop(self, timeout=None):
        """mppctl stop, then the exit status (None when it did not exit in time)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.poll() if self.proc else None
        self.ctl("stop")
        return wait_for_exit(self.proc, timeout or self.shutdown_timeout + 5)
