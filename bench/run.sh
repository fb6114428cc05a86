#!/usr/bin/env bash
# Runs every benchmark of yc-billing in one go on this machine and writes the
# results table into BENCHMARKS.md (between the results markers).
#
#   bench/run.sh              # everything (about 12 minutes after the builds)
#   BENCH_RUNS=5 bench/run.sh # more runs per figure
#
# Needs cargo and python3 (with venv). The official Python SDK is installed
# into a virtualenv under the cargo target directory.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TARGET_DIR=$TARGET
RUNS=${BENCH_RUNS:-3}
CONCURRENCY=${BENCH_CONCURRENCY:-64}
PY_SDK_VERSION=0.413.0
LOG=$TARGET/bench-logs
VENV=$TARGET/bench-venv
OUT=$ROOT/BENCHMARKS.md
FEATURES=cli # one feature set for the benches and the emulator binary: one build of the library
mkdir -p "$LOG"

say() { printf '\n== %s\n' "$*" >&2; }
# kv LINE KEY: the value of KEY=VALUE in LINE.
kv() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<"$1"; }
# ratio A B: A/B with 3 decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
# num N: N rounded, with thousands separators.
num() { awk -v n="$1" 'BEGIN { n = sprintf("%d", n + 0.5); s = ""; while (length(n) > 3) { s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) } print n s }'; }

DATE=$(date -u +%Y-%m-%d)
NPROC=$(nproc)
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
RUSTC=$(rustc -V)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git diff --quiet HEAD -- src benches bench Cargo.toml 2>/dev/null && echo "" || echo " (with uncommitted changes)")

say "building (release)"
# Builds the benches and, with them, the yc-billing binary (same features, so one build).
cargo bench --features "$FEATURES" --no-run

bench() { # bench NAME [ENV=VALUE...]: runs one bench, output to the log, result lines to stdout
    local name=$1
    shift
    say "cargo bench --bench $name $*"
    env "$@" cargo bench --features "$FEATURES" --bench "$name" 2>"$LOG/$name.err" | tee "$LOG/$name.out"
}

ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 |"); }

# (a) client stack vs raw stub, in-process emulator; and against a server doing no work.
OVERHEAD=$(bench client_overhead)
OVERHEAD_MIN=$(bench client_overhead BENCH_SERVER=minimal)
OVERHEAD_LAT=$(bench client_overhead BENCH_LATENCY_MS=1 BENCH_CYCLES=60)
while IFS= read -r line; do
    n=$(kv "$line" inflight)
    srv=$(kv "$line" server)
    what="(a) client stack / raw stub, $srv in process"
    [ "$srv" = minimal ] && what="(a′) client stack / raw stub, minimal tonic server (stricter)"
    [ "$srv" = emulator+1ms ] && what="(a″) client stack / raw stub, emulator adding 1 ms per call (a stand-in for a network round trip)"
    row "$what" "$n in flight" \
        "raw $(num "$(kv "$line" raw)") calls/s; client $(num "$(kv "$line" client)") calls/s; raw stub with the client's headers $(num "$(kv "$line" wire)") calls/s (medians of $(kv "$line" cycles) rotating cycles of $(kv "$line" round_ms) ms rounds); A/A control $(kv "$line" control) [$(kv "$line" control_q1)–$(kv "$line" control_q3)]" \
        "**$(kv "$line" ratio)** [$(kv "$line" ratio_q1)–$(kv "$line" ratio_q3)]; the headers alone (wire / raw) $(kv "$line" wire_ratio); the client's code alone (client / wire) $(kv "$line" client_vs_wire) [$(kv "$line" client_vs_wire_q1)–$(kv "$line" client_vs_wire_q3)]; layers only $(kv "$line" layers_ratio); CPU per call raw / client $(kv "$line" cpu_ratio)"
done < <(printf '%s\n%s\n%s\n' "$OVERHEAD" "$OVERHEAD_MIN" "$OVERHEAD_LAT" | grep '^client_overhead')

# (c) the emulator vs a minimal tonic server.
THROUGHPUT=$(bench emulator_throughput)
while IFS= read -r line; do
    [ -n "$line" ] || continue
    row "(c) emulator / minimal tonic server (raw stub, same process)" "$(kv "$line" inflight) in flight" \
        "minimal $(num "$(kv "$line" minimal)") calls/s; emulator $(num "$(kv "$line" emulator)") calls/s (medians of $(kv "$line" rounds) pairs of $(kv "$line" round_ms) ms rounds, order alternating)" \
        "**$(kv "$line" ratio)** [$(kv "$line" ratio_q1)–$(kv "$line" ratio_q3)] (median and quartiles of per-pair ratios)"
done < <(grep '^emulator_throughput' <<<"$THROUGHPUT")

