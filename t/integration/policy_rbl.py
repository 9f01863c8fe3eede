#!/usr/bin/env python3
"""policy_rbl: RBL checks of the Postfix policy server against a real DNS server.

The contract: a local unbound (started by the test, authoritative for the zone rbl.test and
recursing nowhere) lists 198.51.100.7 with a TXT reason, 2001:db8::5 (IPv6, nibble format)
without one, and answers 127.255.255.254 ("query refused") for 198.51.100.8. mppd with
<dns resolver="127.0.0.1:PORT"> and a default group that uses the zone with reject-at equal to
its score answers a policy request from the listed client with 550 5.7.1 and the TXT reason,
from the IPv6 client with 550 naming the zone, from an unlisted client DUNNO, and from the
refused one DUNNO with one warning in the log. With unbound stopped a request from a new client
is answered DUNNO within the DNS timeout (a DNS outage refuses nothing). With the policy
server off, the milter refuses the listed client at RCPT with the same reply.

Run alone: MPP_TOP_BUILDDIR=<build dir> MPP_TOP_SRCDIR=<source dir> python3 policy_rbl.py
"""

import os
import re
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402
from mpptest.policy import policy_request as ask_policy  # noqa: E402

SENDER = "sender@example.org"
RCPT = "user@example.net"
REPLY_TIMEOUT = 15  # seconds
TXT = "Listed in rbl.test: see http://rbl.test/198.51.100.7"
V6_NAME = ".".join(reversed("20010db8000000000000000000000005")) + ".rbl.test."


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((mpptest.LOOPBACK, 0))
        return s.getsockname()[1]


def dns_answers(port):
    """True when something answers a DNS query on 127.0.0.1:port."""
    q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x05ready\x04test\x00\x00\x01\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(q, (mpptest.LOOPBACK, port))
            return len(s.recv(512)) > 0
        except OSError:
            return False


def start_unbound(t, unbound, port):
    conf = t.write("unbound.conf", "\n".join([
        "server:",
        "  interface: 127.0.0.1",
        "  port: %d" % port,
        "  do-daemonize: no",
        '  username: ""',
        '  chroot: ""',
        '  directory: "%s"' % t.path(),
        '  pidfile: "%s"' % t.path("unbound.pid"),
        "  use-syslog: no",
        '  logfile: "%s"' % t.path("unbound.log"),
        "  do-ip6: no",
        "  do-tcp: no",
        "  num-threads: 1",
        "  access-control: 127.0.0.0/8 allow",
        '  local-zone: "." static',
        '  local-zone: "rbl.test." static',
        '  local-data: "rbl.test. 3600 IN SOA ns.rbl.test. admin.rbl.test. 1 3600 600 86400 60"',
        '  local-data: "7.100.51.198.rbl.test. 300 IN A 127.0.0.2"',
        "  local-data: '7.100.51.198.rbl.test. 300 IN TXT \"%s\"'" % TXT,
        '  local-data: "%s 300 IN A 127.0.0.4"' % V6_NAME,
        '  local-data: "8.100.51.198.rbl.test. 300 IN A 127.255.255.254"',
        ""]))
    p = t.spawn([unbound, "-d", "-c", conf], name="unbound")
    t.on_failure_dump("unbound log", t.path("unbound.log"))
    return p if mpptest.wait_for(lambda: dns_answers(port), 10, interval=0.05) else None


def policy_request(port, client, instance):
    """One Postfix policy request (RCPT stage); returns the action value."""
    return ask_policy(port, client, instance, SENDER, RCPT, REPLY_TIMEOUT)


