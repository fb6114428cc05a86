#!/usr/bin/env bash
# Runs every benchmark of yc-billing in one go on this machine and writes the
# results (one table per goal of BENCHMARKS.md) between the results markers
# of BENCHMARKS.md.
#
#   bench/run.sh                              # everything (about 10 minutes after the builds)
#   BENCH_RUNS=9 BENCH_SECS=3 bench/run.sh    # more / longer runs per figure
#
# Needs cargo, python3 (with venv) and node/npm (Node.js 20+). It installs what
# it needs itself: the official Python SDK into a virtualenv under the cargo
# target directory, the official Node.js SDK (pinned in bench/node/package.json)
# into bench/node/node_modules (not in git). Every server listens on
# 127.0.0.1 only; every loop is bounded in time.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TARGET_DIR=$TARGET
RUNS=${BENCH_RUNS:-5}
SECS=${BENCH_SECS:-2}
WAITS=${BENCH_WAITS:-10000}
PY_SDK_VERSION=0.413.0
LOG=$TARGET/bench-logs
VENV=$TARGET/bench-venv
OUT=$ROOT/BENCHMARKS.md
FEATURES=cli # one feature set for the benches and the emulator binary: one build of the library
TOKEN=t1.emulator-iam-token-default
ACCOUNT=dn2emu0reseller00001
mkdir -p "$LOG"
LINES=$LOG/results.lines # every result line, tagged; bench/report.py turns them into tables
: >"$LINES"

say() { printf '\n== %s\n' "$*" >&2; }
# kv LINE KEY: the value of KEY=VALUE in LINE.
kv() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<"$1"; }
# record TAG LINE: keeps LINE under TAG for the report, and shows it.
record() { printf '%s %s\n' "$1" "$2" | tee -a "$LINES" >&2; }

say "building (release)"
# Only the benches run below (with them cargo builds the yc-billing binary: same features, one build).
BENCHES=(--bench out_of_process --bench token_refresh --bench emulator_scale --bench emulator_admin --bench emulator_rest)
cargo bench --features "$FEATURES" "${BENCHES[@]}" --no-run 2>"$LOG/build.err" || { tail -30 "$LOG/build.err" >&2; exit 1; }
OOP=$(cargo bench --features "$FEATURES" --bench out_of_process --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "out_of_process" and m.get("executable"):
        print(m["executable"])')
YCB=$TARGET/release/yc-billing
[ -x "$OOP" ] && [ -x "$YCB" ] || { echo "bench binaries not found" >&2; exit 1; }

say "python SDK yandexcloud==$PY_SDK_VERSION in $VENV"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("yandexcloud"))' 2>/dev/null)" != "$PY_SDK_VERSION" ]; then
    "$VENV/bin/pip" install -q --disable-pip-version-check "yandexcloud==$PY_SDK_VERSION"
fi
PY=$VENV/bin/python
say "node SDK (bench/node/package.json) in bench/node/node_modules"
(cd bench/node && npm ci --no-audit --no-fund --loglevel=error >"$LOG/npm.log" 2>&1) || { cat "$LOG/npm.log" >&2; exit 1; }
VERSIONS=$("$PY" -c 'import importlib.metadata as m, sys; print("Python %d.%d.%d, yandexcloud %s, grpcio %s" % (sys.version_info[:3] + (m.version("yandexcloud"), m.version("grpcio"))))')
VERSIONS="$VERSIONS; Node.js $(node --version), @yandex-cloud/nodejs-sdk $(node -p 'require("./bench/node/node_modules/@yandex-cloud/nodejs-sdk/package.json").version'), @grpc/grpc-js $(node -p 'require("./bench/node/node_modules/@grpc/grpc-js/package.json").version')"

