"""Turns the tagged result lines bench/run.sh collected into BENCHMARKS.md's
results section: one table per goal, yc-billing and its peers side by side,
each figure the median over runs with [min–max], each ratio the median of
the per-run ratios (arms of one run are taken back to back) with [min–max].

Usage: report.py LINES BENCHMARKS.md --date D --commit C --machine M --versions V --runs R --secs S
"""

import argparse
import statistics


def parse(path):
    rows = []
    for line in open(path):
        fields = {}
        words = line.split()
        for w in words:
            if "=" in w:
                k, v = w.split("=", 1)
                fields[k] = v
        fields["_tag"] = words[0] if words else ""
        fields["_line"] = line.split(" ", 1)[1].strip() if " " in line else ""
        rows.append(fields)
    return rows


def med(values):
    return statistics.median(values) if values else float("nan")


def spread(values, fmt="%.1f"):
    if not values:
        return "n/a"
    return (fmt + " [" + fmt + "–" + fmt + "]") % (med(values), min(values), max(values))


def per_run(rows, key, value, **match):
    """{run: float(value)} of the rows matching every key=value in `match`."""
    out = {}
    for r in rows:
        if all(r.get(k) == v for k, v in match.items()) and value in r:
            try:
                out[r["run"]] = float(r[value])
            except ValueError:
                pass
    return out


def ratios(a, b):
    return [a[k] / b[k] for k in a if k in b and b[k] > 0]


def verdict(value, limit, at_most=True):
    ok = value <= limit if at_most else value >= limit
    if ok:
        return "met"
    miss = (value / limit - 1) * 100 if at_most else (1 - value / limit) * 100
    return "**missed** by %.0f %%" % miss


