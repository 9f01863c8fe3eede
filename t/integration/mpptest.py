"""mpptest: helpers shared by mpp's integration tests (Python 3 standard library only).

A test script does:

    import mpptest
    t = mpptest.Test("daemon_lifecycle")      # temp dir, cleanup on exit/failure/signal
    t.require_tool("postfix")                 # skip (or fail when MPP_REQUIRE_INTEGRATION=1)
    t.skip_missing("a check", "not root")     # one check, same rule
    t.ok(cond, "what is checked", diag="shown as # lines when it fails")
    ...
    t.done()                                  # prints the plan, cleans up, exits 0

What it provides:
- TAP output (plan at the end, so a test that dies half-way is an error, never a pass): ok/not ok
  with "# " diagnostics, skips with a reason, skip_all, bail_out.
- MPP_REQUIRE_INTEGRATION=1: a missing tool or missing root is a failure instead of a skip.
- A temp dir per test (its path is printed first), removed at the end unless MPP_KEEP_TMP=1
  (or MPP_KEEP_TMP_ON_FAILURE=1 and a check failed). When a check failed, the tails of the
  logs a test registered (mppd's log, Postfix's maillog) are printed as diagnostics.
- Process management: every process started (or daemon PID learned) is recorded and stopped by
  PID at exit: try/finally in done()/run(), atexit, and SIGTERM/SIGINT/SIGHUP handlers.
- free loopback ports, wait_for (condition with a deadline), wait_for_port, wait_for_file,
  LogWatch (wait for a log line after a mark), wait_for_exit.
- SmtpSink: a threaded SMTP server on 127.0.0.1 that stores every message with its envelope.
- Postfix: a private Postfix instance in the temp dir that relays everything to a sink and can
  use a milter (TESTING.md recipe).
- MilterClient: the MTA side of the milter protocol, enough to drive a milter through a message.
- Paths of the build: MPP_TOP_BUILDDIR / MPP_TOP_SRCDIR (set by `make check`).
"""

import atexit
import errno
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REQUIRE = os.environ.get("MPP_REQUIRE_INTEGRATION") == "1"
KEEP_TMP = os.environ.get("MPP_KEEP_TMP") == "1"
LOOPBACK = "127.0.0.1"

_HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.environ.get("MPP_TOP_SRCDIR") or os.path.normpath(os.path.join(_HERE, "..", ".."))
TOP_BUILDDIR = os.environ.get("MPP_TOP_BUILDDIR") or TOP_SRCDIR


def build_path(*parts):
    """A file of the build tree (binaries: build_path("mppd"))."""
    return os.path.join(TOP_BUILDDIR, *parts)


def src_path(*parts):
    """A file of the source tree (sample config: src_path("etc", "mppd.conf.xml"))."""
    return os.path.join(TOP_SRCDIR, *parts)


def package_version():
    """PACKAGE_VERSION from the build's config.h (None when not found)."""
    try:
        with open(build_path("config.h")) as f:
            m = re.search(r'^#define PACKAGE_VERSION "([^"]*)"', f.read(), re.M)
            return m.group(1) if m else None
    except OSError:
        return None


def is_root():
    return os.geteuid() == 0


def find_tool(name, extra_dirs=("/usr/sbin", "/sbin", "/usr/lib/postfix/sbin")):
    """Absolute path of a program from PATH or the usual sbin dirs, or None."""
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(extra_dirs)
    return shutil.which(name, path=path)


# ---------------------------------------------------------------------------------------------
# waiting with deadlines

def wait_for(predicate, timeout=10.0, interval=0.05):
    """Calls predicate() until it returns a true value or `timeout` seconds pass.
    Returns that value, or None on timeout (the predicate is tried one last time at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_for_port(port, host=LOOPBACK, timeout=10.0):
    """True once a TCP connect to host:port succeeds within `timeout`."""
    return bool(wait_for(lambda: port_open(host, port), timeout))


def wait_for_port_closed(port, host=LOOPBACK, timeout=10.0):
    return bool(wait_for(lambda: not port_open(host, port), timeout))


def wait_for_file(path, timeout=10.0, nonempty=False):
    def check():
        try:
            st = os.stat(path)
        except OSError:
            return False
        return st.st_size > 0 if nonempty else True
    return bool(wait_for(check, timeout))


def wait_for_gone(path, timeout=10.0):
    return bool(wait_for(lambda: not os.path.lexists(path), timeout))


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not reaped by its parent) counts as gone.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for_exit(proc, timeout=10.0):
    """Exit status of a subprocess.Popen once it ends within `timeout`, else None."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def read_file(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return b"" if "b" in mode else ""


