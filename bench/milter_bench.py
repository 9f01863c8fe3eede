#!/usr/bin/env python3
"""bench/milter_bench.py: milter throughput of mppd through a real Postfix (RELIABILITY L1).

Runs Postfix's smtp-source against a private Postfix (smtpd on loopback) that relays to
Postfix's smtp-sink, twice in the same run:
  reference  Postfix with no milter
  mppd       Postfix with smtpd_milters = mppd (the milter of this build)
and reports messages/s for each and their ratio. The figure that matters is the ratio: these
machines are shared and noisy, so absolute numbers move between runs.

Usage (as root, from the build dir or with MPP_TOP_BUILDDIR set):
  make bench                                # defaults below
  bench/milter_bench.py [-m MESSAGES] [-s SESSIONS] [-l SIZE] [-r ROUNDS]
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "t", "integration"))
import mpptest  # noqa: E402


def run_round(t, label, milter_spec, mppd, args):
    sink_port = t.free_port()
    sink = t.spawn([mpptest.find_tool("smtp-sink"), "-u", "nobody", "-c",
                    "127.0.0.1:%d" % sink_port, "1000"],
                   name="smtp-sink-" + label)
    if not mpptest.wait_for_port(sink_port):
        raise RuntimeError("smtp-sink did not start")
    smtp_port = t.free_port()
    pf = mpptest.Postfix(t, smtp_port, sink_port, milter=milter_spec,
                         extra_main={"default_process_limit": str(max(100, args.sessions * 2))})
    ok, why = pf.start()
    if not ok:
        raise RuntimeError(why)
    rates = []
    try:
        for _ in range(args.rounds):
            start = time.monotonic()
            subprocess.run([mpptest.find_tool("smtp-source"), "-s", str(args.sessions),
                            "-m", str(args.messages), "-l", str(args.size),
                            "-f", "bench@example.org", "-t", "rcpt@example.net",
                            "127.0.0.1:%d" % smtp_port], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
            rates.append(args.messages / (time.monotonic() - start))
    finally:
        pf.stop()
        sink.terminate()
        sink.wait(timeout=10)
    return sorted(rates)[len(rates) // 2]  # median


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-m", "--messages", type=int, default=2000)
    p.add_argument("-s", "--sessions", type=int, default=20)
    p.add_argument("-l", "--size", type=int, default=5000)
    p.add_argument("-r", "--rounds", type=int, default=3)
    args = p.parse_args()

    if not mpptest.is_root():
        sys.exit("milter_bench: needs root (it starts a private Postfix)")
    t = mpptest.Test("milter_bench")
    try:
        mppd = mpptest.Mppd(t)
        t.write("mppd.conf.xml", mppd.config())
        mppd.start()
        if not mppd.wait_ready():
            sys.exit("milter_bench: mppd did not start; see " + t.path("mppd.err"))
        ref = run_round(t, "reference", None, None, args)
        mpp = run_round(t, "mppd", "inet:127.0.0.1:%d" % mppd.milter_port, mppd, args)
        mppd.stop()
        host = os.uname()
        print("milter throughput: %d messages of %d bytes, %d SMTP sessions, median of %d rounds"
              % (args.messages, args.size, args.sessions, args.rounds))
        print("machine: %s %s, %d CPUs" % (host.sysname, host.machine, os.cpu_count()))
        print("%-28s %10.0f msg/s" % ("Postfix alone (reference)", ref))
        print("%-28s %10.0f msg/s" % ("Postfix + mppd milter", mpp))
        print("%-28s %10.2f" % ("ratio mppd / reference", mpp / ref))
    finally:
        t.cleanup()


if __name__ == "__main__":
    main()
