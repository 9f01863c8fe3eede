#!/usr/bin/env python3
"""bench/policy_bench.py: the Postfix policy server of mppd under load (issue "Performance", L4).

Starts, on loopback ports chosen at run time:
  trivial    bench/trivial-policyd: one epoll thread answering DUNNO to everything (the ceiling)
  mppd       the mppd of this build, foreground, with its policy server on and a default group
             that greylists (<greylist delay=...>)
  postgrey   Debian's postgrey with the same delay (skipped, with how to install it, when missing)
and runs bench/policy-load against each at 1, 16 and 128 connections with the same triplet mix
and seed. Prints a table (req/s, latency p50/p99/p99.9, errors, the count of each action
answered) and the ratios mppd/trivial and mppd/postgrey per concurrency, then mppd's RSS after
a number of distinct triplets. The load generator shares the cores with the servers, so the
ratios within one run are the figures that matter.

Every server is started from scratch in this run and gets the same sequences of triplets (one
seed per concurrency, the same for every server; the concurrencies never share a triplet), so
greylist state grows the same way in each. Everything started is
stopped at exit, also on SIGINT/SIGTERM.

Usage (from the build dir or with MPP_TOP_BUILDDIR set; as root mppd runs as nobody):
  make bench POLICY_BENCH_ARGS="-d 10"
  bench/policy_bench.py [-d SECONDS] [-c 1,16,128] [--new-ratio R] [--pool N] [--seed N]
                        [--greylist-delay SECONDS] [--rss-triplets N] [--timeout SECONDS]
                        [--csv FILE]
"""

import argparse
import csv
import os
import pwd
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "t", "integration"))
import mpptest  # noqa: E402

LOAD_FIELDS = ["target", "connections", "threads", "new_ratio", "seed", "requests", "seconds",
               "rps", "p50_us", "p99_us", "p999_us", "errors", "err_connect", "err_malformed",
               "err_timeout", "err_closed", "actions"]


class BenchError(Exception):
    pass


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    u = os.uname()
    return "%s %s %s, %d CPUs (%s)" % (u.sysname, u.release, u.machine, os.cpu_count() or 0, model)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError("no VmRSS for pid %d" % pid)


def cell_seed(args, connections):
    """The seed of the cells at this concurrency: the same for every server, different for each
    concurrency, so that a "new" triplet of one cell was not sent in an earlier cell."""
    return args.seed * 100000 + connections


def run_load(load, target, connections, args, requests=None, new_ratio=None, seed=None):
    """One policy-load run: its CSV row as a dict. Errors in the run are kept in the row (exit
    status 1); anything else (no answer at all, bad usage, no output) raises."""
    seed = cell_seed(args, connections) if seed is None else seed
    argv = [load, "--target", target, "--connections", str(connections),
            "--new-ratio", str(args.new_ratio if new_ratio is None else new_ratio),
            "--pool", str(args.pool), "--seed", str(seed), "--timeout", str(args.timeout),
            "--csv"]
    argv += ["--requests", str(requests)] if requests else ["--duration", str(args.duration)]
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=(args.duration if not requests else 600) + 120)
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    if r.returncode not in (0, 1) or not lines:
        raise BenchError("policy-load against %s (%d connections) failed (status %d): %s"
                         % (target, connections, r.returncode, r.stderr.strip()))
    row = next(csv.DictReader([",".join(LOAD_FIELDS), lines[-1]]))
    for k in ("connections", "requests", "errors", "err_connect", "err_malformed",
              "err_timeout", "err_closed"):
        row[k] = int(row[k])
    for k in ("rps", "p50_us", "p99_us", "p999_us", "seconds"):
        row[k] = float(row[k])
    return row


def start_trivial(t, tool):
    port = t.free_port()
    t.spawn([tool, "127.0.0.1:%d" % port], name="trivial-policyd")
    if not mpptest.wait_for_port(port):
        raise BenchError("trivial-policyd did not start; see " + t.path("trivial-policyd.err"))
    return "127.0.0.1:%d" % port