class LogWatch:
    """Follows a growing text file. mark() remembers the current end; wait(regex) looks for the
    regex in what was written after the mark (or from the start) until a deadline.
    Rotation is followed: when the file at `path` is no longer the one marked, the rest of the
    marked file (found as path.1) and the whole new file are searched."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.inode = None

    def _stat(self, path):
        try:
            st = os.stat(path)
            return st.st_ino, st.st_size
        except OSError:
            return None, 0

    def mark(self):
        self.inode, self.offset = self._stat(self.path)
        return self.offset

    @staticmethod
    def _read(path, offset=0):
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def text(self, since_mark=True):
        if not since_mark:
            return self._read(self.path)
        inode, _ = self._stat(self.path)
        if self.inode is None or inode == self.inode:
            return self._read(self.path, self.offset if self.inode is not None else 0)
        rotated = self.path + ".1"
        old = self._read(rotated, self.offset) if self._stat(rotated)[0] == self.inode else ""
        return old + self._read(self.path)

    def search(self, regex, since_mark=True):
        return re.search(regex, self.text(since_mark), re.M)

    def wait(self, regex, timeout=10.0, since_mark=True):
        """The re.Match of `regex` (multiline) once it appears, else None."""
        return wait_for(lambda: self.search(regex, since_mark), timeout)


# ---------------------------------------------------------------------------------------------
# TAP and the per-test environment

_active_tests = []
_interrupted = []   # the signal that interrupted the test, if any


def _cleanup_all():
    for t in list(_active_tests):
        t.cleanup()


def _on_signal(signum, frame):
    # Turn the signal into SystemExit so finally blocks and atexit run the cleanup; the test
    # then bails out (no plan), so an interrupted run never counts as a pass.
    _interrupted.append(signum)
    raise SystemExit(128 + signum)


atexit.register(_cleanup_all)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


class Proc:
    """A process we started (popen) or a daemon PID we learned (pid + stop function)."""

    def __init__(self, name, popen=None, pid=None, stop=None):
        self.name = name
        self.popen = popen
        self.pid = popen.pid if popen is not None else pid
        self.stop = stop

    def alive(self):
        if self.popen is not None:
            return self.popen.poll() is None
        return self.pid is not None and pid_alive(self.pid)


class Test:
    def __init__(self, name):
        self.name = name
        self.n = 0
        self.failed = 0
        self.finished = False
        self.procs = []
        self.cleanups = []          # callables run at cleanup, last registered first
        self.dump_on_failure = []   # (label, path): tails printed as diagnostics when a check failed
        self.tmp = tempfile.mkdtemp(prefix="mpp-%s-" % name)
        # Daemons that drop privileges (mppd as nobody, Postfix as postfix) must traverse it.
        os.chmod(self.tmp, 0o755)
        self._ports = set()
        self._cleaned = False
        _active_tests.append(self)
        sys.stdout.reconfigure(line_buffering=True)
        self.diag("%s: temp dir %s" % (name, self.tmp))

    # ---- TAP ------------------------------------------------------------------------------
    def _emit(self, line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            self._emit("# " + line)

    def ok(self, cond, name, diag=None):
        """One TAP result. `diag` (string or callable returning one) is printed when it fails."""
        self.n += 1
        name = name.replace("#", "\\#")
        if cond:
            self._emit("ok %d - %s" % (self.n, name))
            return True
        self.failed += 1
        self._emit("not ok %d - %s" % (self.n, name))
        if callable(diag):
            try:
                diag = diag()
            except Exception as e:  # a broken diagnostic must not hide the failure
                diag = "(diagnostic failed: %r)" % e
        if diag:
            self.diag(diag)
        return False

    def eq(self, got, want, name):
        return self.ok(got == want, name, lambda: "got:  %r\nwant: %r" % (got, want))

    def like(self, text, regex, name, flags=re.M):
        m = re.search(regex, text or "", flags)
        self.ok(m is not None, name, lambda: "no match for /%s/ in:\n%s" % (regex, _tail(text, 40)))
        return m

    def unlike(self, text, regex, name, flags=re.M):
        m = re.search(regex, text or "", flags)
        return self.ok(m is None, name, lambda: "unexpected match %r for /%s/" % (m.group(0), regex))

    def skip(self, name, reason):
        self.n += 1
        self._emit("ok %d - %s # SKIP %s" % (self.n, name.replace("#", "\\#"), reason))

    def skip_missing(self, name, reason):
        """Skips one check for want of a tool or of root; with MPP_REQUIRE_INTEGRATION=1 that
        is a failure instead."""
        if REQUIRE:
            self.ok(False, "%s (%s)" % (name, reason),
                    "MPP_REQUIRE_INTEGRATION=1: a missing requirement is a failure, not a skip")
        else:
            self.skip(name, reason)

    def skip_all(self, reason):
        """Nothing of this test can run. With MPP_REQUIRE_INTEGRATION=1 that is a failure."""
        if REQUIRE:
            self.ok(False, "requirement: " + reason,
                    "MPP_REQUIRE_INTEGRATION=1: a missing requirement is a failure, not a skip")
            self.done()
        self.cleanup()
        self._emit("1..0 # SKIP " + reason)
        self.finished = True
        sys.exit(0)

    def bail_out(self, reason):
        """Stop the test: the plan is never printed, so the driver reports an error."""
        self._emit("Bail out! " + reason)
        self.finished = True
        self.cleanup()
        sys.exit(1)

    def done(self):
        """Print the plan, clean up, exit. Failed checks are in the TAP stream ("not ok"), so the
        exit status is 0 once the plan is printed: the driver counts each failure once (a nonzero
        status would add an ERROR for the same failure). A test that can't finish bails out
        (no plan, exit 1), which the driver reports as an error."""
        if _interrupted and not self.finished:
            self.bail_out("interrupted by signal %d" % _interrupted[0])
        if not self.finished:
            self.finished = True
            self.cleanup()
            self._emit("1..%d" % self.n)
            if self.failed:
                self.diag("%d of %d checks failed" % (self.failed, self.n))
        sys.exit(0)

    def run(self, main):
        """Runs main(self); an exception becomes a failed check (with its traceback), then the
        plan is printed and everything started is stopped."""
        try:
            main(self)
        except SystemExit:
            raise
        except BaseException:
            self.ok(False, "test body raised an exception", traceback.format_exc())
        finally:
            if not self.finished:
                self.done()

    # ---- requirements ------------------------------------------------------------------------
    def require_root(self, what):
        if not is_root():
            self.skip_all("%s needs root" % what)

    def require_tool(self, name):
        path = find_tool(name)
        if not path:
            self.skip_all("%s not installed" % name)
        return path

    def require_file(self, path, what=None):
        if not os.path.exists(path):
            self.skip_all("%s not found (%s)" % (what or os.path.basename(path), path))
        return path

    # ---- resources ---------------------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def mkdir(self, *parts, owner=None, mode=0o755):
        """A directory in the temp dir, optionally owned by user `owner` (name)."""
        p = self.path(*parts)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)
        if owner is not None:
            import pwd
            pw = pwd.getpwnam(owner)
            os.chown(p, pw.pw_uid, pw.pw_gid)
        return p

    def write(self, name, text, mode=0o644):
        p = self.path(name) if not os.path.isabs(name) else name
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def free_port(self):
        """A TCP port on 127.0.0.1 that was free just now and not handed out before in this run."""
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((LOOPBACK, 0))
                port = s.getsockname()[1]
            if port not in self._ports:
                self._ports.add(port)
                return port
        raise RuntimeError("no free port")

    def on_failure_dump(self, label, path):
        self.dump_on_failure.append((label, path))

    def add_cleanup(self, fn):
        self.cleanups.append(fn)

    # ---- processes ---------------------------------------------------------------------------
    def spawn(self, argv, name=None, stdin=subprocess.DEVNULL, stdout=None, stderr=None, env=None):
        """Starts a process and records it. stdout/stderr: a path (appended), a file, or None
        (a file in the temp dir named after the process)."""
        name = name or os.path.basename(argv[0])
        files = []

        def as_file(x, suffix):
            if x is None:
                x = self.path("%s.%s" % (name, suffix))
            if isinstance(x, str):
                f = open(x, "ab")
                files.append(f)
                return f
            return x
        out = as_file(stdout, "out")
        err = as_file(stderr, "err") if stderr is not subprocess.STDOUT else stderr
        popen = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, env=env, close_fds=True)
        for f in files:
            f.close()
        p = Proc(name, popen=popen)
        self.procs.append(p)
        self.diag("started %s (pid %d): %s" % (name, popen.pid, " ".join(argv)))
        return popen

    def track_pid(self, name, pid, stop=None):
        """Records a daemon we started indirectly (it forked); stop() is tried before signals."""
        p = Proc(name, pid=pid, stop=stop)
        self.procs.append(p)
        return p

    def stop_proc(self, p, timeout=10.0):
        if p.stop is not None:
            try:
                p.stop()
            except Exception as e:
                self.diag("stopping %s: %r" % (p.name, e))
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            if not p.alive():
                break
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                break
            if p.popen is not None:
                wait_for_exit(p.popen, wait)
            else:
                wait_for(lambda: not pid_alive(p.pid), wait)
        if p.popen is not None:
            try:
                p.popen.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass

    def run_cmd(self, argv, input=None, timeout=30.0, env=None):
        """Runs a command to completion: (exit status, stdout, stderr) as text.
        A command that overruns `timeout` is killed and reported with status None."""
        try:
            r = subprocess.run(argv, input=input, capture_output=True, timeout=timeout, env=env,
                               text=True, errors="replace")
            return r.returncode, r.stdout, r.stderr
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            return None, out, err + "\n(killed after %ss)" % timeout

    # ---- the end -----------------------------------------------------------------------------
    def cleanup(self):
        if self._cleaned:
            return
        self._cleaned = True
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)   # let the cleanup finish
        if self in _active_tests:
            _active_tests.remove(self)
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:
                self.diag("cleanup: %r" % e)
        for p in reversed(self.procs):
            try:
                self.stop_proc(p)
            except Exception as e:
                self.diag("stopping %s (pid %s): %r" % (p.name, p.pid, e))
        if self.failed:
            for label, path in self.dump_on_failure:
                text = read_file(path)
                if text:
                    self.diag("---- %s (%s), last lines:" % (label, path))
                    self.diag(_tail(text, 60))
        if KEEP_TMP or (self.failed and os.environ.get("MPP_KEEP_TMP_ON_FAILURE") == "1"):
            self.diag("kept temp dir %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _tail(text, n):
    lines = (text or "").splitlines()
    return "\n".join(lines[-n:])


# ---------------------------------------------------------------------------------------------
# SMTP sink: where the private Postfix delivers

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


# ---------------------------------------------------------------------------------------------
# A private Postfix instance (never the system's)

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


# ---------------------------------------------------------------------------------------------
# mppd

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
        owner = self.user
        self.run_dir = t.mkdir("run", owner=owner)
        self.log_dir = t.mkdir("log", owner=owner)
        self.state_dir = t.mkdir("state", owner=owner)
        self.sock = os.path.join(self.run_dir, "control.sock")
        self.pidfile = os.path.join(self.run_dir, "mppd.pid")
        self.logfile = os.path.join(self.log_dir, "mppd.log")
        self.milter_port = t.free_port()
        self.conf = t.path("mppd.conf.xml")
        self.proc = None
        self.log = LogWatch(self.logfile)
        t.on_failure_dump("mppd log", self.logfile)
        t.on_failure_dump("mppd stderr", t.path("mppd.err"))

    def config(self, timeout="30s", user=True, extra="", milter_port=None):
        """The test's config text. extra: lines inserted before </mppd>."""
        user_attr = ' user="%s"' % self.user if (user and self.user) else ""
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            "<mppd>\n"
            '  <daemon%s state-dir="%s" pidfile="%s" shutdown-timeout="%ds"/>\n'
            '  <log syslog-facility="none" file="%s" level="info"/>\n'
            '  <milter socket="inet:%d@127.0.0.1" timeout="%s"/>\n'
            '  <control socket="%s"/>\n'
            "%s"
            "</mppd>\n"
        ) % (user_attr, self.state_dir, self.pidfile, self.shutdown_timeout, self.logfile,
             milter_port or self.milter_port, timeout, self.sock, extra)

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
        self.log.mark()
        self.proc = self.t.spawn([self.mppd, "-f", "-c", conf or self.conf], name="mppd",
                                 stdout=self.t.path("mppd.out"), stderr=self.t.path("mppd.err"))
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


