#!/usr/bin/env bash
# Runs every cargo-fuzz target for ${FUZZ_SECONDS:-60} seconds (libFuzzer),
# seeding each corpus from fuzz/seeds/<target>/. Not part of .ci/run.
# Usage: fuzz/run.sh [target...]     (from anywhere; needs the nightly toolchain)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build
status=0
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    [ -d "fuzz/seeds/$t" ] && cp -n "fuzz/seeds/$t"/* "fuzz/corpus/$t/" 2>/dev/null || true
    echo "=== $t (${SECONDS_PER_TARGET}s)"
    if ! cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 2>&1 | tee "fuzz/$t.log" | grep -E '^#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs|SUMMARY|panicked'; then
        :
    fi
    if grep -qE 'ERROR: libFuzzer|SUMMARY:|panicked' "fuzz/$t.log"; then
        echo "!!! $t found a crash; see fuzz/artifacts/$t/ and fuzz/$t.log"
        status=1
    fi
done
exit $status
