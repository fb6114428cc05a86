"""BillingAccountService.Get through the official Python SDK (yandexcloud)
with N calls in flight (N threads), against a running server (a
`yc-billing emulator` or bench/python_server.py); measures this process's
CPU per call.

The SDK's generated stub over an insecure gRPC channel, with the
`authorization: Bearer <IAM token>` metadata and a 30 s deadline on every
call: the call the Rust side (benches/out_of_process.rs) makes.

Usage: python_get.py ADDRESS TOKEN ACCOUNT_ID [--inflight N] [--seconds S]
Prints one line, after a 0.3 s warm-up:
    python_get inflight=64 calls=9000 secs=3.001 calls_per_s=2999 cpu_us=333.10
where cpu_us is user + system time of this process (getrusage) per call
over the measured round.
"""

import argparse
import resource
import threading
import time

import grpc
from yandex.cloud.billing.v1 import billing_account_service_pb2 as svc
from yandex.cloud.billing.v1 import billing_account_service_pb2_grpc as svc_grpc


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def round_calls(stub, metadata, account_id, threads, seconds):
    """Runs `threads` callers for `seconds`; returns (calls, wall s, CPU s)."""
    counts = [0] * threads
    gate = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(i):
        request = svc.GetBillingAccountRequest(id=account_id)
        gate.wait()
        n = 0
        while time.monotonic() < deadline[0]:
            stub.Get(request, metadata=metadata, timeout=30)
            n += 1
        counts[i] = n

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    cpu0 = cpu_seconds()
    start = time.monotonic()
    deadline[0] = start + seconds
    gate.wait()
    for t in pool:
        t.join()
    return sum(counts), time.monotonic() - start, cpu_seconds() - cpu0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("address")
    p.add_argument("token")
    p.add_argument("account_id")
    p.add_argument("--inflight", type=int, default=1)
    p.add_argument("--seconds", type=float, default=3.0)
    a = p.parse_args()

    channel = grpc.insecure_channel(a.address)
    grpc.channel_ready_future(channel).result(timeout=10)
    stub = svc_grpc.BillingAccountServiceStub(channel)
    metadata = (("authorization", "Bearer " + a.token),)
    stub.Get(svc.GetBillingAccountRequest(id=a.account_id), metadata=metadata, timeout=10)
    round_calls(stub, metadata, a.account_id, a.inflight, 0.3)
    calls, wall, cpu = round_calls(stub, metadata, a.account_id, a.inflight, a.seconds)
    print(
        "python_get inflight=%d calls=%d secs=%.3f calls_per_s=%.0f cpu_us=%.2f"
        % (a.inflight, calls, wall, calls / wall, cpu * 1e6 / max(calls, 1)),
        flush=True,
    )


if __name__ == "__main__":
    main()