# ---------------------------------------------------------------------------------------------
# The MTA side of the milter protocol (version 6), to drive a milter without an MTA

SMFIP_NOCONNECT, SMFIP_NOHELO, SMFIP_NOMAIL, SMFIP_NORCPT = 0x1, 0x2, 0x4, 0x8
SMFIP_NOBODY, SMFIP_NOHDRS, SMFIP_NOEOH, SMFIP_NR_HDR = 0x10, 0x20, 0x40, 0x80
SMFIP_NOUNKNOWN, SMFIP_NODATA = 0x100, 0x200
SMFIP_NR_CONN, SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000
SMFIP_NR_DATA, SMFIP_NR_EOH, SMFIP_NR_BODY = 0x10000, 0x40000, 0x80000
_FINAL_REPLIES = set(b"cartdy")   # continue, accept, reject, tempfail, discard, reply code


class MilterError(Exception):
    pass


class MilterClient:
    """Speaks milter protocol 6 as an MTA would. Each step returns the milter's final reply as
    (command letter, data), or None when the milter asked not to see or not to answer that step;
    modification requests at end of message are collected in .modifications."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        # Macro packets and commands are separate writes: without this, Nagle holds the command
        # until the milter's delayed ACK (40 ms per step).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.protocol = 0
        self.actions = 0
        self.modifications = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _send(self, cmd, data=b""):
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise MilterError("milter closed the connection")
            buf += chunk
        return buf

    def _recv(self):
        (length,) = struct.unpack(">I", self._recv_exact(4))
        if length < 1 or length > (1 << 24):
            raise MilterError("bad packet length %d" % length)
        body = self._recv_exact(length)
        return body[:1], body[1:]

    def _reply(self):
        while True:
            cmd, data = self._recv()
            if cmd[0] in _FINAL_REPLIES:
                return cmd.decode(), data
            if cmd == b"p":       # progress: keep waiting
                continue
            self.modifications.append((cmd.decode(), data))

    def _step(self, cmd, data, skip_flag, noreply_flag):
        if skip_flag and self.protocol & skip_flag:
            return None
        self._send(cmd, data)
        if noreply_flag and self.protocol & noreply_flag:
            return None
        return self._reply()

    def macros(self, for_cmd, pairs):
        data = for_cmd
        for k, v in pairs.items():
            data += k.encode() + b"\0" + v.encode() + b"\0"
        self._send(b"D", data)

    def negotiate(self, version=6, actions=0x1FF, protocol=0x1FFFFF):
        self._send(b"O", struct.pack(">III", version, actions, protocol))
        cmd, data = self._recv()
        if cmd != b"O" or len(data) < 12:
            raise MilterError("bad option negotiation reply %r %r" % (cmd, data[:32]))
        version, self.actions, self.protocol = struct.unpack(">III", data[:12])
        return version, self.actions, self.protocol

    def connect(self, hostname, addr, port=25):
        self.macros(b"C", {"j": "mx.mpp-test.example", "{daemon_name}": "mpptest", "v": "mpptest"})
        data = hostname.encode() + b"\0" + b"4" + struct.pack(">H", port) + addr.encode() + b"\0"
        return self._step(b"C", data, SMFIP_NOCONNECT, SMFIP_NR_CONN)

    def helo(self, name):
        return self._step(b"H", name.encode() + b"\0", SMFIP_NOHELO, SMFIP_NR_HELO)

    def mail(self, sender, queue_id):
        self.macros(b"M", {"i": queue_id, "{mail_addr}": sender})
        return self._step(b"M", b"<" + sender.encode() + b">\0", SMFIP_NOMAIL, SMFIP_NR_MAIL)

    def rcpt(self, rcpt, queue_id):
        self.macros(b"R", {"i": queue_id, "{rcpt_addr}": rcpt})
        return self._step(b"R", b"<" + rcpt.encode() + b">\0", SMFIP_NORCPT, SMFIP_NR_RCPT)

    def data(self, queue_id):
        self.macros(b"T", {"i": queue_id})
        return self._step(b"T", b"", SMFIP_NODATA, SMFIP_NR_DATA)

    def header(self, name, value):
        return self._step(b"L", name.encode() + b"\0" + value.encode() + b"\0", SMFIP_NOHDRS, SMFIP_NR_HDR)

    def eoh(self, queue_id):
        self.macros(b"N", {"i": queue_id})
        return self._step(b"N", b"", SMFIP_NOEOH, SMFIP_NR_EOH)

    def body(self, chunk):
        return self._step(b"B", chunk, SMFIP_NOBODY, SMFIP_NR_BODY)

    def eom(self, queue_id):
        self.macros(b"E", {"i": queue_id})
        self._send(b"E")
        return self._reply()

    def quit(self):
        try:
            self._send(b"Q")
        except OSError:
            pass
        self.close()

    def message(self, client_name, client_addr, sender, rcpts, headers, body, queue_id):
        """A whole SMTP transaction; returns the list of (step, reply) pairs."""
        steps = [("negotiate", self.negotiate()),
                 ("connect", self.connect(client_name, client_addr)),
                 ("helo", self.helo(client_name)),
                 ("mail", self.mail(sender, queue_id))]
        for r in rcpts:
            steps.append(("rcpt", self.rcpt(r, queue_id)))
        steps.append(("data", self.data(queue_id)))
        for name, value in headers:
            steps.append(("header", self.header(name, value)))
        steps.append(("eoh", self.eoh(queue_id)))
        if body:
            steps.append(("body", self.body(body)))
        steps.append(("eom", self.eom(queue_id)))
        self.quit()
        return steps