# (b) yc-billing vs the official Python SDK, both calling one emulator process.
say "python SDK yandexcloud==$PY_SDK_VERSION in $VENV"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("yandexcloud"))' 2>/dev/null)" != "$PY_SDK_VERSION" ]; then
    "$VENV/bin/pip" install -q "yandexcloud==$PY_SDK_VERSION"
fi
PY_VERSIONS=$("$VENV/bin/python" -c 'import importlib.metadata as m, sys; print("Python %d.%d.%d, yandexcloud %s, grpcio %s" % (sys.version_info[:3] + (m.version("yandexcloud"), m.version("grpcio"))))')

say "starting yc-billing emulator"
"$TARGET/release/yc-billing" emulator --no-metadata --listen 127.0.0.1:0 >"$LOG/emulator.out" 2>"$LOG/emulator.err" &
EMU_PID=$!
trap 'kill "$EMU_PID" 2>/dev/null || true' EXIT
ADDRESS=
for _ in $(seq 1 100); do
    ADDRESS=$(sed -n 's/.*"address":"\([^"]*\)".*/\1/p' "$LOG/emulator.out" | head -1)
    [ -n "$ADDRESS" ] && break
    sleep 0.1
done
[ -n "$ADDRESS" ] || { echo "the emulator did not start; see $LOG/emulator.err" >&2; exit 1; }
TOKEN=t1.emulator-iam-token-default
ACCOUNT=dn2emu0reseller00001

RUST_SDK=$(bench external_get YC_BENCH_ENDPOINT="http://$ADDRESS" YC_BENCH_TOKEN=$TOKEN \
    YC_BENCH_ID=$ACCOUNT YC_BENCH_CONCURRENCY="$CONCURRENCY" BENCH_RUNS="$RUNS")
say "bench/python_get.py"
PY_SDK=$("$VENV/bin/python" bench/python_get.py "$ADDRESS" "$TOKEN" "$ACCOUNT" \
    --threads "$CONCURRENCY" --runs "$RUNS" | tee "$LOG/python_get.out")
kill "$EMU_PID" 2>/dev/null || true
wait "$EMU_PID" 2>/dev/null || true
trap - EXIT
for mode in sequential concurrent; do
    r=$(grep "mode=$mode " <<<"$RUST_SDK")
    p=$(grep "mode=$mode " <<<"$PY_SDK")
    row "(b) yc-billing / Python SDK (emulator process, plaintext)" \
        "$mode ($(kv "$r" concurrency) Rust tasks, $(kv "$p" concurrency) Python threads)" \
        "Rust $(num "$(kv "$r" median)") calls/s (runs $(kv "$r" runs)); Python $(num "$(kv "$p" median)") calls/s (runs $(kv "$p" runs))" \
        "**$(ratio "$(kv "$r" median)" "$(kv "$p" median)")**"
done

# (d) 10,000 concurrent operation waits, when that bench exists.
WAITS_NOTE=
if test -f benches/operation_waits.rs; then
    WAITS=$(bench operation_waits)
    row "(d) 10,000 concurrent operation waits" "see the output below" "\`cargo bench --bench operation_waits\`" "—"
    WAITS_NOTE=$'\n'"Output of \`cargo bench --features $FEATURES --bench operation_waits\`:"$'\n\n```text\n'"$WAITS"$'\n```\n'
else
    row "(d) 10,000 concurrent operation waits" "—" "skipped: benches/operation_waits.rs does not exist on this branch yet" "—"
fi

# (e) token refresh under 10,000 concurrent calls across an expiry.
REFRESH=$(bench token_refresh BENCH_RUNS="$RUNS")
s=$(grep '^token_refresh summary' <<<"$REFRESH")
row "(e) token refresh: 10,000 concurrent calls after expiry (OAuth, shared ManualClock)" \
    "$(kv "$s" runs) runs" \
    "IAM exchanges per burst: $(grep '^token_refresh run=' <<<"$REFRESH" | sed 's/.* exchanges=\([0-9]*\).*/\1/' | paste -sd, -); failed calls: $(grep '^token_refresh run=' <<<"$REFRESH" | sed 's/.* failed=\([0-9]*\).*/\1/' | paste -sd, -); burst completes at a median $(num "$(kv "$s" median_calls_per_s)") calls/s" \
    "max exchanges **$(kv "$s" max_exchanges)**, failed **$(kv "$s" failed_total)**"

