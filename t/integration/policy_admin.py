#!/usr/bin/env python3
"""policy_admin: the policy tables through `mppctl` on a running mppd.

The contract: mppd with a greylisting default group answers a Postfix policy request for a new
triplet with a deferral; `mppctl greylist list` then shows that triplet (waiting), `greylist key`
computes the same key from client, sender and recipient, and `greylist delete` removes it (a
second delete fails). `mppctl blacklist add 192.0.2.50` makes the next request from that client
get `action=550 ...`; `blacklist delete` lifts it. `mppctl explain` prints the recipient's group
and a greylist step, and changes nothing (the greylist stays empty). A bad argument exits
non-zero with the usage.

Run alone: MPP_TOP_BUILDDIR=<build dir> MPP_TOP_SRCDIR=<source dir> python3 policy_admin.py
"""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402
from mpptest.policy import policy_request as ask_policy  # noqa: E402

GROUPS = '  <group name="default">\n    <greylist delay="1h"/>\n  </group>\n'
SENDER = "sender@example.org"
RCPT = "user@example.net"
REPLY_TIMEOUT = 10  # seconds


def policy_request(port, client, instance):
    """One Postfix policy request (RCPT stage); returns the action value."""
    return ask_policy(port, client, instance, SENDER, RCPT, REPLY_TIMEOUT)


def main(t):
    d = mpptest.Mppd(t)
    t.write(d.conf, d.config(extra=GROUPS))
    p = d.start()
    if not t.ok(d.wait_ready(), "mppd starts with a greylisting default group",
                lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        return

    action = policy_request(d.policy_port, "198.51.100.7", "i1")
    t.like(action, r"^DEFER_IF_PERMIT 4\.7\.1 ", "a new triplet is greylisted")

    rc, out, err = d.ctl("greylist", "list")
    t.eq(rc, 0, "greylist list exits 0")
    rows = re.findall(r"^([0-9a-f]{32}) triplet waiting \S+Z \S+Z \S+Z 0$", out, re.M)
    t.eq(len(rows), 1, "greylist list shows the triplet, waiting")
    key = rows[0] if rows else "0" * 32

    rc, out, _ = d.ctl("greylist", "key", "198.51.100.7", SENDER, RCPT)
    t.eq(out.splitlines()[0] if out else "", key, "greylist key computes the listed key")

    rc, out, err = d.ctl("greylist", "delete", key)
    t.eq(rc, 0, "greylist delete KEY exits 0")
    rc, out, _ = d.ctl("greylist", "list")
    t.unlike(out, key, "the triplet is gone from greylist list")
    rc, _, err = d.ctl("greylist", "delete", key)
    t.ok(rc != 0 and "no greylist entry" in err, "a second delete fails", err)

    rc, out, err = d.ctl("blacklist", "add", "192.0.2.50")
    t.eq(rc, 0, "blacklist add 192.0.2.50 exits 0")
    rc, out, _ = d.ctl("blacklist", "list")
    t.like(out, r"^192\.0\.2\.50 global admin ", "blacklist list shows the client")
    action = policy_request(d.policy_port, "192.0.2.50", "i2")
    t.like(action, r"^550 5\.7\.1 ", "a request from the blocked client gets 550")
    rc, out, err = d.ctl("blacklist", "delete", "192.0.2.50")
    t.eq(rc, 0, "blacklist delete exits 0")
    action = policy_request(d.policy_port, "192.0.2.50", "i3")
    t.unlike(action, r"^550", "after delete the client is no longer refused")

    rc, out, _ = d.ctl("greylist", "flush")
    rc, out, err = d.ctl("explain", "--client", "203.0.113.9", "--from", SENDER, "--rcpt", RCPT)
    t.eq(rc, 0, "explain exits 0")
    t.like(out, r"^rcpt %s group=default direction=inbound$" % re.escape(RCPT),
           "explain prints the recipient's group")
    t.like(out, r"^  greylist ", "explain prints a greylist step")
    t.like(out, r"^  final action=greylist 450 ", "explain prints the final action")
    rc, out, _ = d.ctl("greylist", "list")
    t.unlike(out, r"triplet", "explain recorded no triplet")

    rc, out, err = d.ctl("explain", "--client", "203.0.113.9")
    t.ok(rc != 0 and "usage: explain" in err, "explain without --from/--rcpt: usage", err)
    rc, out, err = d.ctl("blacklist", "add", "192.0.2.50", "10")
    t.ok(rc != 0 and "usage: blacklist" in err, "a duration without unit: usage", err)

    t.eq(d.stop(), 0, "mppd stops")


if __name__ == "__main__":
    mpptest.Test("policy_admin").run(main)
