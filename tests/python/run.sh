#!/usr/bin/env bash
# Drives `yc-billing emulator` with the official Yandex Cloud Python SDK
# (tests/python/test_sdk.py) and its REST port with the standard library
# (tests/python/test_rest.py): one plaintext and one TLS emulator, a venv with
# the pinned SDK, a throwaway CA. Each closes with `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${PYSDK_VENV:-$TARGET/pysdk-venv}
PYTHON=${PYTHON:-python3}

# The venv is reused while requirements.txt is unchanged.
REQ=tests/python/requirements.txt
if [[ ! -x $VENV/bin/python ]] || ! cmp -s "$REQ" "$VENV/requirements.txt"; then
    echo "== python venv $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
    cp "$REQ" "$VENV/requirements.txt"
fi

# --all-features: the same artifact `cargo test --all-features` built.
echo "== cargo build --all-features --bin yc-billing"
cargo build --quiet --all-features --bin yc-billing
BIN=$TARGET/debug/yc-billing

WORK=$(mktemp -d "${TMPDIR:-/tmp}/yc-billing-pysdk.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

"$VENV/bin/python" tests/python/gen_certs.py "$WORK"

# start NAME ARGS...: runs the emulator in the background and waits for its
# ready line (stdout) in $WORK/NAME.ready.
start() {
    local name=$1
    shift
    NO_COLOR=1 "$BIN" emulator --no-metadata --write-sa-key "$WORK/$name-sa.json" "$@" \
        >"$WORK/$name.ready" 2>"$WORK/$name.log" &
    PIDS+=($!)
    local pid=$!
    for _ in $(seq 1 300); do
        if [[ -s $WORK/$name.ready ]]; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "emulator $name exited before it was ready:" >&2
            cat "$WORK/$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "emulator $name: no ready line after 30 s" >&2
    return 1
}
ready_field() {
    "$VENV/bin/python" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$1" "$2"
}

start plain --complete-after-gets 1
start tls --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" \
    --operation-delay-ms 500 \
    --fail-next-operation "yandex.cloud.billing.v1.CustomerService/Suspend:FAILED_PRECONDITION:customer has unpaid invoices" \
    --fail-first "yandex.cloud.billing.v1.BillingAccountService/List:2:UNAVAILABLE"

[[ $(ready_field "$WORK/tls.ready" tls) == True ]] || { echo "TLS emulator reports tls=false" >&2; exit 1; }
PLAIN_ADDR=$(ready_field "$WORK/plain.ready" address)
PLAIN_ADMIN=$(ready_field "$WORK/plain.ready" admin_url)
TLS_ENDPOINT=$(ready_field "$WORK/tls.ready" endpoint)
REST_URL=$(ready_field "$WORK/plain.ready" rest_endpoint)
REST_TLS_URL=$(ready_field "$WORK/tls.ready" rest_endpoint)
echo "== emulators: plaintext $PLAIN_ADDR, TLS $TLS_ENDPOINT"

set +e
PLAIN_ADDR=$PLAIN_ADDR \
    PLAIN_ADMIN=$PLAIN_ADMIN \
    TLS_ADDR=${TLS_ENDPOINT#https://} \
    CA_PEM=$WORK/ca.pem \
    PLAIN_SA_KEY=$WORK/plain-sa.json \
    TLS_SA_KEY=$WORK/tls-sa.json \
    PROTO_DIR=$ROOT/proto \
    "$VENV/bin/python" tests/python/test_sdk.py "$@"
rc=$?
echo "== REST reference flows: plaintext $REST_URL, TLS $REST_TLS_URL"
REST_URL=$REST_URL REST_TLS_URL=$REST_TLS_URL CA_PEM=$WORK/ca.pem \
    "$VENV/bin/python" tests/python/test_rest.py || rc=1
set -e
if [[ $rc -ne 0 ]]; then
    for name in plain tls; do
        echo "== emulator log ($name), last lines" >&2
        tail -n 20 "$WORK/$name.log" >&2 || true
    done
fi
exit $rc