# (f) List and Get at 1,000 to 50,000 customers, 64 callers.
SCALE=$(bench emulator_scale)
while IFS= read -r line; do
    [ -n "$line" ] || continue
    n=$(kv "$line" customers)
    op=$(kv "$line" op)
    growth=$(grep "^emulator_scale summary op=$op " <<<"$SCALE")
    row "(f) emulator at scale: $op (64 callers mixing the three calls)" "$(num "$n") customers" \
        "p50 $(kv "$line" p50_ms) ms, p99 **$(kv "$line" p99_ms) ms** over $(num "$(kv "$line" calls)") calls; DEADLINE_EXCEEDED (10 s) **$(kv "$line" deadline_exceeded)**; records examined per call $(kv "$line" examined_per_call)" \
        "p99 $(kv "$growth" from) → $(kv "$growth" to) customers ×$(kv "$growth" p99_growth); records examined ×$(kv "$growth" examined_growth)"
done < <(grep '^emulator_scale customers=25000 ' <<<"$SCALE")
SCALE_NOTE=$'\n'"Output of \`cargo bench --features $FEATURES --bench emulator_scale\`:"$'\n\n```text\n'"$SCALE"$'\n```\n'

# (h) REST against gRPC for the same call, in-process emulator.
REST=$(bench emulator_rest)
while IFS= read -r line; do
    [ -n "$line" ] || continue
    row "(h) REST / gRPC (BillingAccountService.Get, emulator in process)" "$(kv "$line" inflight) in flight" \
        "gRPC $(num "$(kv "$line" grpc)") calls/s; REST HTTP/1.1 $(num "$(kv "$line" rest_http1)"); REST h2c $(num "$(kv "$line" rest_http2)")" \
        "HTTP/1.1 **$(kv "$line" rest_http1_ratio)** [$(kv "$line" rest_http1_ratio_q1)–$(kv "$line" rest_http1_ratio_q3)]; h2c **$(kv "$line" rest_http2_ratio)** [$(kv "$line" rest_http2_ratio_q1)–$(kv "$line" rest_http2_ratio_q3)]"
done < <(grep '^emulator_rest BillingAccountService.Get ' <<<"$REST")
a=$(grep '^emulator_rest latency' <<<"$REST")
row "(h) REST / gRPC latency, sequential" "$(kv "$a" calls) calls per arm" \
    "gRPC p50 $(kv "$a" grpc_p50_us) µs, p99 $(kv "$a" grpc_p99_us) µs; REST HTTP/1.1 p50 $(kv "$a" rest_http1_p50_us) µs, p99 $(kv "$a" rest_http1_p99_us) µs; h2c p50 $(kv "$a" rest_http2_p50_us) µs, p99 $(kv "$a" rest_http2_p99_us) µs" "—"

# (g) admin API: reset of the default seed, journal on vs off, start to ready.
ADMIN=$(bench emulator_admin)
a=$(grep '^emulator_admin reset_ms' <<<"$ADMIN")
row "(g) admin API: \`POST /reset\` of the default seed (HTTP, loopback)" "$(kv "$a" resets) resets" \
    "p50 **$(kv "$a" reset_ms_p50) ms**, p95 $(kv "$a" reset_ms_p95) ms" "target ≤ 1 ms"
while IFS= read -r line; do
    [ -n "$line" ] || continue
    row "(g) journal on / off (BillingAccountService.Get)" "$(kv "$line" inflight) in flight" \
        "off $(num "$(kv "$line" off)") calls/s; on $(num "$(kv "$line" on)") calls/s" \
        "**$(kv "$line" ratio)** [$(kv "$line" ratio_q1)–$(kv "$line" ratio_q3)]; cost $(kv "$line" cost_pct) % (target ≤ 5 %)"
done < <(grep '^emulator_admin journal ' <<<"$ADMIN")
a=$(grep '^emulator_admin start_to_ready' <<<"$ADMIN")
row "(g) start to ready, in process (gRPC + admin servers bound)" "$(kv "$a" starts) starts" \
    "p50 **$(kv "$a" start_to_ready_ms_p50) ms**, p95 $(kv "$a" start_to_ready_ms_p95) ms" "target ≤ 20 ms"

say "writing $OUT"
TABLE=$(
    cat <<EOF
Run on $DATE with \`bench/run.sh\` (commit $COMMIT$DIRTY) on one machine:
$NPROC cores, $CPU; $RUSTC; $PY_VERSIONS. Other work shared the machine:
read ratios, not absolute figures.

| Benchmark | Setting | Calls/s | Ratio |
| --- | --- | --- | --- |
$(printf '%s\n' "${ROWS[@]}")
$WAITS_NOTE
$SCALE_NOTE
EOF
)
python3 - "$OUT" "$TABLE" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
begin, end = "<!-- results:begin -->", "<!-- results:end -->"
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmarks\n\n" + begin + "\n" + end + "\n"
if begin not in text or end not in text:
    text = text.rstrip() + "\n\n## Results\n\n" + begin + "\n" + end + "\n"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w").write(head + begin + "\n" + table.strip() + "\n" + end + tail)
PY
say "done: $OUT"
