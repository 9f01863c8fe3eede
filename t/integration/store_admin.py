#!/usr/bin/env python3
"""store_admin: the store of a running mppd without a database, through `mppctl`.

The contract: spool files left by an earlier run (written here in the spool format, as mppd
would have left them when it was killed before draining) are drained at start into one
maildir per recipient under <store maildir>; a half-written file in spool/tmp is removed
(never acknowledged) and a damaged file in spool/new is set aside to spool/corrupt with a
warning. `mppctl store` shows the empty backlog; `mppctl quarantine list` shows one line per
recipient copy and filters by domain and sender; `show` prints the metadata and the header;
`release ID --rcpt ADDR` runs <store release-sendmail> with the original envelope and the
original message after an X-MPP-Released line, and list then shows the copy released;
`delete ID --rcpt ADDR` removes that copy's file; after a restart the index still lists what
is left. A bad ID exits 1 with the usage.

Run alone: MPP_TOP_BUILDDIR=<build dir> MPP_TOP_SRCDIR=<source dir> python3 store_admin.py
"""

import os
import re
import sys
import uuid
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

MESSAGE = (b"From: alice@example.org\r\nTo: bob@example.com\r\nSubject: Cheap watches\r\n"
           b"Message-ID: <m1@example.org>\r\n\r\nBuy now.\r\n")


def esc(value, extra=b""):
    out = bytearray()
    for b in value.encode():
        if b < 0x20 or b == 0x7F or b == 0x25 or b in extra:
            out += b"%%%02X" % b
        else:
            out.append(b)
    return bytes(out)


def spool_file(uid, sender, rcpts, received, subject):
    """The bytes of one spool entry (store/spool_format.h)."""
    h = bytearray(b"MPP-Spool 1\n")
    for name, value in (("uuid", uid), ("kind", "quarantine"), ("received", str(received)),
                        ("queue-id", "4XyZ1"), ("subject", subject), ("client-ip", "192.0.2.7"),
                        ("client-name", "mail.example.org"), ("helo", "mail.example.org"),
                        ("sender", sender)):
        h += name.encode() + b": " + esc(value) + b"\n"
    for r in rcpts:
        h += b"recipient: " + esc(r, b" ") + b" default\n"
    h += b"score: 7.5\nverdict: quarantine\nreason: spam\n\n"
    body = bytes(h) + MESSAGE
    return body + b"MPP-End %d %08x\n" % (len(MESSAGE), zlib.crc32(body) & 0xFFFFFFFF)


