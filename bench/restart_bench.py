#!/usr/bin/env python3
"""bench/restart_bench.py: how long mppd takes to come back with a full state-dir (issue
"Performance": a restart with 1 million greylist entries loaded in under 3 s; 1 million entries
in under 150 MB RSS).

Three state-dirs, each written once by bench/state-fill (the policy library's own writers, so
the files are what mppd leaves behind):
  empty     nothing (the reference)
  greylist  N greylist entries: a snapshot, plus the last --journal changes in the journal
  full      the same, plus --blocks block list entries and --threshold-keys threshold keys
For each, -r starts of mppd -f (policy server on, a default group that greylists) on a fresh
copy of the state-dir (mppd rewrites the greylist snapshot at start). A start is timed from just
before exec to the first answer of the policy port: a request is sent as soon as a connection
is accepted (mppd listens before it loads its state, so the request waits in the socket until
mppd is ready), and a refused connection is retried every 2 ms. Then the RSS and the peak RSS
(VmHWM) of mppd, the entries its log says it loaded, and the time `mppctl stop` takes (the last
sync and save). The files were just copied, so they are read from the page cache: this is a
warm restart (a cold one adds the disk's read time of the state-dir's size, printed).

Prints a table of the medians and the difference against the empty state-dir, measured in the
same run. Everything started is stopped at exit, also on SIGINT/SIGTERM.

Usage (from the build dir or with MPP_TOP_BUILDDIR set; as root mppd runs as nobody):
  make bench-restart RESTART_BENCH_ARGS="-n 1000000 -r 5"
  bench/restart_bench.py [-n ENTRIES] [--journal N] [--blocks N] [--threshold-keys N] [-r RUNS]
                         [--timeout SECONDS]
"""

import argparse
import os
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "t", "integration"))
import mpptest  # noqa: E402

from policy_bench import BenchError, loadavg, machine  # noqa: E402

REQUEST = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
           "client_address=198.51.100.7\nclient_name=unknown\nhelo_name=mx.example.org\n"
           "sender=bench@example.org\nrecipient=user@example.net\ninstance=r1\n\n").encode()


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchError("no %s for pid %d" % (field, pid))


