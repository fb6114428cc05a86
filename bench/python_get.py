"""BillingAccountService.Get through the official Python SDK (yandexcloud),
sequentially and with N threads, against a running `yc-billing emulator`.

The SDK's generated stub over an insecure gRPC channel, with the
`authorization: Bearer <IAM token>` metadata on every call: the same call
the Rust side (benches/external_get.rs) makes.

Usage: python_get.py ADDRESS TOKEN ACCOUNT_ID [--threads N] [--runs R] [--seconds S]
Prints one line per mode:
    python_get mode=sequential concurrency=1 median=1234 runs=1200,1234,1250
"""

import argparse
import statistics
import threading
import time

import grpc
from yandex.cloud.billing.v1 import billing_account_service_pb2 as svc
from yandex.cloud.billing.v1 import billing_account_service_pb2_grpc as svc_grpc


def round_rate(stub, metadata, account_id, threads, seconds):
    counts = [0] * threads
    deadline = time.monotonic() + seconds
    start_gate = threading.Barrier(threads + 1)

    def worker(i):
        request = svc.GetBillingAccountRequest(id=account_id)
        start_gate.wait()
        n = 0
        while time.monotonic() < deadline:
            stub.Get(request, metadata=metadata, timeout=30)
            n += 1
        counts[i] = n

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    start = time.monotonic()
    deadline = start + seconds
    start_gate.wait()
    for t in pool:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("address")
    p.add_argument("token")
    p.add_argument("account_id")
    p.add_argument("--threads", type=int, default=64)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=3.0)
    a = p.parse_args()

    channel = grpc.insecure_channel(a.address)
    grpc.channel_ready_future(channel).result(timeout=10)
    stub = svc_grpc.BillingAccountServiceStub(channel)
    metadata = (("authorization", "Bearer " + a.token),)
    # Check the call works and warm up.
    stub.Get(svc.GetBillingAccountRequest(id=a.account_id), metadata=metadata, timeout=10)
    round_rate(stub, metadata, a.account_id, 4, 0.3)
    for mode, threads in (("sequential", 1), ("concurrent", a.threads)):
        rates = [round_rate(stub, metadata, a.account_id, threads, a.seconds) for _ in range(a.runs)]
        print(
            "python_get mode=%s concurrency=%d median=%.0f runs=%s"
            % (mode, threads, statistics.median(rates), ",".join("%.0f" % r for r in rates)),
            flush=True,
        )


if __name__ == "__main__":
    main()
