"""A Python gRPC server on the official SDK's generated servicers
(yandexcloud's `BillingAccountServiceServicer`, grpcio), doing the lookup
the emulator does for BillingAccountService.Get: bearer token -> subject,
the subject's role on the account, the account by id. The peer of the
emulator in the server CPU comparison of bench/run.sh.

Its one account is copied at start from a running server (the emulator) so
both answer the same message.

Usage: python_server.py COPY_FROM_ADDRESS TOKEN ACCOUNT_ID [--workers N]
Prints {"address":"127.0.0.1:P"} once serving on an ephemeral loopback
port; serves until killed.
"""

import argparse
from concurrent import futures

import grpc
from yandex.cloud.billing.v1 import billing_account_service_pb2 as svc
from yandex.cloud.billing.v1 import billing_account_service_pb2_grpc as svc_grpc


class BillingAccounts(svc_grpc.BillingAccountServiceServicer):
    def __init__(self, subjects, roles, accounts):
        self.subjects = subjects  # "Bearer <token>" -> subject id
        self.roles = roles  # (subject id, account id) -> role
        self.accounts = accounts  # account id -> BillingAccount

    def Get(self, request, context):
        authorization = dict(context.invocation_metadata()).get("authorization")
        subject = self.subjects.get(authorization)
        if subject is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown token")
        account = self.accounts.get(request.id)
        if account is None or (subject, request.id) not in self.roles:
            context.abort(grpc.StatusCode.NOT_FOUND, "billing account %s not found" % request.id)
        return account


def main():
    p = argparse.ArgumentParser()
    p.add_argument("copy_from")
    p.add_argument("token")
    p.add_argument("account_id")
    p.add_argument("--workers", type=int, default=64)
    a = p.parse_args()

    with grpc.insecure_channel(a.copy_from) as channel:
        account = svc_grpc.BillingAccountServiceStub(channel).Get(
            svc.GetBillingAccountRequest(id=a.account_id),
            metadata=(("authorization", "Bearer " + a.token),),
            timeout=10,
        )
    servicer = BillingAccounts(
        {"Bearer " + a.token: "subject"},
        {("subject", a.account_id): "billing.accounts.owner"},
        {a.account_id: account},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=a.workers))
    svc_grpc.add_BillingAccountServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print('{"address":"127.0.0.1:%d"}' % port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