def start_mppd(t, args):
    mppd = mpptest.Mppd(t)
    group = ('  <group name="default">\n'
             '    <greylist delay="%ds"/>\n'
             '  </group>\n') % args.greylist_delay
    conf = mppd.config(extra=group)  # logs at info, as a production mppd would
    t.write("mppd.conf.xml", conf)
    rc, out, err = t.run_cmd([mppd.mppd, "-t", "-c", mppd.conf])
    if rc != 0:
        raise BenchError("mppd -t refuses the bench config:\n%s%s" % (out, err))
    proc = mppd.start()
    if not mppd.wait_ready() or not mpptest.wait_for_port(mppd.policy_port):
        raise BenchError("mppd did not start; see " + t.path("mppd.err"))
    return mppd, proc, "127.0.0.1:%d" % mppd.policy_port


def start_postgrey(t, args):
    tool = mpptest.find_tool("postgrey")
    if tool is None:
        return None, ("postgrey not found: skipped (Debian/Ubuntu: apt-get install postgrey; "
                      "then stop its service, e.g. systemctl disable --now postgrey)")
    port = t.free_port()
    if mpptest.is_root():
        user = "postgrey"
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            return None, "postgrey: no user \"postgrey\": skipped"
        group = None
    else:
        pw = pwd.getpwuid(os.geteuid())
        user = pw.pw_name
        group = pw.pw_gid
    dbdir = t.mkdir("postgrey-db", owner=user if mpptest.is_root() else None)
    argv = [tool, "--inet=127.0.0.1:%d" % port, "--dbdir=" + dbdir,
            "--delay=%d" % args.greylist_delay, "--user=" + user,
            "--pidfile=" + os.path.join(dbdir, "postgrey.pid")]
    if group is not None:
        import grp
        argv.append("--group=" + grp.getgrgid(group).gr_name)
    t.spawn(argv, name="postgrey")
    if not mpptest.wait_for_port(port, timeout=30):
        raise BenchError("postgrey did not start; see " + t.path("postgrey.err"))
    return "127.0.0.1:%d" % port, None


