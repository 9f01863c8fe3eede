"""mpptest.postfix: a private Postfix instance in the test's temp dir (never the system's): smtpd
on a loopback port, everything relayed to a sink, optionally with a milter (TESTING.md recipe).
"""

import os

from .env import LOOPBACK, find_tool
from .wait import pid_alive, read_file, wait_for, wait_for_file, wait_for_port


_MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
{listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix in <tmp>/postfix: smtpd on 127.0.0.1:smtp_port, every recipient relayed
    to the sink on 127.0.0.1:sink_port, maillog in <tmp>/postfix/maillog. milter: a libmilter
    socket spec for smtpd_milters ("inet:127.0.0.1:PORT") or None."""

    def __init__(self, t, smtp_port, sink_port, milter=None, extra_main=None):
        self.t = t
        self.smtp_port = smtp_port
        self.sink_port = sink_port
        self.milter = milter
        self.base = t.mkdir("postfix")
        self.config_dir = t.mkdir("postfix", "etc")
        self.queue_dir = t.mkdir("postfix", "queue")
        self.data_dir = t.mkdir("postfix", "data", owner="postfix", mode=0o700)
        self.maillog = os.path.join(self.base, "maillog")
        self.postfix = find_tool("postfix")
        self.master_pid = None
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "meta_directory": "/etc/postfix",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "mx.mpp-test.example",
            "mydomain": "mpp-test.example",
            "myorigin": "$myhostname",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mydestination": "",
            "local_recipient_maps": "",
            "relay_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "relay_domains": "static:ALL",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, permit_auth_destination, reject",
            "default_transport": "smtp:[127.0.0.1]:%d" % sink_port,
            "relay_transport": "smtp:[127.0.0.1]:%d" % sink_port,
            "smtp_dns_support_level": "disabled",
            "smtp_connect_timeout": "5s",
            "smtpd_authorized_xclient_hosts": "127.0.0.0/8",
            "smtpd_error_sleep_time": "0",
            "smtpd_soft_error_limit": "100",
            "smtpd_hard_error_limit": "200",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.t.tmp,
            "milter_default_action": "tempfail",
            "milter_protocol": "6",
            "smtpd_milters": milter or "",
            "non_smtpd_milters": "",
            "biff": "no",
            "append_dot_mydomain": "no",
            "smtputf8_enable": "no",
        }
        main.update(extra_main or {})
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write(_MASTER_CF.format(listen="%s:%d" % (LOOPBACK, smtp_port)))
        t.on_failure_dump("postfix maillog", self.maillog)

    def cmd(self, *args, timeout=60.0):
        return self.t.run_cmd([self.postfix, "-c", self.config_dir] + list(args), timeout=timeout)

    def start(self, timeout=20.0):
        """Checks the config, starts the master, waits for the smtpd port. Returns (ok, why)."""
        rc, out, err = self.cmd("check")
        if rc != 0:
            return False, "postfix check failed (%s):\n%s%s" % (rc, out, err)
        rc, out, err = self.cmd("start")
        pidfile = os.path.join(self.queue_dir, "pid", "master.pid")
        if wait_for_file(pidfile, timeout=timeout, nonempty=True):
            try:
                self.master_pid = int(read_file(pidfile).strip())
                self.t.track_pid("postfix-master", self.master_pid, stop=self.stop)
            except ValueError:
                pass
        if rc != 0:
            return False, "postfix start failed (%s):\n%s%s" % (rc, out, err)
        if not wait_for_port(self.smtp_port, timeout=timeout):
            return False, "smtpd port %d not open after %ss" % (self.smtp_port, timeout)
        return True, ""

    def stop(self):
        if self.master_pid is None or not pid_alive(self.master_pid):
            return
        self.cmd("stop", timeout=30.0)
        wait_for(lambda: not pid_alive(self.master_pid), 15.0)