def chown(path, user):
    if user:
        import pwd
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def main(t):
    d = mpptest.Mppd(t)
    spool = t.mkdir("spool", owner=d.user, mode=0o700)
    for sub in ("tmp", "new"):
        t.mkdir("spool", sub, owner=d.user, mode=0o700)
    maildirs = t.mkdir("q", owner=d.user)
    out = t.mkdir("sendmail-out", owner=d.user)
    script = t.write(t.path("sendmail.sh"),
                     "#!/bin/sh\n"
                     "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done > '%s/argv.tmp'\n"
                     "cat > '%s/msg'\n"
                     "mv '%s/argv.tmp' '%s/argv'\n" % (out, out, out, out), mode=0o755)

    ids = [str(uuid.uuid4()) for _ in range(3)]
    files = {
        ids[0]: spool_file(ids[0], "alice@example.org", ["bob@example.com", "carol@example.net"],
                           1700000000, "Cheap watches"),
        ids[1]: spool_file(ids[1], "", ["bob@example.com"], 1700086400, "Undelivered mail"),
    }
    damaged = bytearray(spool_file(ids[2], "x@example.org", ["bob@example.com"], 1700000000, "x"))
    damaged[damaged.index(b"Buy now")] = ord("b")
    files[ids[2]] = bytes(damaged)
    for uid, data in files.items():
        p = os.path.join(spool, "new", uid)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, 0o600)
        chown(p, d.user)
    leftover = os.path.join(spool, "tmp", str(uuid.uuid4()))
    with open(leftover, "wb") as f:
        f.write(b"MPP-Spool 1\nuuid: half")
    chown(leftover, d.user)

    store = ('  <store spool="%s" maildir="%s/%%D%%/%%U%%" release-sendmail="%s"/>\n'
             % (spool, maildirs, script))
    t.write(d.conf, d.config(extra=store))
    p = d.start()
    if not t.ok(d.wait_ready(), "mppd starts with a maildir store",
                lambda: "exit %r\n%s" % (p.poll(), mpptest.read_file(t.path("mppd.err")))):
        return

    def drained():
        rc, o, _ = d.ctl("store")
        return rc == 0 and re.search(r"^spool: \S+ 0 entries", o, re.M)
    t.ok(mpptest.wait_for(drained, 15), "the spool is drained at start (mppctl store)",
         lambda: d.ctl("store")[1])
    t.ok(not os.path.exists(leftover), "the unfinished file in spool/tmp is removed")
    t.eq(sorted(os.listdir(os.path.join(spool, "corrupt"))), [ids[2]],
         "the damaged file is set aside to spool/corrupt")
    t.ok(mpptest.wait_for(lambda: "checksum mismatch" in d.log.text(), 5),
         "its warning says why", lambda: d.log.text())
    bob = os.path.join(maildirs, "example.com", "bob", "new")
    t.eq(len(os.listdir(bob)) if os.path.isdir(bob) else 0, 2, "bob's maildir holds two copies")

    rc, o, e = d.ctl("quarantine", "list")
    t.eq(rc, 0, "quarantine list exits 0")
    rows = o.splitlines()[:-1]
    t.eq(len(rows), 3, "one line per recipient copy")
    t.like(o, r"^%s 2023-11-15T22:13:20Z <bob@example\.com> from=<> " % ids[1],
           "newest first, the null sender as <>")
    rc, o, e = d.ctl("quarantine", "list", "--domain", "example.net")
    t.like(o, r"^%s \S+ <carol@example\.net> from=<alice@example\.org> .*subject=\"Cheap watches\"$"
           % ids[0], "list --domain finds carol's copy")
    rc, o, e = d.ctl("quarantine", "list", "--from", "<>")
    t.eq(len(o.splitlines()) - 1, 1, "list --from '<>' finds the bounce")

    rc, o, e = d.ctl("quarantine", "show", ids[0])
    t.eq(rc, 0, "quarantine show exits 0")
    t.like(o, r"^recipient: <carol@example\.net> group=default$", "show lists the recipients")
    t.like(o, r"^  Subject: Cheap watches$", "show prints the header")

    rc, o, e = d.ctl("quarantine", "release", ids[0], "--rcpt", "carol@example.net")
    t.eq(rc, 0, "quarantine release --rcpt exits 0")
    argv = os.path.join(out, "argv")
    t.ok(mpptest.wait_for_file(argv, 10), "the release-sendmail script ran")
    t.eq(mpptest.read_file(argv), "-i\n-f\nalice@example.org\n--\ncarol@example.net\n",
         "argv: -i -f SENDER -- the chosen recipient")
    want = "X-MPP-Released: %s\n%s" % (ids[0], MESSAGE.decode().replace("\r\n", "\n"))
    t.eq(mpptest.read_file(os.path.join(out, "msg")), want,
         "the script got the original message after X-MPP-Released")
    rc, o, e = d.ctl("quarantine", "list", "--domain", "example.net")
    t.like(o, r" released=\S+Z ", "list shows the copy released")

    rc, o, e = d.ctl("quarantine", "delete", ids[0], "--rcpt", "bob@example.com")
    t.eq(rc, 0, "quarantine delete --rcpt exits 0")
    t.eq(len(os.listdir(bob)), 1, "bob's copy of it is gone from his maildir")
    rc, o, e = d.ctl("quarantine", "show", "not-an-id")
    t.ok(rc == 1 and "usage: quarantine" in e, "a bad ID exits 1 with the usage", e)

    t.eq(d.stop(), 0, "mppd stops")
    p = d.start()
    t.ok(d.wait_ready(), "mppd starts again")
    rc, o, e = d.ctl("quarantine", "list")
    t.eq(len(o.splitlines()) - 1, 2, "after the restart the index lists the two copies left")
    t.eq(d.stop(), 0, "mppd stops")


if __name__ == "__main__":
    mpptest.Test("store_admin").run(main)
