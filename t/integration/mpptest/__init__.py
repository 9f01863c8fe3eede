"""mpptest: helpers shared by mpp's integration tests (Python 3 standard library only).

A test script puts t/integration on sys.path and does:

    import mpptest
    t = mpptest.Test("daemon_lifecycle")      # temp dir, cleanup on exit/failure/signal
    t.require_tool("postfix")                 # skip (or fail when MPP_REQUIRE_INTEGRATION=1)
    t.skip_missing("a check", "not root")     # one check, same rule
    t.ok(cond, "what is checked", diag="shown as # lines when it fails")
    ...
    t.done()                                  # prints the plan, cleans up, exits 0

Every public name lives in one module of this package, by concern, and is re-exported here
(mpptest.Test, mpptest.Mppd, mpptest.wait_for, ...):
- env: paths of the build (MPP_TOP_BUILDDIR / MPP_TOP_SRCDIR, set by `make check`),
  MPP_REQUIRE_INTEGRATION=1 (a missing tool or missing root is a failure instead of a skip),
  MPP_KEEP_TMP, LOOPBACK, is_root, find_tool, package_version.
- tap: Test: TAP output (plan at the end, so a test that dies half-way is an error, never a
  pass): ok/not ok with "# " diagnostics, skips with a reason, skip_all, bail_out; requirements;
  a temp dir per test (its path is printed first), removed at the end unless MPP_KEEP_TMP=1 (or
  MPP_KEEP_TMP_ON_FAILURE=1 and a check failed); when a check failed, the tails of the logs a
  test registered (mppd's log, Postfix's maillog) are printed as diagnostics. Process
  management: every process started (or daemon PID learned) is recorded and stopped by PID at
  exit: try/finally in done()/run(), atexit, and SIGTERM/SIGINT/SIGHUP handlers.
- wait: wait_for (condition with a deadline), wait_for_port, wait_for_port_closed,
  wait_for_file, wait_for_gone, wait_for_exit, pid_alive, port_open, read_file, LogWatch (wait
  for a log line after a mark).
- sink: SmtpSink, a threaded SMTP server on 127.0.0.1 that stores every message with its
  envelope; start_sink.
- postfix: Postfix, a private Postfix instance in the temp dir that relays everything to a sink
  and can use a milter (TESTING.md recipe).
- mppd: Mppd, one mppd of a test: its config, the process, mppctl calls and its log.
- milterclient: MilterClient, the MTA side of the milter protocol, enough to drive a milter
  through a message.
- smtp (imported as a module: `from mpptest.smtp import Session, transaction, ...`): SMTP
  sessions that pretend a client with XCLIENT, one-call transactions, test messages, expect(),
  by_msgid() and header() for delivered messages.
- policy (imported as a module): policy_request(), one policy request as Postfix sends it.
"""

from .env import (KEEP_TMP, LOOPBACK, REQUIRE, TOP_BUILDDIR, TOP_SRCDIR, build_path, find_tool,
                  is_root, package_version, src_path)
from .wait import (LogWatch, pid_alive, port_open, read_file, wait_for, wait_for_exit,
                   wait_for_file, wait_for_gone, wait_for_port, wait_for_port_closed)
from .tap import Proc, Test
from .sink import SinkMessage, SmtpSink, start_sink
from .postfix import Postfix
from .mppd import Mppd
from .milterclient import (SMFIP_NOBODY, SMFIP_NOCONNECT, SMFIP_NODATA, SMFIP_NOEOH,
                           SMFIP_NOHDRS, SMFIP_NOHELO, SMFIP_NOMAIL, SMFIP_NORCPT,
                           SMFIP_NOUNKNOWN, SMFIP_NR_BODY, SMFIP_NR_CONN, SMFIP_NR_DATA,
                           SMFIP_NR_EOH, SMFIP_NR_HDR, SMFIP_NR_HELO, SMFIP_NR_MAIL,
                           SMFIP_NR_RCPT, MilterClient, MilterError)

__all__ = [
    "KEEP_TMP", "LOOPBACK", "REQUIRE", "TOP_BUILDDIR", "TOP_SRCDIR", "build_path", "find_tool",
    "is_root", "package_version", "src_path",
    "LogWatch", "pid_alive", "port_open", "read_file", "wait_for", "wait_for_exit",
    "wait_for_file", "wait_for_gone", "wait_for_port", "wait_for_port_closed",
    "Proc", "Test",
    "SinkMessage", "SmtpSink", "start_sink",
    "Postfix",
    "Mppd",
    "SMFIP_NOBODY", "SMFIP_NOCONNECT", "SMFIP_NODATA", "SMFIP_NOEOH", "SMFIP_NOHDRS",
    "SMFIP_NOHELO", "SMFIP_NOMAIL", "SMFIP_NORCPT", "SMFIP_NOUNKNOWN", "SMFIP_NR_BODY",
    "SMFIP_NR_CONN", "SMFIP_NR_DATA", "SMFIP_NR_EOH", "SMFIP_NR_HDR", "SMFIP_NR_HELO",
    "SMFIP_NR_MAIL", "SMFIP_NR_RCPT", "MilterClient", "MilterError",
]