def goal1(rows, out):
    g = [r for r in rows if r["_tag"] == "g1"]
    out.append("### Goal 1: client CPU per call (µs of user + system time of the client process; server: `yc-billing emulator` in another process)\n")
    out.append("| in flight | raw tonic stub | yc-billing | Python SDK | Node.js SDK | yc-billing / raw (goal ≤ 1.10) | Python / yc-billing (goal ≥ 10 at 64) | Node / yc-billing (goal ≥ 10 at 64) | calls/s raw / yc-billing / Python / Node |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in ("1", "64"):
        cpu = {i: per_run(g, "run", "cpu_us", impl=i, inflight=n) for i in ("raw", "wire", "client", "python", "node")}
        rate = {i: per_run(g, "run", "calls_per_s", impl=i, inflight=n) for i in cpu}
        cr = ratios(cpu["client"], cpu["raw"])
        pr = ratios(cpu["python"], cpu["client"])
        nr = ratios(cpu["node"], cpu["client"])
        v1 = verdict(med(cr), 1.10)
        vp = verdict(med(pr), 10, at_most=False) if n == "64" else "—"
        vn = verdict(med(nr), 10, at_most=False) if n == "64" else "—"
        out.append(
            "| %s | %s | %s | %s | %s | **%s**: %s | %s %s | %s %s | %s |"
            % (
                n,
                spread(list(cpu["raw"].values())),
                spread(list(cpu["client"].values())),
                spread(list(cpu["python"].values())),
                spread(list(cpu["node"].values())),
                spread(cr, "%.3f"),
                v1,
                spread(pr, "%.2f"),
                vp,
                spread(nr, "%.2f"),
                vn,
                " / ".join("%.0f" % med(list(rate[i].values())) for i in ("raw", "client", "python", "node")),
            )
        )
    out.append("\nWhere the difference goes: `wire` is the raw stub sending what the client puts on the wire (fresh never-indexed `x-client-request-id` and `x-client-trace-id`, never-indexed `grpc-timeout` and `authorization`), with none of the client's code.\n")
    out.append("| in flight | wire µs | headers alone (wire / raw) | the client's code alone (yc-billing / wire) |")
    out.append("| --- | --- | --- | --- |")
    for n in ("1", "64"):
        cpu = {i: per_run(g, "run", "cpu_us", impl=i, inflight=n) for i in ("raw", "wire", "client")}
        out.append("| %s | %s | %s | %s |" % (n, spread(list(cpu["wire"].values())), spread(ratios(cpu["wire"], cpu["raw"]), "%.3f"), spread(ratios(cpu["client"], cpu["wire"]), "%.3f")))
    g = [r for r in rows if r["_tag"] == "g1rt"]
    out.append("\nThe same calls under other runtime settings of the caller (same binary; `BENCH_RT=current`: a current-thread runtime, one thread like Node.js's event loop; `BENCH_WORKERS=1`: a one-worker multi-thread runtime; default: one worker per core, as `#[tokio::main]`). The SDK columns divide the SDKs' figures of the table above, run by run:\n")
    out.append("| in flight | runtime | raw µs | yc-billing µs | yc-billing / raw | Python / yc-billing | Node / yc-billing |")
    out.append("| --- | --- | --- | --- | --- | --- | --- |")
    for n in ("1", "64"):
        base = [r for r in rows if r["_tag"] == "g1" and r.get("inflight") == n]
        py = per_run(base, "run", "cpu_us", impl="python")
        node = per_run(base, "run", "cpu_us", impl="node")
        for name, sel in (("default multi-thread (the table above)", base),) + tuple(
            (rt, [r for r in g if r.get("rt") == rt and r.get("inflight") == n]) for rt in ("current", "workers1")
        ):
            raw = per_run(sel, "run", "cpu_us", impl="raw")
            cli = per_run(sel, "run", "cpu_us", impl="client")
            out.append(
                "| %s | %s | %s | %s | %s | %s | %s |"
                % (n, name, spread(list(raw.values())), spread(list(cli.values())), spread(ratios(cli, raw), "%.3f"), spread(ratios(py, cli), "%.2f"), spread(ratios(node, cli), "%.2f"))
            )


def goal2(rows, out):
    g = [r for r in rows if r["_tag"] == "g2"]
    out.append("\n### Goal 2: server CPU per call (µs of the server process's CPU over the calls one client made; the same raw stub client for all three)\n")
    out.append("| in flight | minimal tonic server | yc-billing emulator | Python grpcio server (SDK servicers) | emulator / minimal (goal ≤ 1.20) | Python / emulator (goal ≥ 10) |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    for n in ("1", "64"):
        cpu = {s: per_run(g, "run", "server_cpu_us", server=s, inflight=n) for s in ("minimal", "emulator", "python")}
        em = ratios(cpu["emulator"], cpu["minimal"])
        pe = ratios(cpu["python"], cpu["emulator"])
        out.append(
            "| %s | %s | %s | %s | **%s**: %s | **%s**: %s |"
            % (
                n,
                spread(list(cpu["minimal"].values())),
                spread(list(cpu["emulator"].values())),
                spread(list(cpu["python"].values())),
                spread(em, "%.3f"),
                verdict(med(em), 1.20),
                spread(pe, "%.2f"),
                verdict(med(pe), 10, at_most=False),
            )
        )
    g = [r for r in rows if r["_tag"] == "g2w1"]
    if not g:
        return
    out.append("\nThe same with the two Rust servers on one worker thread (`yc-billing emulator --worker-threads 1`, the minimal server on a one-worker runtime); the Python server as above, its figures divided run by run:\n")
    out.append("| in flight | minimal, one worker | emulator, one worker | emulator / minimal | Python / emulator |")
    out.append("| --- | --- | --- | --- | --- |")
    base = [r for r in rows if r["_tag"] == "g2"]
    for n in ("1", "64"):
        cpu = {s: per_run(g, "run", "server_cpu_us", server=s, inflight=n) for s in ("minimal", "emulator")}
        py = per_run(base, "run", "server_cpu_us", server="python", inflight=n)
        em = ratios(cpu["emulator"], cpu["minimal"])
        pe = ratios(py, cpu["emulator"])
        out.append(
            "| %s | %s | %s | %s | %s |"
            % (n, spread(list(cpu["minimal"].values())), spread(list(cpu["emulator"].values())), spread(em, "%.3f"), spread(pe, "%.2f"))
        )


def goal3(rows, out):
    g = [r for r in rows if r["_tag"] == "g3"]
    raw = per_run(g, "run", "calls_per_s", impl="raw")
    cli = per_run(g, "run", "calls_per_s", impl="client")
    r = ratios(cli, raw)
    out.append("\n### Goal 3: latency guard (emulator process adding 1 ms per call, 1 in flight)\n")
    out.append("| raw calls/s | yc-billing calls/s | yc-billing / raw (goal ≥ 0.99) |")
    out.append("| --- | --- | --- |")
    out.append("| %s | %s | **%s**: %s |" % (spread(list(raw.values()), "%.0f"), spread(list(cli.values()), "%.0f"), spread(r, "%.3f"), verdict(med(r), 0.99, at_most=False)))


def goal4(rows, out):
    out.append("\n### Goal 4: concurrent operation waits, emulator in another process\n")
    for r in (r for r in rows if r["_tag"] == "g4"):
        f = lambda k: float(r.get(k, "nan"))
        out.append("| waits | peak RSS of the client process (goal ≤ 50 MB) | `Operation.Get` per operation per second of waiting (goal ≤ 1) | finish-to-return delay p50 / p99 / max | poll interval in force when it finished p50 / p99 | delay / that interval, p50 / p99 (goal p99 ≤ 1.1) |")
        out.append("| --- | --- | --- | --- | --- | --- |")
        out.append(
            "| %s (done %s ms after creation; created in %s s, all returned after %s s) | **%.1f MiB** (one waiter's future: %s bytes): %s | **%.3f** (%s Gets): %s | %.0f / %.0f / %.0f ms | %.0f / %.0f ms | %.3f / **%.3f**: %s |"
            % (
                r["waits"], r["delay_ms"], r["created_s"], r["elapsed_s"],
                f("peak_rss_mib"), r.get("waiter_future_bytes", "n/a"), verdict(f("peak_rss_mib"), 50 * 1e6 / 2**20),
                f("gets_per_op_per_s"), r["gets"], verdict(f("gets_per_op_per_s"), 1.0),
                f("delay_p50_ms"), f("delay_p99_ms"), f("delay_max_ms"),
                f("interval_p50_ms"), f("interval_p99_ms"),
                f("ratio_p50"), f("ratio_p99"), verdict(f("ratio_p99"), 1.1),
            )
        )
        out.append("\nPolicy: `PollingPolicy::default()` (initial %s ms, ×%s, at most %s ms, jitter %s). The interval in force is the gap between the operation's last two polls." % (r["policy_initial_ms"], r["policy_multiplier"], r["policy_max_ms"], r["policy_jitter"]))


def goal5(rows, out):
    g = [r for r in rows if r["_tag"] == "g5"]
    out.append("\n### Goal 5: start-up (wall time, median [q1–q3], min–max)\n")
    out.append("| figure | yc-billing | peer | goal |")
    out.append("| --- | --- | --- | --- |")
    q = lambda r: "%s ms [%s–%s], %s–%s" % (r["median_ms"], r["q1_ms"], r["q3_ms"], r["min_ms"], r["max_ms"])
    for r in g:
        if r["_line"].startswith("oop_startup"):
            out.append("| in-process `Emulator` start to first answered `Get` (%s runs) | %s | — | ≤ 2 ms: %s |" % (r["runs"], q(r), verdict(float(r["median_ms"]), 2)))
    kinds = {r.get("kind"): r for r in g if r["_line"].startswith("startup")}
    if "emulator" in kinds:
        r = kinds["emulator"]
        out.append("| `yc-billing emulator` process spawn to ready line (%s runs) | %s | — | ≤ 15 ms: %s |" % (r["runs"], q(r), verdict(float(r["median_ms"]), 15)))
    if "cli" in kinds and "python" in kinds:
        c, p = kinds["cli"], kinds["python"]
        out.append("| one `yc-billing accounts get` end to end vs the same one-shot call with the Python SDK (`bench/python_oneshot.py`, interpreter start and imports included), %s runs interleaved | %s | %s | ≤ 15 ms: %s |" % (c["runs"], q(c), q(p), verdict(float(c["median_ms"]), 15)))


def kept(rows, out):
    out.append("\n### Kept from the earlier set: (e) token refresh burst and (f) the emulator at scale (both in process); (g) the admin API (reset ≤ 1 ms, journal cost ≤ 5 %, start to ready ≤ 20 ms); (h) REST against gRPC for the same call\n")
    out.append("```text")
    for r in rows:
        if r["_tag"] in ("e", "f", "g", "h"):
            out.append(r["_line"])
    out.append("```")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("lines")
    p.add_argument("out")
    for k in ("date", "commit", "machine", "versions", "runs", "secs"):
        p.add_argument("--" + k, required=True)
    a = p.parse_args()
    rows = parse(a.lines)
    out = [
        "Run on %s with `bench/run.sh` (commit %s): %s; %s. %s runs of each arm, %s s each after a 0.3 s warm-up, arms interleaved within a run; "
        "every server in its own process on loopback. CPU figures are user + system time of one process; other builds shared the machine."
        % (a.date, a.commit, a.machine, a.versions, a.runs, a.secs),
        "",
    ]
    goal1(rows, out)
    goal2(rows, out)
    goal3(rows, out)
    goal4(rows, out)
    goal5(rows, out)
    kept(rows, out)
    table = "\n".join(out)
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    text = open(a.out).read()
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    open(a.out, "w").write(head + begin + "\n" + table.strip() + "\n" + end + tail)


if __name__ == "__main__":
    main()