def main(t):
    unbound = t.require_tool("unbound")
    dns_port = free_udp_port()
    ub = start_unbound(t, unbound, dns_port)
    if not t.ok(ub is not None, "unbound serves the test zone",
                lambda: mpptest.read_file(t.path("unbound.log"))):
        return

    d = mpptest.Mppd(t)
    extra = ('  <dns resolver="127.0.0.1:%d" timeout="1s" attempts="2"/>\n'
             '  <rbl name="testbl" zone="rbl.test" score="5"/>\n'
             '  <group name="default">\n'
             '    <rbl use="testbl" reject-at="5"/>\n'
             '  </group>\n') % dns_port
    t.write(d.conf, d.config(extra=extra))
    rc, out, err = t.run_cmd([d.mppd, "-t", "-c", d.conf])
    t.ok(rc == 0 and "not implemented" not in (out + err), "mppd -t accepts <dns> and <rbl> "
         "without a not-implemented warning", out + err)
    p = d.start()
    if not t.ok(d.wait_ready(), "mppd starts with an RBL group",
                lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        return

    action = policy_request(d.policy_port, "198.51.100.7", "i1")
    t.like(action, r"^550 5\.7\.1 ", "a listed client gets 550 5.7.1")
    t.ok(TXT in action, "the reply carries the zone's TXT reason", action)
    t.ok(d.log.wait(r"client=unknown\[198\.51\.100\.7\] .* check=rbl action=reject", 5),
         "the decision is logged with check=rbl", mpptest.read_file(d.logfile))

    action = policy_request(d.policy_port, "2001:db8::5", "i2")
    t.like(action, r"^550 5\.7\.1 .*listed by rbl\.test \(127\.0\.0\.4\)",
           "a listed IPv6 client (nibble format) gets 550 naming the zone")

    action = policy_request(d.policy_port, "198.51.100.9", "i3")
    t.eq(action, "DUNNO", "an unlisted client gets DUNNO")

    action = policy_request(d.policy_port, "198.51.100.8", "i4")
    t.eq(action, "DUNNO", "a 127.255.255.254 answer is not a listing")
    policy_request(d.policy_port, "198.51.100.8", "i5")
    t.ok(d.log.wait(r"rbl: rbl\.test refused the query \(answer 127\.255\.255\.254\)", 5),
         "the refusal is logged", mpptest.read_file(d.logfile))
    log = mpptest.read_file(d.logfile)
    t.eq(len(re.findall(r"rbl: rbl\.test refused the query", log)), 1,
         "the refusal is logged once, not per request")

    # The milter runs the same checks when the policy server is off.
    t.eq(d.stop(), 0, "mppd stops for the milter run")
    t.write(d.conf, d.config(extra=extra, policy_attrs=' enabled="no"'))
    p = d.start()
    if not t.ok(d.wait_ready(), "mppd starts with the policy server off",
                lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        return
    c = mpptest.MilterClient(mpptest.LOOPBACK, d.milter_port)
    try:
        c.negotiate()
        c.connect("listed.example", "198.51.100.7")
        c.helo("listed.example")
        c.mail(SENDER, "RBL1")
        r = c.rcpt(RCPT, "RBL1")
        text = r[1].decode(errors="replace") if r else ""
        t.ok(r is not None and r[0] == "y" and text.startswith("550 5.7.1 ") and TXT in text,
             "the milter refuses a listed client at RCPT with the TXT reason", repr(r))
        c.abort()
    finally:
        c.close()
    c = mpptest.MilterClient(mpptest.LOOPBACK, d.milter_port)
    try:
        c.negotiate()
        c.connect("clean.example", "198.51.100.9")
        c.helo("clean.example")
        c.mail(SENDER, "RBL2")
        r = c.rcpt(RCPT, "RBL2")
        t.ok(r is not None and r[0] == "c", "the milter accepts an unlisted client", repr(r))
        c.abort()
    finally:
        c.close()
    t.eq(d.stop(), 0, "mppd stops after the milter run")
    t.write(d.conf, d.config(extra=extra))
    p = d.start()
    if not t.ok(d.wait_ready(), "mppd starts again with the policy server",
                lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        return
    t.like(policy_request(d.policy_port, "198.51.100.7", "i8"), r"^550 5\.7\.1 ",
           "the listed client is refused again (and is now in the new resolver's cache)")

    t.stop_proc(next(x for x in t.procs if x.name == "unbound"))
    start = time.monotonic()
    action = policy_request(d.policy_port, "198.51.100.10", "i6")
    took = time.monotonic() - start
    t.eq(action, "DUNNO", "with the DNS server down a new client gets DUNNO")
    t.ok(0.8 <= took < 3.0, "after the DNS timeout (1s), not much later", "took %.2fs" % took)
    action = policy_request(d.policy_port, "198.51.100.7", "i7")
    t.like(action, r"^550 5\.7\.1 ", "a listing still in the cache is still refused")

    t.eq(d.stop(), 0, "mppd stops")


if __name__ == "__main__":
    mpptest.Test("policy_rbl").run(main)
