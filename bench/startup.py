"""Start-up figures for bench/run.sh, wall time measured from here
(time.perf_counter around the child process):

* `emulator`: `yc-billing emulator --no-metadata --listen 127.0.0.1:0`
  from spawn to its ready line on stdout (then it is killed);
* `cli`: `yc-billing --endpoint A --plaintext --iam-token T accounts get ID`
  against a running emulator, spawn to exit;
* `python`: bench/python_oneshot.py, the same call with the official Python
  SDK (interpreter start and imports included), spawn to exit.

The three run interleaved, RUNS times each. Prints one line per kind:
    startup kind=cli runs=20 median_ms=… q1_ms=… q3_ms=… min_ms=… max_ms=…

Usage: startup.py YC_BILLING_BINARY PYTHON ADDRESS TOKEN ACCOUNT_ID [--runs N]
"""

import argparse
import os
import statistics
import subprocess
import threading
import time


def quartiles(values):
    v = sorted(values)
    q = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
    return q[0], statistics.median(v), q[2], v[0], v[-1]


def emulator_ready(binary):
    t0 = time.perf_counter()
    child = subprocess.Popen(
        [binary, "emulator", "--no-metadata", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        line = child.stdout.readline()
        elapsed = time.perf_counter() - t0
        if b'"address"' not in line:
            raise SystemExit("the emulator printed no ready line: %r" % line)
        return elapsed
    finally:
        child.kill()
        child.wait(timeout=10)


def timed(argv):
    # A plain blocking wait, with a timer as the bound: `subprocess.run(...,
    # timeout=...)` polls the child with sleeps that double from 0.5 ms, so
    # every figure came out rounded up to the next step (about 16 ms for a
    # 9 ms command).
    t0 = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    watchdog = threading.Timer(60, child.kill)
    watchdog.start()
    try:
        code = child.wait()
    finally:
        watchdog.cancel()
    elapsed = time.perf_counter() - t0
    if code != 0:
        raise SystemExit("%s exited with %d" % (argv[0], code))
    return elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("python")
    p.add_argument("address")
    p.add_argument("token")
    p.add_argument("account_id")
    p.add_argument("--runs", type=int, default=20)
    a = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    cli = [a.binary, "--endpoint", a.address, "--plaintext", "--iam-token", a.token,
           "accounts", "get", a.account_id]
    py = [a.python, os.path.join(here, "python_oneshot.py"), a.address, a.token, a.account_id]
    # One of each first: page cache, bytecode cache.
    emulator_ready(a.binary), timed(cli), timed(py)
    figures = {"emulator": [], "cli": [], "python": []}
    for _ in range(a.runs):
        figures["emulator"].append(emulator_ready(a.binary))
        figures["cli"].append(timed(cli))
        figures["python"].append(timed(py))
    for kind, values in figures.items():
        q1, med, q3, lo, hi = quartiles([v * 1e3 for v in values])
        print(
            "startup kind=%s runs=%d median_ms=%.2f q1_ms=%.2f q3_ms=%.2f min_ms=%.2f max_ms=%.2f"
            % (kind, a.runs, med, q1, q3, lo, hi),
            flush=True,
        )


if __name__ == "__main__":
    main()