def fmt_ms(us):
    return "%.2f" % (us / 1000.0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-d", "--duration", type=float, default=10.0, help="seconds per cell (10)")
    p.add_argument("-c", "--connections", default="1,16,128", help="concurrencies (1,16,128)")
    p.add_argument("--new-ratio", type=float, default=0.2, help="share of never-seen triplets (0.2)")
    p.add_argument("--pool", type=int, default=10000, help="repeated triplets drawn from (10000)")
    p.add_argument("--seed", type=int, default=1,
                   help="0..80; a cell at C connections uses SEED*100000+C (1)")
    p.add_argument("--greylist-delay", type=int, default=1,
                   help="greylist delay of mppd and postgrey, seconds (1)")
    p.add_argument("--rss-triplets", type=int, default=100000,
                   help="distinct triplets sent to mppd before reading its RSS (0: skip)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="a request unanswered after this many seconds is an error (10)")
    p.add_argument("--csv", metavar="FILE", help="also write every cell's row to FILE")
    args = p.parse_args()
    conc = [int(c) for c in args.connections.split(",") if c]
    if not 0 <= args.seed <= 80 or any(not 1 <= c <= 10000 for c in conc):
        sys.exit("policy_bench: --seed wants 0..80 and --connections 1..10000")

    load = mpptest.build_path("bench", "policy-load")
    trivial_tool = mpptest.build_path("bench", "trivial-policyd")
    for tool in (load, trivial_tool, mpptest.build_path("mppd")):
        if not os.access(tool, os.X_OK):
            sys.exit("policy_bench: %s not built (make all)" % tool)

    t = mpptest.Test("policy_bench")
    rows = []
    load_before = loadavg()
    try:
        targets = [("trivial", start_trivial(t, trivial_tool))]
        mppd, mppd_proc, mppd_target = start_mppd(t, args)
        targets.append(("mppd", mppd_target))
        pg_target, pg_note = start_postgrey(t, args)
        if pg_target:
            targets.append(("postgrey", pg_target))

        for c in conc:
            for name, target in targets:
                row = run_load(load, target, c, args)
                row["server"] = name
                rows.append(row)
                print("# %-8s %4d conn: %8.0f req/s  p99 %s ms  errors %d  %s"
                      % (name, c, row["rps"], fmt_ms(row["p99_us"]), row["errors"], row["actions"]))
                sys.stdout.flush()
                if name == "mppd" and mppd_proc.poll() is not None:
                    raise BenchError("mppd exited during the run; see " + t.path("mppd.err"))

        rss = None
        if args.rss_triplets > 0:
            before = vm_rss_kb(mppd_proc.pid)
            rrow = run_load(load, mppd_target, 16, args, requests=args.rss_triplets, new_ratio=1.0,
                            seed=args.seed * 100000 + 99999)
            after = vm_rss_kb(mppd_proc.pid)
            rss = (before, after, rrow)
        mppd.stop()

        print()
        print("policy server load: %s s per cell, new-ratio %g, pool %d, seed %d, greylist delay %d s"
              % (args.duration, args.new_ratio, args.pool, args.seed, args.greylist_delay))
        print("machine: %s; load average %s before the run, %s after"
              % (machine(), load_before, loadavg()))
        print("date: %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        if pg_note:
            print(pg_note)
        print()
        print("| server | conns | req/s | p50 ms | p99 ms | p99.9 ms | errors | actions |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for r in rows:
            print("| %s | %d | %.0f | %s | %s | %s | %d | %s |"
                  % (r["server"], r["connections"], r["rps"], fmt_ms(r["p50_us"]),
                     fmt_ms(r["p99_us"]), fmt_ms(r["p999_us"]), r["errors"],
                     r["actions"].replace(";", " ")))
        print()
        print("| conns | req/s mppd/trivial | p99 mppd/trivial | req/s mppd/postgrey |")
        print("|---:|---:|---:|---:|")
        by = {(r["server"], r["connections"]): r for r in rows}
        for c in conc:
            m, tr, pg = by.get(("mppd", c)), by.get(("trivial", c)), by.get(("postgrey", c))
            print("| %d | %.2f | %.2f | %s |"
                  % (c, m["rps"] / tr["rps"], m["p99_us"] / tr["p99_us"],
                     "%.1f" % (m["rps"] / pg["rps"]) if pg else "n/a"))
        if rss:
            before, after, rrow = rss
            print()
            print("mppd RSS after %d distinct triplets (answers: %s; %d errors): %.1f MB "
                  "(%.1f MB before them; greylist entries exist only for triplets mppd greylisted)"
                  % (rrow["requests"], rrow["actions"].replace(";", " "), rrow["errors"],
                     after / 1024.0, before / 1024.0))
        if args.csv:
            with open(args.csv, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=["server"] + LOAD_FIELDS)
                w.writeheader()
                w.writerows(rows)
        # Errors of mppd or of the ceiling fail the bench; the reference's are in its row.
        errors = sum(r["errors"] for r in rows if r["server"] != "postgrey")
        errors += rss[2]["errors"] if rss else 0
        pg_errors = sum(r["errors"] for r in rows if r["server"] == "postgrey")
        if pg_errors:
            print("postgrey: %d errors (timeouts after %g s count as errors)" % (pg_errors, args.timeout))
        if errors:
            print("policy_bench: %d errors from mppd or trivial-policyd (see the errors column)"
                  % errors, file=sys.stderr)
            return 1
        return 0
    except (BenchError, subprocess.TimeoutExpired, OSError) as e:
        print("policy_bench: %s" % e, file=sys.stderr)
        return 2
    finally:
        t.cleanup()


if __name__ == "__main__":
    sys.exit(main())
