"""mpptest.tap: one test script's run: TAP output (ok/not ok with diagnostics, skips, plan at the
end, bail out), requirements (root, tools, files; failures instead of skips under
MPP_REQUIRE_INTEGRATION=1), the temp dir, process management (every process started or daemon
PID learned is stopped by PID at exit, also on SIGTERM/SIGINT/SIGHUP) and log tails printed when
a check failed.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import traceback

from .env import KEEP_TMP, LOOPBACK, REQUIRE, find_tool, is_root
from .wait import pid_alive, read_file, wait_for, wait_for_exit


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