# Servers: each under `timeout` (so none outlives a run that was killed),
# stopped on exit; SERVER_PID is the server itself (the child of `timeout`),
# whose CPU goal 2 measures.
TIMEOUTS=()
cleanup() { for p in "${TIMEOUTS[@]}"; do kill "$p" 2>/dev/null || true; done; TIMEOUTS=(); }
trap cleanup EXIT
# wait_address FILE: the "address" of the ready line in FILE (10 s at most).
wait_address() {
    local a=
    for _ in $(seq 1 100); do
        a=$(sed -n 's/.*"address":"\([^"]*\)".*/\1/p' "$1" | head -1)
        [ -n "$a" ] && { echo "$a"; return; }
        sleep 0.1
    done
    echo "no ready line in $1" >&2
    exit 1
}
# serve NAME CMD...: starts a server, sets SERVER_PID and SERVER_ADDR.
serve() {
    local name=$1
    shift
    timeout 1800 "$@" >"$LOG/$name.out" 2>"$LOG/$name.err" &
    local t=$!
    TIMEOUTS+=("$t")
    SERVER_ADDR=$(wait_address "$LOG/$name.out")
    SERVER_PID=$(pgrep -P "$t" | head -1)
}
EMU_ARGS=(emulator --no-metadata --listen 127.0.0.1:0)

say "servers"
serve emulator "$YCB" "${EMU_ARGS[@]}"
EMU_PID=$SERVER_PID EMU=$SERVER_ADDR
serve minimal "$OOP" serve-minimal
MIN_PID=$SERVER_PID MIN=$SERVER_ADDR
serve python-server "$PY" bench/python_server.py "$EMU" "$TOKEN" "$ACCOUNT"
PYS_PID=$SERVER_PID PYS=$SERVER_ADDR
serve emulator-1ms "$YCB" "${EMU_ARGS[@]}" --latency-ms 1
LAT=$SERVER_ADDR
serve emulator-w1 "$YCB" "${EMU_ARGS[@]}" --worker-threads 1
EMU1_PID=$SERVER_PID EMU1=$SERVER_ADDR
serve minimal-w1 env BENCH_WORKERS=1 "$OOP" serve-minimal
MIN1_PID=$SERVER_PID MIN1=$SERVER_ADDR

# rust_get TAG ADDR IMPL INFLIGHT [ENV=VALUE...]: one out-of-process client run.
rust_get() {
    local tag=$1 addr=$2 imp=$3 n=$4
    shift 4
    record "$tag" "$(env YC_BENCH_ENDPOINT="http://$addr" YC_BENCH_TOKEN=$TOKEN YC_BENCH_ID=$ACCOUNT "$@" \
        "$OOP" get "$imp" "$n" "$SECS" 2>>"$LOG/oop.err")"
}

# Goal 1: client CPU per call, four clients interleaved, against the emulator process.
for n in 1 64; do
    for run in $(seq 1 "$RUNS"); do
        say "goal 1: $n in flight, run $run/$RUNS"
        rust_get "g1 run=$run" "$EMU" raw "$n"
        rust_get "g1 run=$run" "$EMU" client "$n"
        rust_get "g1 run=$run" "$EMU" wire "$n"
        record "g1 run=$run impl=python" "$("$PY" bench/python_get.py "$EMU" "$TOKEN" "$ACCOUNT" --inflight "$n" --seconds "$SECS")"
        record "g1 run=$run impl=node" "$(node bench/node/get.js "$EMU" "$TOKEN" "$ACCOUNT" "$n" "$SECS")"
    done
done
# Goal 1, the floor at 1 in flight: does a runtime setting lower it for both?
for n in 1 64; do
    for rt in current workers1; do
        for run in $(seq 1 "$RUNS"); do
            say "goal 1 runtime $rt, $n in flight, run $run/$RUNS"
            case $rt in
            current) set -- BENCH_RT=current ;;
            workers1) set -- BENCH_WORKERS=1 ;;
            esac
            rust_get "g1rt rt=$rt run=$run" "$EMU" raw "$n" "$@"
            rust_get "g1rt rt=$rt run=$run" "$EMU" client "$n" "$@"
        done
    done
