"""One BillingAccountService.Get through the official Python SDK, as a
one-shot script would make it: interpreter start, imports, channel, call,
print. bench/startup.py times it end to end next to `yc-billing accounts get`.

Usage: python_oneshot.py ADDRESS TOKEN ACCOUNT_ID
"""

import sys

import grpc
from google.protobuf import json_format
from yandex.cloud.billing.v1 import billing_account_service_pb2 as svc
from yandex.cloud.billing.v1 import billing_account_service_pb2_grpc as svc_grpc

address, token, account_id = sys.argv[1:4]
with grpc.insecure_channel(address) as channel:
    stub = svc_grpc.BillingAccountServiceStub(channel)
    account = stub.Get(
        svc.GetBillingAccountRequest(id=account_id),
        metadata=(("authorization", "Bearer " + token),),
        timeout=30,
    )
print(json_format.MessageToJson(account))
