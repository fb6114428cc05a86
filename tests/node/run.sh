#!/usr/bin/env bash
# Drives `yc-billing emulator` with the official Yandex Cloud Node.js SDK
# (tests/node/test_sdk.js, `node --test`): the pinned SDK from
# package-lock.json (`npm ci`), a throwaway CA (openssl), a TLS emulator
# with its admin API (reset, faults, journal) on loopback.
# Exits non-zero when any test fails. Extra arguments go to `node --test`
# (e.g. --test-name-pattern=OAuth).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
NODE_DIR=$ROOT/tests/node

for tool in node npm openssl; do
    command -v "$tool" >/dev/null || { echo "tests/node/run.sh needs $tool" >&2; exit 1; }
done

# node_modules is reused while package-lock.json is unchanged.
LOCK=$NODE_DIR/package-lock.json
if ! cmp -s "$LOCK" "$NODE_DIR/node_modules/.package-lock.json.installed"; then
    echo "== npm ci (tests/node)"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$LOCK" "$NODE_DIR/node_modules/.package-lock.json.installed"
fi

# --all-features: the same artifact `cargo test --all-features` and
# tests/python/run.sh built, so CI builds it once.
echo "== cargo build --all-features --bin yc-billing"
cargo build --quiet --all-features --bin yc-billing
BIN=$TARGET/debug/yc-billing

WORK=$(mktemp -d "${TMPDIR:-/tmp}/yc-billing-nodesdk.XXXXXX")
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

# A throwaway CA and a certificate for localhost and 127.0.0.1 signed by it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=yc-billing node test CA" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE,pathlen:0 \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$WORK/server.key" -out "$WORK/server.csr" 2>/dev/null
printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' 'basicConstraints=critical,CA:FALSE' \
    'extendedKeyUsage=serverAuth' >"$WORK/server.ext"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -days 1 -extfile "$WORK/server.ext" -out "$WORK/server.pem" 2>/dev/null
chmod 600 "$WORK/ca.key" "$WORK/server.key"

# start NAME ARGS...: runs a TLS emulator in the background and waits for
# its ready line (stdout) in $WORK/NAME.ready.
start() {
    local name=$1
    shift
    NO_COLOR=1 "$BIN" emulator --no-metadata --write-sa-key "$WORK/$name-sa.json" \
        --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" "$@" \
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
# ready NAME FIELD: a field of the emulator's ready line.
ready() {
    node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").split("\n")[0]);
        if (r[process.argv[2]] === undefined) throw new Error(`no ${process.argv[2]} in the ready line`);
        console.log(r[process.argv[2]]);' "$WORK/$1.ready" "$2"
}

# Faults are injected at run time through the admin API, by the tests.
start main --operation-delay-ms 200 --admin-listen 127.0.0.1:0
[[ $(ready main tls) == true ]] || { echo "the emulator reports tls=false" >&2; exit 1; }
EMULATOR=$(ready main endpoint)
EMULATOR=${EMULATOR#https://}
ADMIN=$(ready main admin_url)
echo "== emulator $EMULATOR, admin API $ADMIN; node $(node --version), SDK $(node -p 'require("'"$NODE_DIR"'/node_modules/@yandex-cloud/nodejs-sdk/package.json").version')"

set +e
# GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: the SDK's OAuth and service-account
# exchanges dial IAM with `credentials.createSsl()` and no roots, so grpc-js
# takes its default roots from this file (it ignores NODE_EXTRA_CA_CERTS).
EMULATOR=$EMULATOR \
    ADMIN=$ADMIN \
    CA_PEM=$WORK/ca.pem \
    SA_KEY=$WORK/main-sa.json \
    GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=$WORK/ca.pem \
    node --test --test-reporter=spec "$@" "$NODE_DIR/test_sdk.js"
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
    echo "== emulator log, last lines" >&2
    tail -n 20 "$WORK/main.log" >&2 || true
fi
exit $rc