done

# Goal 2: server CPU per call; the same client (raw stub) against three servers, interleaved.
for n in 1 64; do
    for run in $(seq 1 "$RUNS"); do
        say "goal 2: $n in flight, run $run/$RUNS"
        rust_get "g2 run=$run server=emulator" "$EMU" raw "$n" YC_BENCH_SERVER_PID="$EMU_PID"
        rust_get "g2 run=$run server=minimal" "$MIN" raw "$n" YC_BENCH_SERVER_PID="$MIN_PID"
        rust_get "g2 run=$run server=python" "$PYS" raw "$n" YC_BENCH_SERVER_PID="$PYS_PID"
        rust_get "g2w1 run=$run server=emulator" "$EMU1" raw "$n" YC_BENCH_SERVER_PID="$EMU1_PID"
        rust_get "g2w1 run=$run server=minimal" "$MIN1" raw "$n" YC_BENCH_SERVER_PID="$MIN1_PID"
    done
done

# Goal 3: 1 ms added per call by the emulator, 1 in flight: throughput client / raw.
for run in $(seq 1 "$RUNS"); do
    say "goal 3: run $run/$RUNS"
    rust_get "g3 run=$run" "$LAT" raw 1
    rust_get "g3 run=$run" "$LAT" client 1
done
cleanup

# Goal 4: 10,000 concurrent waits on a fresh emulator process (operations done 5 s after creation).
say "goal 4: $WAITS concurrent operation waits"
serve emulator-waits "$YCB" "${EMU_ARGS[@]}" --operation-delay-ms 5000
record g4 "$(YC_BENCH_ENDPOINT="http://$SERVER_ADDR" YC_BENCH_TOKEN=$TOKEN "$OOP" waits "$WAITS" 5000 2>>"$LOG/oop.err")"
cleanup

# Goal 5: start-up.
say "goal 5: start-up"
record g5 "$("$OOP" startup 20 2>>"$LOG/oop.err")"
serve emulator "$YCB" "${EMU_ARGS[@]}"
while IFS= read -r line; do record g5 "$line"; done < <("$PY" bench/startup.py "$YCB" "$PY" "$SERVER_ADDR" "$TOKEN" "$ACCOUNT" --runs 20)
cleanup

# (e) token refresh under 10,000 concurrent calls across an expiry; (f) the emulator at scale (in process).
bench() { # bench NAME [ENV=VALUE...]: runs one bench, output to the log, result lines to stdout
    local name=$1
    shift
    say "cargo bench --bench $name $*"
    env "$@" cargo bench --features "$FEATURES" --bench "$name" 2>"$LOG/$name.err" | tee "$LOG/$name.out"
}
while IFS= read -r line; do record e "$line"; done < <(bench token_refresh BENCH_RUNS=3 | grep '^token_refresh')
while IFS= read -r line; do record f "$line"; done < <(bench emulator_scale | grep '^emulator_scale')

# (g) admin API: reset of the default seed, journal on vs off, start to ready (targets: reset ≤ 1 ms,
# journal cost ≤ 5 %, start to ready ≤ 20 ms).
while IFS= read -r line; do record g "$line"; done < <(bench emulator_admin | grep '^emulator_admin')

# (h) REST against gRPC for the same call, in-process emulator.
while IFS= read -r line; do record h "$line"; done < <(bench emulator_rest | grep '^emulator_rest')

say "writing $OUT"
DIRTY=$(git diff --quiet HEAD -- src benches bench Cargo.toml 2>/dev/null && echo "" || echo " (with uncommitted changes)")
python3 bench/report.py "$LINES" "$OUT" \
    --date "$(date -u +%Y-%m-%d)" \
    --commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$DIRTY" \
    --machine "$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)" \
    --versions "$(rustc -V); $VERSIONS" \
    --runs "$RUNS" --secs "$SECS"
say "done: $OUT"