def first_answer(port, proc, timeout):
    """Connects (retrying while refused), sends one request, returns the reply's first line."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise BenchError("mppd exited (status %s) before answering" % proc.returncode)
        if time.monotonic() > deadline:
            raise BenchError("no answer from the policy port within %g s" % timeout)
        try:
            s = socket.create_connection((mpptest.LOOPBACK, port), timeout=timeout)
            break
        except (ConnectionRefusedError, socket.timeout):
            time.sleep(0.002)
    with s:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        s.sendall(REQUEST)
        reply = b""
        while not reply.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                raise BenchError("the policy port closed the connection without an answer")
            reply += chunk
    return reply.decode(errors="replace").splitlines()[0]


def dir_size(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


def fill(t, tool, name, args, entries, blocks, keys):
    d = t.mkdir("template-" + name)
    if entries or blocks or keys:
        argv = [tool, "--dir", d, "--entries", str(entries),
                "--journal", str(min(args.journal, entries)),
                "--blocks", str(blocks), "--threshold-keys", str(keys)]
        rc, out, err = t.run_cmd(argv, timeout=1800)
        if rc != 0:
            raise BenchError("state-fill failed (%s): %s%s" % (rc, out, err))
        print("# " + out.strip().replace("\n", "\n# "))
    return d


def start_once(t, d, template, args):
    """One start on a copy of `template`: a dict of the figures."""
    state = t.path("state-run")
    shutil.rmtree(state, ignore_errors=True)
    shutil.copytree(template, state)
    if d.user:
        pw = pwd.getpwnam(d.user)
        for p in [state] + [os.path.join(state, f) for f in os.listdir(state)]:
            os.chown(p, pw.pw_uid, pw.pw_gid)
    d.state_dir = state
    t.write(d.conf, d.config(extra='  <group name="default">\n    <greylist delay="5m"/>\n'
                                   '  </group>\n'))
    started = time.monotonic()
    proc = d.start()
    reply = first_answer(d.policy_port, proc, args.timeout)
    ready = time.monotonic() - started
    rss, hwm = status_kb(proc.pid, "VmRSS"), status_kb(proc.pid, "VmHWM")
    if not reply.startswith("action="):
        raise BenchError("unexpected answer %r" % reply)
    log = d.log.text()
    loaded = {}
    for what, rx in (("greylist", r"greylist: (\d+) entries after loading"),
                     ("blocks", r"block list: (\d+) entries loaded"),
                     ("thresholds", r"thresholds: (\d+) entries loaded")):
        m = re.search(rx, log)
        loaded[what] = int(m.group(1)) if m else 0
    stop_started = time.monotonic()
    rc = d.stop(timeout=120)
    if rc != 0:
        raise BenchError("mppd stopped with status %r; see %s" % (rc, t.path("mppd.err")))
    return {"ready": ready, "rss": rss / 1024.0, "hwm": hwm / 1024.0, "loaded": loaded,
            "stop": time.monotonic() - stop_started, "answer": reply}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", "--entries", type=int, default=1000000, help="greylist entries (1000000)")
    p.add_argument("--journal", type=int, default=50000,
                   help="of them, in the journal only (50000)")
    p.add_argument("--blocks", type=int, default=100000,
                   help="block list entries of the full case (100000, the table's bound)")
    p.add_argument("--threshold-keys", type=int, default=100000,
                   help="threshold keys of the full case (100000, the table's bound)")
    p.add_argument("-r", "--runs", type=int, default=5, help="starts per state-dir (5)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a start may take (120)")
    args = p.parse_args()
    if args.entries < 0 or args.runs < 1 or args.journal < 0:
        sys.exit("restart_bench: --entries and --journal want >= 0, --runs >= 1")

    tool = mpptest.build_path("bench", "state-fill")
    for b in (tool, mpptest.build_path("mppd")):
        if not os.access(b, os.X_OK):
            sys.exit("restart_bench: %s not built (make all)" % b)

    t = mpptest.Test("restart_bench")
    load_before = loadavg()
    try:
        d = mpptest.Mppd(t, shutdown_timeout=60)
        cases = [("empty", fill(t, tool, "empty", args, 0, 0, 0)),
                 ("greylist", fill(t, tool, "greylist", args, args.entries, 0, 0)),
                 ("full", fill(t, tool, "full", args, args.entries, args.blocks,
                               args.threshold_keys))]
        results = {}
        for run in range(args.runs):
            for name, template in cases:
                r = start_once(t, d, template, args)
                results.setdefault(name, []).append(r)
                print("# %-8s run %d: ready %.3f s, RSS %.1f MB (peak %.1f), loaded %s, stop %.2f s"
                      % (name, run + 1, r["ready"], r["rss"], r["hwm"], r["loaded"], r["stop"]))
                sys.stdout.flush()

        print()
        print("restart: %d greylist entries (last %d in the journal); full adds %d blocks and %d "
              "threshold keys; %d starts each, medians"
              % (args.entries, min(args.journal, args.entries), args.blocks, args.threshold_keys,
                 args.runs))
        print("machine: %s; load average %s before the run, %s after" % (machine(), load_before,
                                                                         loadavg()))
        print("date: %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        print()
        print("| state-dir | size MB | loaded (greylist/blocks/thresholds) | exec to first answer s "
              "| minus empty s | RSS MB | peak RSS MB | stop s |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        med = {n: statistics.median(r["ready"] for r in rs) for n, rs in results.items()}
        for name, template in cases:
            rs = results[name]
            ld = rs[-1]["loaded"]
            print("| %s | %.1f | %d / %d / %d | %.3f | %+.3f | %.1f | %.1f | %.2f |"
                  % (name, dir_size(template) / 1e6, ld["greylist"], ld["blocks"], ld["thresholds"],
                     med[name], med[name] - med["empty"],
                     statistics.median(r["rss"] for r in rs),
                     statistics.median(r["hwm"] for r in rs),
                     statistics.median(r["stop"] for r in rs)))
        want = {"greylist": (args.entries, 0, 0),
                "full": (args.entries, args.blocks, args.threshold_keys)}
        short = [n for n, w in want.items()
                 if any((r["loaded"]["greylist"], r["loaded"]["blocks"], r["loaded"]["thresholds"]) != w
                        for r in results[n])]
        if short:
            print("restart_bench: mppd did not load every entry in: %s" % ", ".join(short),
                  file=sys.stderr)
            return 1
        return 0
    except (BenchError, subprocess.TimeoutExpired, OSError) as e:
        print("restart_bench: %s" % e, file=sys.stderr)
        return 2
    finally:
        t.cleanup()


if __name__ == "__main__":
    sys.exit(main())
