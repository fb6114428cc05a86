"""The yc-billing emulator driven by the official Yandex Cloud Python SDK.

Every RPC the emulator serves is called through the SDK's own generated
stubs (`yandex.cloud...`), over a plaintext channel with explicit
`authorization` metadata and through `yandexcloud.SDK` on TLS, where the
SDK's endpoint discovery, auth plugin (IAM token, OAuth, service-account
key) and operation waiter run exactly as they do against the real cloud.

Run by run.sh, which starts the emulators and sets:
  PLAIN_ADDR   host:port of a plaintext emulator started with
               --complete-after-gets 1 (operations finish on their first Get)
  TLS_ADDR     localhost:port of a TLS emulator (--operation-delay-ms 500,
               --fail-next-operation for CustomerService/Suspend,
               --fail-first BillingAccountService/List:2:UNAVAILABLE)
  CA_PEM       the CA that signed the TLS emulator's certificate
  PLAIN_SA_KEY, TLS_SA_KEY   key files the emulators wrote (--write-sa-key)
  PROTO_DIR    the project's proto/ directory (schema parity check)
  PLAIN_ADMIN  the admin API URL of the plaintext emulator (its ready line's
               admin_url): reset, faults and the request journal

Prints one line per test and closes with `N passed, N failed`.
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request
import sys
import tempfile
import time
import traceback
import warnings
from datetime import datetime, timezone
from typing import Callable, List, Optional, Tuple

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, unknown_fields
from google.protobuf.empty_pb2 import Empty
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

import yandexcloud
from yandexcloud._auth_fabric import ServiceAccountAuth
from yandexcloud.operations import OperationError

from yandex.cloud.access import access_pb2
from yandex.cloud.billing.v1 import (
    billable_object_pb2,
    billing_account_pb2,
    billing_account_service_pb2 as ba_pb,
    billing_account_service_pb2_grpc as ba_grpc,
    budget_pb2,
    budget_service_pb2 as budget_pb,
    budget_service_pb2_grpc as budget_grpc,
    customer_pb2,
    customer_service_pb2 as cust_pb,
    customer_service_pb2_grpc as cust_grpc,
    service_service_pb2 as svc_pb,
    service_service_pb2_grpc as svc_grpc,
    sku_pb2,
    sku_service_pb2 as sku_pb,
    sku_service_pb2_grpc as sku_grpc,
)
from yandex.cloud.billing.usage_records.v1 import (
    billing_types_pb2 as usage_types,
    common_types_pb2 as usage_common,
    consumption_core_service_pb2 as usage_pb,
    consumption_core_service_pb2_grpc as usage_grpc,
    metadata_service_pb2 as usage_meta_pb,
    metadata_service_pb2_grpc as usage_meta_grpc,
)
from yandex.cloud.endpoint import (
    api_endpoint_service_pb2 as ep_pb,
    api_endpoint_service_pb2_grpc as ep_grpc,
)
from yandex.cloud.iam.v1 import (
    iam_token_service_pb2 as iam_pb,
    iam_token_service_pb2_grpc as iam_grpc,
)
from yandex.cloud.operation import (
    operation_service_pb2 as op_pb,
    operation_service_pb2_grpc as op_grpc,
)

# Seed constants of the emulator (src/emulator/seed.rs).
RESELLER = "dn2emu0reseller00001"
IAM_TOKEN = "t1.emulator-iam-token-default"
OAUTH_TOKEN = "y0_emulator-oauth-token-default"
NO_RIGHTS_TOKEN = "t1.emulator-iam-token-no-rights"
SUBJECT = "ajeemu0subject000001"
NO_RIGHTS_SUBJECT = "ajeemu0nobody0000001"
SA_ID = "ajeemu0sa00000000001"
SEEDED_CUSTOMERS = {"emucustomer000000001", "emucustomer000000002", "emucustomer000000003"}

PLAIN_ADDR = os.environ["PLAIN_ADDR"]
TLS_ADDR = os.environ["TLS_ADDR"]
with open(os.environ["CA_PEM"], "rb") as f:
    CA_PEM = f.read()
with open(os.environ["PLAIN_SA_KEY"]) as f:
    PLAIN_SA_KEY = json.load(f)
with open(os.environ["TLS_SA_KEY"]) as f:
    TLS_SA_KEY = json.load(f)

# The SDK warns that OAuth is deprecated; that is expected here.
warnings.filterwarnings("ignore", category=DeprecationWarning)

TESTS: List[Tuple[str, Callable[[], None]]] = []


def test(fn: Callable[[], None]) -> Callable[[], None]:
    TESTS.append((fn.__name__, fn))
    return fn


# ---------------------------------------------------------------- helpers


def bearer(token: str) -> Tuple[Tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


AUTH = bearer(IAM_TOKEN)
NO_RIGHTS = bearer(NO_RIGHTS_TOKEN)

_plain_channel = grpc.insecure_channel(PLAIN_ADDR)


def plain(stub_ctor):
    return stub_ctor(_plain_channel)


def no_unknown_fields(msg: Message, path: str = "") -> None:
    """Fails when the emulator sent a field the SDK's schema does not know."""
    unknown = unknown_fields.UnknownFieldSet(msg)
    assert len(unknown) == 0, (
        f"{path or type(msg).__name__}: {len(unknown)} field(s) unknown to the SDK: "
        f"{[u.field_number for u in unknown]}"
    )
    for field, value in msg.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            continue
        values = value if field.label == field.LABEL_REPEATED else [value]
        for i, v in enumerate(values):
            no_unknown_fields(v, f"{path or type(msg).__name__}.{field.name}[{i}]")


def ok(resp: Message) -> Message:
    no_unknown_fields(resp)
    return resp


def expect_error(
    code: grpc.StatusCode, call: Callable[[], object], contains: Optional[str] = None
) -> grpc.RpcError:
    try:
        call()
    except grpc.RpcError as e:
        assert e.code() == code, f"expected {code}, got {e.code()}: {e.details()}"
        if contains is not None:
            assert contains in (e.details() or ""), f"{contains!r} not in {e.details()!r}"
        return e
    raise AssertionError(f"expected {code}, the call succeeded")


def rich_status(err: grpc.RpcError) -> Optional[status_pb2.Status]:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            st = status_pb2.Status()
            st.ParseFromString(value)
            return st
    return None


def bad_request_fields(err: grpc.RpcError) -> List[str]:
    """The BadRequest field violations of an INVALID_ARGUMENT error."""
    st = rich_status(err)
    assert st is not None, "INVALID_ARGUMENT carries no grpc-status-details-bin"
    assert st.code == grpc.StatusCode.INVALID_ARGUMENT.value[0], st
    assert st.message == err.details(), (st.message, err.details())
    fields = []
    for any_ in st.details:
        if any_.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            any_.Unpack(br)
            fields += [v.field for v in br.field_violations]
            assert all(v.description for v in br.field_violations), br
    assert fields, f"no BadRequest detail in {st}"
    return fields


def expect_invalid(call: Callable[[], object], field: str) -> None:
    err = expect_error(grpc.StatusCode.INVALID_ARGUMENT, call)
    fields = bad_request_fields(err)
    assert field in fields, f"{field} not among violations {fields}"


def person(name: str) -> customer_pb2.CustomerPerson:
    return customer_pb2.CustomerPerson(
        name=name,
        longname=f"{name} LLC",
        phone="+70000000000",
        email="billing@example.com",
        post_code="101000",
        post_address="Moscow",
        legal_address="Moscow",
        tin="7700000000",
    )


def unpack(any_, cls):
    msg = cls()
    assert any_.Unpack(msg), f"{any_.type_url} is not {cls.DESCRIPTOR.full_name}"
    no_unknown_fields(msg)
    return msg


def finish_plain(op, response_type=None, meta_type=None):
    """Checks a fresh operation, polls it to the end on the plaintext emulator."""
    no_unknown_fields(op)
    assert op.id and not op.done, op
    assert op.created_by == SUBJECT, op.created_by
    assert op.HasField("created_at") and op.description, op
    meta = unpack(op.metadata, meta_type) if meta_type else None
    ops = plain(op_grpc.OperationServiceStub)
    for _ in range(10):
        got = ok(ops.Get(op_pb.GetOperationRequest(operation_id=op.id), metadata=AUTH))
        if got.done:
            break
    assert got.done, got
    assert got.WhichOneof("result") == "response", got
    resp = unpack(got.response, response_type) if response_type else None
    return resp, meta


def list_all(call, request_cls, items_field, page_size, **kw):
    items, token, pages = [], "", 0
    while True:
        resp = ok(call(request_cls(page_size=page_size, page_token=token, **kw), metadata=AUTH))
        items += list(getattr(resp, items_field))
        pages += 1
        token = resp.next_page_token
        if not token:
            return items, pages
        assert pages < 100, "paging does not end"


# ------------------------------------------------------- schema parity


@test
def schema_of_the_sdk_matches_the_emulator_protos():
    """Every message the emulator's services use has the same fields (number,
    name, type, label) in the SDK's generated code as in proto/."""
    from grpc_tools import protoc
    import grpc_tools

    proto_dir = os.environ["PROTO_DIR"]
    files = [
        "yandex/cloud/billing/v1/customer_service.proto",
        "yandex/cloud/billing/v1/billing_account_service.proto",
        "yandex/cloud/billing/v1/sku_service.proto",
        "yandex/cloud/billing/v1/service_service.proto",
        "yandex/cloud/billing/v1/budget_service.proto",
        "yandex/cloud/operation/operation_service.proto",
        "yandex/cloud/iam/v1/iam_token_service.proto",
        "yandex/cloud/endpoint/api_endpoint_service.proto",
        "yandex/cloud/billing/usage_records/v1/consumption_core_service.proto",
        "yandex/cloud/billing/usage_records/v1/metadata_service.proto",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        rc = protoc.main(
            ["protoc", f"-I{proto_dir}", f"-I{wkt}", "--include_imports", f"--descriptor_set_out={out}"]
            + files
        )
        assert rc == 0, f"protoc failed on the project's protos ({rc})"
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())

    ours = {}
    services = {}

    def walk(prefix, msgs):
        for m in msgs:
            name = f"{prefix}.{m.name}"
            ours[name] = {f.number: (f.name, f.type, f.label, f.type_name) for f in m.field}
            walk(name, m.nested_type)

    for fd in fds.file:
        walk(f".{fd.package}", fd.message_type)
        for s in fd.service:
            if fd.name in files:
                services[f"{fd.package}.{s.name}"] = {
                    m.name: (m.input_type, m.output_type) for m in s.method
                }

    pool = descriptor_pool.Default()
    problems = []
    checked = 0
    for svc_name, methods in services.items():
        sdk_svc = pool.FindServiceByName(svc_name)
        sdk_methods = {m.name: m for m in sdk_svc.methods}
        for name, (inp, outp) in methods.items():
            m = sdk_methods.get(name)
            if m is None:
                problems.append(f"{svc_name}/{name}: not in the SDK")
                continue
            if (f".{m.input_type.full_name}", f".{m.output_type.full_name}") != (inp, outp):
                problems.append(f"{svc_name}/{name}: types differ")
    for full, fields in sorted(ours.items()):
        if full.startswith((".google.protobuf.", ".google.api.", ".google.rpc.")):
            continue
        if full.endswith("Entry") or ".yandex.cloud." not in full + ".":
            continue
        try:
            sdk_msg = pool.FindMessageTypeByName(full[1:])
        except KeyError:
            # Option-only messages (validation.proto) need not be in the SDK.
            if ".yandex.cloud.api." in full or full.count(".") == 3:
                continue
            problems.append(f"{full}: not in the SDK")
            continue
        checked += 1
        sdk_fields = {
            f.number: (
                f.name,
                f.type,
                f.label,
                f".{f.message_type.full_name}" if f.message_type else (
                    f".{f.enum_type.full_name}" if f.enum_type else ""
                ),
            )
            for f in sdk_msg.fields
        }
        for num, spec in fields.items():
            if num not in sdk_fields:
                problems.append(f"{full} #{num} {spec[0]}: only in proto/ (the SDK sees unknown fields)")
            elif sdk_fields[num] != spec:
                problems.append(f"{full} #{num}: proto/ {spec} vs SDK {sdk_fields[num]}")
        for num, spec in sdk_fields.items():
            if num not in fields:
                problems.append(f"{full} #{num} {spec[0]}: only in the SDK (the emulator drops it)")
    # Known difference, not a defect of proto/: SDK 0.413.0 has
    # `Resource.meta` (#4, ResourceMeta), which the shared upstream schema
    # (../shared/upstream-proto, proved equal to proto/) does not carry yet.
    known = {".yandex.cloud.billing.usage_records.v1.Resource #4 meta: only in the SDK (the emulator drops it)"}
    problems = [p for p in problems if p not in known]
    assert checked >= 30, f"only {checked} messages compared"
    assert not problems, "\n  " + "\n  ".join(problems)


# ------------------------------------------------- plaintext, raw stubs


@test
def plain_api_endpoint_list_and_get():
    eps = plain(ep_grpc.ApiEndpointServiceStub)
    resp = ok(eps.List(ep_pb.ListApiEndpointsRequest()))  # no credentials needed
    by_id = {e.id: e.address for e in resp.endpoints}
    for service in ("billing", "iam", "operation", "endpoint"):
        assert by_id.get(service) == PLAIN_ADDR, by_id
    got = ok(eps.Get(ep_pb.GetApiEndpointRequest(api_endpoint_id="billing")))
    assert (got.id, got.address) == ("billing", PLAIN_ADDR), got
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        lambda: eps.Get(ep_pb.GetApiEndpointRequest(api_endpoint_id="no-such-service")),
    )


@test
def plain_iam_create_from_oauth():
    iam = plain(iam_grpc.IamTokenServiceStub)
    resp = ok(iam.Create(iam_pb.CreateIamTokenRequest(yandex_passport_oauth_token=OAUTH_TOKEN)))
    assert resp.iam_token and resp.iam_token != IAM_TOKEN
    assert resp.expires_at.ToDatetime(tzinfo=timezone.utc) > datetime.now(timezone.utc)
    accounts = plain(ba_grpc.BillingAccountServiceStub)
    got = ok(accounts.Get(ba_pb.GetBillingAccountRequest(id=RESELLER), metadata=bearer(resp.iam_token)))
    assert got.id == RESELLER
    expect_error(
        grpc.StatusCode.UNAUTHENTICATED,
        lambda: iam.Create(iam_pb.CreateIamTokenRequest(yandex_passport_oauth_token="y0_unknown")),
    )
    expect_invalid(lambda: iam.Create(iam_pb.CreateIamTokenRequest()), "identity")


@test
def plain_iam_create_from_sa_key_jwt_signed_by_the_sdk():
    # The SDK's own JWT builder, for the endpoint this emulator answers on.
    request = ServiceAccountAuth(PLAIN_SA_KEY, PLAIN_ADDR).get_token_request()
    iam = plain(iam_grpc.IamTokenServiceStub)
    resp = ok(iam.Create(request))
    accounts = plain(ba_grpc.BillingAccountServiceStub)
    got = ok(accounts.Get(ba_pb.GetBillingAccountRequest(id=RESELLER), metadata=bearer(resp.iam_token)))
    assert got.id == RESELLER
    # A JWT signed for the real cloud's IAM is accepted too (same audience).
    real = ServiceAccountAuth(PLAIN_SA_KEY, "api.cloud.yandex.net").get_token_request()
    ok(iam.Create(real))
    forged = ServiceAccountAuth(dict(PLAIN_SA_KEY, id="ajekeyunknown0000000"), PLAIN_ADDR)
    expect_error(grpc.StatusCode.UNAUTHENTICATED, lambda: iam.Create(forged.get_token_request()))
    expect_error(
        grpc.StatusCode.UNAUTHENTICATED,
        lambda: iam.Create(iam_pb.CreateIamTokenRequest(jwt="not.a.jwt")),
    )


@test
def plain_iam_create_for_service_account():
    iam = plain(iam_grpc.IamTokenServiceStub)
    req = iam_pb.CreateIamTokenForServiceAccountRequest(service_account_id=SA_ID)
    resp = ok(iam.CreateForServiceAccount(req, metadata=AUTH))
    assert resp.iam_token and resp.HasField("expires_at")
    accounts = plain(ba_grpc.BillingAccountServiceStub)
    ok(accounts.Get(ba_pb.GetBillingAccountRequest(id=RESELLER), metadata=bearer(resp.iam_token)))
    expect_error(grpc.StatusCode.UNAUTHENTICATED, lambda: iam.CreateForServiceAccount(req))
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        lambda: iam.CreateForServiceAccount(
            iam_pb.CreateIamTokenForServiceAccountRequest(service_account_id="ajeunknownsa00000000"),
            metadata=AUTH,
        ),
    )
    expect_invalid(
        lambda: iam.CreateForServiceAccount(
            iam_pb.CreateIamTokenForServiceAccountRequest(), metadata=AUTH
        ),
        "service_account_id",
    )


@test
def plain_billing_account_get_and_errors():
    accounts = plain(ba_grpc.BillingAccountServiceStub)
    resp, call = accounts.Get.with_call(
        ba_pb.GetBillingAccountRequest(id=RESELLER),
        metadata=AUTH + (("x-client-request-id", "pysdk-req-1"),),
    )
    no_unknown_fields(resp)
    assert isinstance(resp, billing_account_pb2.BillingAccount)
    assert resp.id == RESELLER and resp.name and resp.currency == "RUB", resp
    assert resp.country_code == "RU" and resp.balance and resp.HasField("created_at"), resp
    headers = dict(call.initial_metadata())
    assert headers.get("x-request-id") == "pysdk-req-1", headers
    assert headers.get("x-server-trace-id"), headers
    req = ba_pb.GetBillingAccountRequest(id=RESELLER)
    expect_error(grpc.StatusCode.UNAUTHENTICATED, lambda: accounts.Get(req))
    expect_error(grpc.StatusCode.UNAUTHENTICATED, lambda: accounts.Get(req, metadata=bearer("t1.bogus")))
    expect_error(
        grpc.StatusCode.UNAUTHENTICATED,
        lambda: accounts.Get(req, metadata=(("authorization", IAM_TOKEN),)),
    )
    expect_error(grpc.StatusCode.PERMISSION_DENIED, lambda: accounts.Get(req, metadata=NO_RIGHTS))
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        lambda: accounts.Get(ba_pb.GetBillingAccountRequest(id="dn2nosuchaccount0001"), metadata=AUTH),
    )
    expect_invalid(lambda: accounts.Get(ba_pb.GetBillingAccountRequest(), metadata=AUTH), "id")


@test
def plain_billing_account_list_pages():
    accounts = plain(ba_grpc.BillingAccountServiceStub)
    all_at_once = ok(accounts.List(ba_pb.ListBillingAccountsRequest(page_size=1000), metadata=AUTH))
    ids = [a.id for a in all_at_once.billing_accounts]
    assert RESELLER in ids and not all_at_once.next_page_token, ids
    paged, pages = list_all(accounts.List, ba_pb.ListBillingAccountsRequest, "billing_accounts", 1)
    assert [a.id for a in paged] == ids and pages >= len(ids), (paged, pages)
    nobody = ok(accounts.List(ba_pb.ListBillingAccountsRequest(), metadata=NO_RIGHTS))
    assert list(nobody.billing_accounts) == [], nobody
    expect_invalid(
        lambda: accounts.List(ba_pb.ListBillingAccountsRequest(page_size=1001), metadata=AUTH),
        "page_size",
    )
    expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: accounts.List(
            ba_pb.ListBillingAccountsRequest(page_token="not-a-token"), metadata=AUTH
        ),
    )
    expect_error(grpc.StatusCode.UNAUTHENTICATED, lambda: accounts.List(ba_pb.ListBillingAccountsRequest()))


@test
def plain_customer_list_pages_and_errors():
    customers = plain(cust_grpc.CustomerServiceStub)
    paged, pages = list_all(
        customers.List, cust_pb.ListCustomersRequest, "customers", 2, reseller_id=RESELLER
    )
    assert SEEDED_CUSTOMERS <= {c.id for c in paged}, paged
    assert pages >= 2
    for c in paged:
        assert c.billing_account_id, c
    expect_error(
        grpc.StatusCode.PERMISSION_DENIED,
        lambda: customers.List(cust_pb.ListCustomersRequest(reseller_id=RESELLER), metadata=NO_RIGHTS),
    )
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        lambda: customers.List(
            cust_pb.ListCustomersRequest(reseller_id="dn2nosuchreseller001"), metadata=AUTH
        ),
    )
    expect_invalid(lambda: customers.List(cust_pb.ListCustomersRequest(), metadata=AUTH), "reseller_id")


@test
def plain_customer_invite():
    customers = plain(cust_grpc.CustomerServiceStub)
    op = customers.Invite(
        cust_pb.InviteCustomerRequest(
            reseller_id=RESELLER,
            name="Invited by pysdk",
            invitation_email="pysdk@example.com",
            person=person("Invited by pysdk"),
        ),
        metadata=AUTH,
    )
    customer, meta = finish_plain(op, customer_pb2.Customer, cust_pb.CustomerMetadata)
    assert meta.reseller_id == RESELLER and meta.customer_id == customer.id, (meta, customer)
    listed = ok(customers.List(cust_pb.ListCustomersRequest(reseller_id=RESELLER, page_size=1000), metadata=AUTH))
    assert customer.id in {c.id for c in listed.customers}
    expect_invalid(
        lambda: customers.Invite(
            cust_pb.InviteCustomerRequest(
                reseller_id=RESELLER, name="x", invitation_email="not-an-email", person=person("x")
            ),
            metadata=AUTH,
        ),
        "invitation_email",
    )
    expect_error(
        grpc.StatusCode.PERMISSION_DENIED,
        lambda: customers.Invite(
            cust_pb.InviteCustomerRequest(
                reseller_id=RESELLER, name="x", invitation_email="x@example.com", person=person("x")
            ),
            metadata=NO_RIGHTS,
        ),
    )


@test
def plain_customer_create_activate_suspend():
    customers = plain(cust_grpc.CustomerServiceStub)
    op = customers.CreateResellerServed(
        cust_pb.CreateResellerServedCustomerRequest(
            reseller_id=RESELLER, name="Served by pysdk", person=person("Served by pysdk")
        ),
        metadata=AUTH,
    )
    customer, meta = finish_plain(op, customer_pb2.Customer, cust_pb.CustomerMetadata)
    assert meta.customer_id == customer.id
    accounts = plain(ba_grpc.BillingAccountServiceStub)
    account = ok(accounts.Get(ba_pb.GetBillingAccountRequest(id=customer.billing_account_id), metadata=AUTH))
    assert not account.active, account

    op = customers.Activate(cust_pb.ActivateCustomerRequest(customer_id=customer.id), metadata=AUTH)
    activated, meta = finish_plain(op, customer_pb2.Customer, cust_pb.CustomerMetadata)
    assert activated.id == customer.id and meta.customer_id == customer.id
    account = ok(accounts.Get(ba_pb.GetBillingAccountRequest(id=customer.billing_account_id), metadata=AUTH))
    assert account.active, account

    op = customers.Suspend(cust_pb.SuspendCustomerRequest(customer_id=customer.id), metadata=AUTH)
    finish_plain(op, customer_pb2.Customer, cust_pb.CustomerMetadata)
    account = ok(accounts.Get(ba_pb.GetBillingAccountRequest(id=customer.billing_account_id), metadata=AUTH))
    assert not account.active, account

    for rpc, req in (
        (customers.Activate, cust_pb.ActivateCustomerRequest),
        (customers.Suspend, cust_pb.SuspendCustomerRequest),
    ):
        expect_error(
            grpc.StatusCode.NOT_FOUND,
            lambda: rpc(req(customer_id="emucustnosuchcust001"), metadata=AUTH),
        )
        expect_error(
            grpc.StatusCode.PERMISSION_DENIED,
            lambda: rpc(req(customer_id=customer.id), metadata=NO_RIGHTS),
        )
        expect_invalid(lambda: rpc(req(), metadata=AUTH), "customer_id")
    expect_invalid(
        lambda: customers.CreateResellerServed(
            cust_pb.CreateResellerServedCustomerRequest(reseller_id=RESELLER, person=person("x")),
            metadata=AUTH,
        ),
        "name",
    )


@test
def plain_billable_object_bind_and_list():
    accounts = plain(ba_grpc.BillingAccountServiceStub)
    cloud = billable_object_pb2.BillableObject(id="b1gpysdkcloud0000001", type="cloud")
    op = accounts.BindBillableObject(
        ba_pb.BindBillableObjectRequest(billing_account_id=RESELLER, billable_object=cloud),
        metadata=AUTH,
    )
    binding, meta = finish_plain(op, billable_object_pb2.BillableObjectBinding, ba_pb.BindBillableObjectMetadata)
    assert meta.billable_object_id == cloud.id, meta
    assert binding.billable_object == cloud and binding.HasField("effective_time"), binding
    bound, _ = list_all(
        accounts.ListBillableObjectBindings,
        ba_pb.ListBillableObjectBindingsRequest,
        "billable_object_bindings",
        1,
        billing_account_id=RESELLER,
    )
    assert cloud in [b.billable_object for b in bound], bound
    expect_invalid(
        lambda: accounts.BindBillableObject(
            ba_pb.BindBillableObjectRequest(
                billing_account_id=RESELLER,
                billable_object=billable_object_pb2.BillableObject(id="x", type="folder"),
            ),
            metadata=AUTH,
        ),
        "billable_object.type",
    )
    expect_error(
        grpc.StatusCode.PERMISSION_DENIED,
        lambda: accounts.BindBillableObject(
            ba_pb.BindBillableObjectRequest(billing_account_id=RESELLER, billable_object=cloud),
            metadata=NO_RIGHTS,
        ),
    )
    expect_error(
        grpc.StatusCode.PERMISSION_DENIED,
        lambda: accounts.ListBillableObjectBindings(
            ba_pb.ListBillableObjectBindingsRequest(billing_account_id=RESELLER), metadata=NO_RIGHTS
        ),
    )
    expect_invalid(
        lambda: accounts.ListBillableObjectBindings(ba_pb.ListBillableObjectBindingsRequest(), metadata=AUTH),
        "billing_account_id",
    )


@test
def plain_access_bindings_update_and_list():
    accounts = plain(ba_grpc.BillingAccountServiceStub)
    get = ba_pb.GetBillingAccountRequest(id=RESELLER)
    expect_error(grpc.StatusCode.PERMISSION_DENIED, lambda: accounts.Get(get, metadata=NO_RIGHTS))
    binding = access_pb2.AccessBinding(
        role_id="billing.accounts.viewer",
        subject=access_pb2.Subject(id=NO_RIGHTS_SUBJECT, type="userAccount"),
    )

    def update(action):
        return accounts.UpdateAccessBindings(
            access_pb2.UpdateAccessBindingsRequest(
                resource_id=RESELLER,
                access_binding_deltas=[access_pb2.AccessBindingDelta(action=action, access_binding=binding)],
            ),
            metadata=AUTH,
        )

    empty, meta = finish_plain(update(access_pb2.ADD), Empty, access_pb2.UpdateAccessBindingsMetadata)
    assert meta.resource_id == RESELLER, meta
    listed, _ = list_all(
        accounts.ListAccessBindings, access_pb2.ListAccessBindingsRequest, "access_bindings", 1, resource_id=RESELLER
    )
    assert binding in listed, listed
    ok(accounts.Get(get, metadata=NO_RIGHTS))  # the new viewer can read now
    expect_error(  # ... but not administer
        grpc.StatusCode.PERMISSION_DENIED,
        lambda: accounts.UpdateAccessBindings(
            access_pb2.UpdateAccessBindingsRequest(
                resource_id=RESELLER,
                access_binding_deltas=[
                    access_pb2.AccessBindingDelta(action=access_pb2.REMOVE, access_binding=binding)
                ],
            ),
            metadata=NO_RIGHTS,
        ),
    )
    finish_plain(update(access_pb2.REMOVE), Empty, access_pb2.UpdateAccessBindingsMetadata)
    expect_error(grpc.StatusCode.PERMISSION_DENIED, lambda: accounts.Get(get, metadata=NO_RIGHTS))
    expect_error(
        grpc.StatusCode.PERMISSION_DENIED,
        lambda: accounts.ListAccessBindings(
            access_pb2.ListAccessBindingsRequest(resource_id=RESELLER), metadata=NO_RIGHTS
        ),
    )
    expect_invalid(
        lambda: accounts.ListAccessBindings(access_pb2.ListAccessBindingsRequest(), metadata=AUTH),
        "resource_id",
    )
    expect_invalid(
        lambda: accounts.UpdateAccessBindings(
            access_pb2.UpdateAccessBindingsRequest(resource_id=RESELLER), metadata=AUTH
        ),
        "access_binding_deltas",
    )


@test
def plain_operation_cancel_semantics():
    customers = plain(cust_grpc.CustomerServiceStub)
    ops = plain(op_grpc.OperationServiceStub)
    name = "Cancelled by pysdk"
    op = customers.CreateResellerServed(
        cust_pb.CreateResellerServedCustomerRequest(reseller_id=RESELLER, name=name, person=person(name)),
        metadata=AUTH,
    )
    assert not op.done
    # Another subject may not touch it: to them it does not exist (NOT_FOUND,
    # the answer for a missing operation; no existence oracle).
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        lambda: ops.Cancel(op_pb.CancelOperationRequest(operation_id=op.id), metadata=NO_RIGHTS),
        contains=f"operation {op.id} not found",
    )
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        lambda: ops.Get(op_pb.GetOperationRequest(operation_id=op.id), metadata=NO_RIGHTS),
        contains=f"operation {op.id} not found",
    )
    cancelled = ok(ops.Cancel(op_pb.CancelOperationRequest(operation_id=op.id), metadata=AUTH))
    assert cancelled.id == op.id and cancelled.done, cancelled
    assert cancelled.WhichOneof("result") == "error", cancelled
    assert cancelled.error.code == grpc.StatusCode.CANCELLED.value[0], cancelled.error
    got = ok(ops.Get(op_pb.GetOperationRequest(operation_id=op.id), metadata=AUTH))
    assert got.done and got.error.code == grpc.StatusCode.CANCELLED.value[0], got
    expect_error(
        grpc.StatusCode.FAILED_PRECONDITION,
        lambda: ops.Cancel(op_pb.CancelOperationRequest(operation_id=op.id), metadata=AUTH),
    )
    planned = unpack(op.metadata, cust_pb.CustomerMetadata).customer_id
    listed = ok(customers.List(cust_pb.ListCustomersRequest(reseller_id=RESELLER, page_size=1000), metadata=AUTH))
    assert planned not in {c.id for c in listed.customers}, "a cancelled operation took effect"
    for rpc, req in ((ops.Get, op_pb.GetOperationRequest), (ops.Cancel, op_pb.CancelOperationRequest)):
        expect_error(grpc.StatusCode.NOT_FOUND, lambda: rpc(req(operation_id="emuopnosuchop0000000"), metadata=AUTH))
        expect_error(grpc.StatusCode.UNAUTHENTICATED, lambda: rpc(req(operation_id=op.id)))
        expect_invalid(lambda: rpc(req(), metadata=AUTH), "operation_id")


@test
def plain_idempotency_key_replays_the_operation():
    customers = plain(cust_grpc.CustomerServiceStub)
    req = cust_pb.CreateResellerServedCustomerRequest(reseller_id=RESELLER, name="Idem", person=person("Idem"))
    md = AUTH + (("idempotency-key", "pysdk-idem-1"),)
    first = customers.CreateResellerServed(req, metadata=md)
    again = customers.CreateResellerServed(req, metadata=md)
    assert first.id == again.id, (first.id, again.id)
    finish_plain(first, customer_pb2.Customer, cust_pb.CustomerMetadata)
    expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: customers.CreateResellerServed(
            cust_pb.CreateResellerServedCustomerRequest(reseller_id=RESELLER, name="Other", person=person("Other")),
            metadata=md,
        ),
    )


# ------------------------------------------------------ TLS, SDK object


def sdk_with(**auth) -> yandexcloud.SDK:
    return yandexcloud.SDK(endpoint=TLS_ADDR, root_certificates=CA_PEM, **auth)


@test
def sdk_discovery_dials_the_returned_addresses_over_tls():
    sdk = sdk_with(iam_token=IAM_TOKEN)
    endpoints = sdk._channels.endpoints  # what ApiEndpointService.List answered
    for service in ("billing", "iam", "operation", "endpoint"):
        assert endpoints.get(service) == TLS_ADDR, endpoints
    got = ok(sdk.client(ep_grpc.ApiEndpointServiceStub).Get(ep_pb.GetApiEndpointRequest(api_endpoint_id="iam")))
    assert got.address == TLS_ADDR, got
    listed = ok(sdk.client(ep_grpc.ApiEndpointServiceStub).List(ep_pb.ListApiEndpointsRequest()))
    assert {e.id for e in listed.endpoints} >= {"billing", "iam", "operation"}


def reseller_reads(sdk: yandexcloud.SDK) -> None:
    account = ok(sdk.client(ba_grpc.BillingAccountServiceStub).Get(ba_pb.GetBillingAccountRequest(id=RESELLER)))
    assert account.id == RESELLER, account
    customers = ok(sdk.client(cust_grpc.CustomerServiceStub).List(cust_pb.ListCustomersRequest(reseller_id=RESELLER)))
    assert SEEDED_CUSTOMERS <= {c.id for c in customers.customers}, customers


@test
def sdk_iam_token_auth():
    reseller_reads(sdk_with(iam_token=IAM_TOKEN))


@test
def sdk_oauth_token_auth_exchanges_via_iam():
    reseller_reads(sdk_with(token=OAUTH_TOKEN))


@test
def sdk_service_account_key_auth_signs_a_jwt_the_emulator_accepts():
    sdk = sdk_with(service_account_key=TLS_SA_KEY)
    account = ok(sdk.client(ba_grpc.BillingAccountServiceStub).Get(ba_pb.GetBillingAccountRequest(id=RESELLER)))
    assert account.id == RESELLER


@test
def sdk_auth_failures_surface_as_on_the_real_cloud():
    req = ba_pb.GetBillingAccountRequest(id=RESELLER)
    expect_error(
        grpc.StatusCode.PERMISSION_DENIED,
        lambda: sdk_with(iam_token=NO_RIGHTS_TOKEN).client(ba_grpc.BillingAccountServiceStub).Get(req),
    )
    expect_error(
        grpc.StatusCode.UNAUTHENTICATED,
        lambda: sdk_with(iam_token="t1.bogus").client(ba_grpc.BillingAccountServiceStub).Get(req),
    )
    # A failed exchange fails the auth plugin: grpc reports it as UNAVAILABLE
    # with IamTokenService's UNAUTHENTICATED inside.
    expect_error(
        grpc.StatusCode.UNAVAILABLE,
        lambda: sdk_with(token="y0_unknown").client(ba_grpc.BillingAccountServiceStub).Get(req),
        contains="UNAUTHENTICATED",
    )


@test
def sdk_iam_token_service_through_the_sdk_client():
    sdk = sdk_with(iam_token=IAM_TOKEN)
    iam = sdk.client(iam_grpc.IamTokenServiceStub)
    created = ok(iam.Create(iam_pb.CreateIamTokenRequest(yandex_passport_oauth_token=OAUTH_TOKEN)))
    assert created.iam_token
    req = iam_pb.CreateIamTokenForServiceAccountRequest(service_account_id=SA_ID)
    # The SDK's auth plugin attaches nothing to IamTokenService calls, so
    # CreateForServiceAccount needs the token passed explicitly, as on the real cloud.
    expect_error(grpc.StatusCode.UNAUTHENTICATED, lambda: iam.CreateForServiceAccount(req))
    sa = ok(iam.CreateForServiceAccount(req, metadata=bearer(created.iam_token)))
    reseller_reads(sdk_with(iam_token=sa.iam_token))


@test
def sdk_operations_through_the_waiter():
    sdk = sdk_with(iam_token=IAM_TOKEN)
    name = "SDK served customer"
    started = time.monotonic()
    res = sdk.create_operation_and_get_result(
        cust_pb.CreateResellerServedCustomerRequest(reseller_id=RESELLER, name=name, person=person(name)),
        cust_grpc.CustomerServiceStub,
        "CreateResellerServed",
        response_type=customer_pb2.Customer,
        meta_type=cust_pb.CustomerMetadata,
        timeout=30,
    )
    customer, meta = res.response, res.meta
    no_unknown_fields(customer)
    no_unknown_fields(meta)
    assert customer.id and meta.customer_id == customer.id and meta.reseller_id == RESELLER, (customer, meta)
    assert res.operation.created_by == SUBJECT and not res.operation.done, res.operation
    # The waiter found it pending first (operation delay 500 ms) and polled again.
    assert time.monotonic() - started >= 0.5

    customers = sdk.client(cust_grpc.CustomerServiceStub)
    op = customers.Activate(cust_pb.ActivateCustomerRequest(customer_id=customer.id))
    res = sdk.wait_operation_and_get_result(
        op, response_type=customer_pb2.Customer, meta_type=cust_pb.CustomerMetadata, timeout=30
    )
    assert res.response.id == customer.id and res.meta.customer_id == customer.id
    account = ok(
        sdk.client(ba_grpc.BillingAccountServiceStub).Get(ba_pb.GetBillingAccountRequest(id=customer.billing_account_id))
    )
    assert account.active, account

    op = customers.Invite(
        cust_pb.InviteCustomerRequest(
            reseller_id=RESELLER, name="SDK invited", invitation_email="sdk@example.com", person=person("SDK invited")
        )
    )
    res = sdk.wait_operation_and_get_result(
        op, response_type=customer_pb2.Customer, meta_type=cust_pb.CustomerMetadata, timeout=30
    )
    assert res.response.id == res.meta.customer_id

    accounts = sdk.client(ba_grpc.BillingAccountServiceStub)
    cloud = billable_object_pb2.BillableObject(id="b1gsdkcloud000000001", type="cloud")
    res = sdk.create_operation_and_get_result(
        ba_pb.BindBillableObjectRequest(billing_account_id=RESELLER, billable_object=cloud),
        ba_grpc.BillingAccountServiceStub,
        "BindBillableObject",
        response_type=billable_object_pb2.BillableObjectBinding,
        meta_type=ba_pb.BindBillableObjectMetadata,
        timeout=30,
    )
    assert res.response.billable_object == cloud and res.meta.billable_object_id == cloud.id
    bound = ok(accounts.ListBillableObjectBindings(ba_pb.ListBillableObjectBindingsRequest(billing_account_id=RESELLER)))
    assert cloud in [b.billable_object for b in bound.billable_object_bindings]

    binding = access_pb2.AccessBinding(
        role_id="billing.accounts.viewer", subject=access_pb2.Subject(id=SA_ID, type="serviceAccount")
    )
    res = sdk.create_operation_and_get_result(
        access_pb2.UpdateAccessBindingsRequest(
            resource_id=RESELLER,
            access_binding_deltas=[access_pb2.AccessBindingDelta(action=access_pb2.ADD, access_binding=binding)],
        ),
        ba_grpc.BillingAccountServiceStub,
        "UpdateAccessBindings",
        response_type=Empty,
        meta_type=access_pb2.UpdateAccessBindingsMetadata,
        timeout=30,
    )
    assert res.meta.resource_id == RESELLER
    listed = ok(accounts.ListAccessBindings(access_pb2.ListAccessBindingsRequest(resource_id=RESELLER)))
    assert binding in listed.access_bindings

    # The TLS emulator runs with --fail-next-operation for Suspend: the first
    # Suspend completes with an error, which the SDK raises as OperationError.
    op = customers.Suspend(cust_pb.SuspendCustomerRequest(customer_id=customer.id))
    try:
        sdk.wait_operation_and_get_result(
            op, response_type=customer_pb2.Customer, meta_type=cust_pb.CustomerMetadata, timeout=30
        )
    except OperationError as e:
        assert "Error code: 9" in e.message, e.message
        assert e.operation_result.meta.customer_id == customer.id, e.operation_result.meta
    else:
        raise AssertionError("a failed operation did not raise OperationError")
    account = ok(accounts.Get(ba_pb.GetBillingAccountRequest(id=customer.billing_account_id)))
    assert account.active, "a failed operation took effect"
    op = customers.Suspend(cust_pb.SuspendCustomerRequest(customer_id=customer.id))
    sdk.wait_operation_and_get_result(op, response_type=customer_pb2.Customer, timeout=30)
    account = ok(accounts.Get(ba_pb.GetBillingAccountRequest(id=customer.billing_account_id)))
    assert not account.active, account


@test
def sdk_cancelled_operation_raises_operation_error():
    sdk = sdk_with(iam_token=IAM_TOKEN)
    customers = sdk.client(cust_grpc.CustomerServiceStub)
    ops = sdk.client(op_grpc.OperationServiceStub)
    ok(customers.List(cust_pb.ListCustomersRequest(reseller_id=RESELLER)))  # warm the channels
    name = "SDK cancelled"
    op = customers.CreateResellerServed(
        cust_pb.CreateResellerServedCustomerRequest(reseller_id=RESELLER, name=name, person=person(name))
    )
    cancelled = ok(ops.Cancel(op_pb.CancelOperationRequest(operation_id=op.id)))
    assert cancelled.done and cancelled.error.code == grpc.StatusCode.CANCELLED.value[0], cancelled
    try:
        sdk.wait_operation_and_get_result(op, response_type=customer_pb2.Customer, meta_type=cust_pb.CustomerMetadata)
    except OperationError as e:
        assert "Error code: 1" in e.message, e.message
    else:
        raise AssertionError("a cancelled operation did not raise OperationError")
    expect_error(grpc.StatusCode.FAILED_PRECONDITION, lambda: ops.Cancel(op_pb.CancelOperationRequest(operation_id=op.id)))
    expect_error(
        grpc.StatusCode.NOT_FOUND, lambda: ops.Get(op_pb.GetOperationRequest(operation_id="emuopnosuchop0000000"))
    )
    planned = unpack(op.metadata, cust_pb.CustomerMetadata).customer_id
    listed = ok(customers.List(cust_pb.ListCustomersRequest(reseller_id=RESELLER, page_size=1000)))
    assert planned not in {c.id for c in listed.customers}, "a cancelled operation took effect"


@test
def sdk_retry_interceptor_rides_over_unavailable():
    """The TLS emulator fails the first two BillingAccountService/List calls
    with UNAVAILABLE (--fail-first); the SDK's RetryInterceptor retries."""
    from yandexcloud._retry_interceptor import RetryInterceptor

    sdk = sdk_with(iam_token=IAM_TOKEN)
    req = ba_pb.ListBillingAccountsRequest()
    expect_error(grpc.StatusCode.UNAVAILABLE, lambda: sdk.client(ba_grpc.BillingAccountServiceStub).List(req))
    retrying = sdk.client(
        ba_grpc.BillingAccountServiceStub,
        interceptor=RetryInterceptor(max_retry_count=3, retriable_codes=[grpc.StatusCode.UNAVAILABLE]),
    )
    resp = ok(retrying.List(req))
    assert RESELLER in {a.id for a in resp.billing_accounts}, resp


@test
def sdk_invalid_argument_carries_bad_request():
    sdk = sdk_with(iam_token=IAM_TOKEN)
    customers = sdk.client(cust_grpc.CustomerServiceStub)
    expect_invalid(
        lambda: customers.Invite(
            cust_pb.InviteCustomerRequest(reseller_id=RESELLER, name="x", invitation_email="bad", person=person("x"))
        ),
        "invitation_email",
    )
    expect_invalid(lambda: customers.List(cust_pb.ListCustomersRequest(reseller_id=RESELLER, page_size=5000)), "page_size")


# ------------------------------------------- catalogue and budgets

CONTRACT_ACCOUNT = "dn2emu0customer00001"


@test
def plain_services_and_skus_with_prices_filters_and_pages():
    services = plain(svc_grpc.ServiceServiceStub)
    listed, pages = list_all(services.List, svc_pb.ListServicesRequest, "services", 5)
    assert len(listed) >= 12 and pages >= 3, (len(listed), pages)
    assert listed[0].name == "Compute Cloud", listed[0]
    compute = listed[0].id
    got = ok(services.Get(svc_pb.GetServiceRequest(id=compute), metadata=AUTH))
    assert got == listed[0], got
    one = ok(services.List(svc_pb.ListServicesRequest(filter=f'id="{compute}"'), metadata=AUTH))
    assert [s.id for s in one.services] == [compute], one
    expect_error(grpc.StatusCode.NOT_FOUND, lambda: services.Get(svc_pb.GetServiceRequest(id="dn2nosuchservice0001"), metadata=AUTH))
    expect_invalid(lambda: services.List(svc_pb.ListServicesRequest(filter='name="x"'), metadata=AUTH), "filter")

    skus = plain(sku_grpc.SkuServiceStub)
    all_skus, _ = list_all(skus.List, sku_pb.ListSkusRequest, "skus", 7, currency="RUB")
    assert len(all_skus) >= 40, len(all_skus)
    of_compute = ok(skus.List(sku_pb.ListSkusRequest(currency="USD", filter=f'serviceId="{compute}"'), metadata=AUTH))
    assert of_compute.skus and all(s.service_id == compute for s in of_compute.skus), of_compute
    vcpu = of_compute.skus[0]
    assert vcpu.name == "Intel Ice Lake. 100% vCPU" and vcpu.pricing_unit == "core*hour", vcpu
    current = vcpu.pricing_versions[-1]
    assert current.type == sku_pb2.STREET_PRICE, current
    rate = current.pricing_expressions[0].rates[0]
    assert (rate.unit_price, rate.currency) == ("0.014", "USD"), rate
    contract = ok(skus.Get(sku_pb.GetSkuRequest(id=vcpu.id, currency="RUB", billing_account_id=CONTRACT_ACCOUNT), metadata=AUTH))
    types = [v.type for v in contract.pricing_versions]
    assert types == [sku_pb2.STREET_PRICE, sku_pb2.STREET_PRICE, sku_pb2.CONTRACT_PRICE], types
    assert contract.pricing_versions[2].pricing_expressions[0].rates[0].unit_price == "0.8064", contract
    expect_invalid(lambda: skus.Get(sku_pb.GetSkuRequest(id=vcpu.id, currency="EUR"), metadata=AUTH), "currency")
    expect_invalid(lambda: skus.List(sku_pb.ListSkusRequest(), metadata=AUTH), "currency")
    expect_invalid(lambda: skus.List(sku_pb.ListSkusRequest(currency="RUB", filter="serviceId=x"), metadata=AUTH), "filter")
    expect_error(grpc.StatusCode.NOT_FOUND, lambda: skus.Get(sku_pb.GetSkuRequest(id="dn2nosuchsku00000001", currency="RUB"), metadata=AUTH))
    expect_error(
        grpc.StatusCode.PERMISSION_DENIED,
        lambda: skus.Get(sku_pb.GetSkuRequest(id=vcpu.id, currency="RUB", billing_account_id=CONTRACT_ACCOUNT), metadata=NO_RIGHTS),
    )
    # The public catalogue is open to any authenticated caller.
    ok(skus.Get(sku_pb.GetSkuRequest(id=vcpu.id, currency="KZT"), metadata=NO_RIGHTS))


@test
def plain_budgets_list_get_and_errors():
    budgets = plain(budget_grpc.BudgetServiceStub)
    listed = ok(budgets.List(budget_pb.ListBudgetsRequest(billing_account_id=RESELLER), metadata=AUTH))
    kinds = [b.WhichOneof("budget_spec") for b in listed.budgets]
    assert kinds == ["cost_budget", "balance_budget"], kinds
    assert all(b.status == budget_pb2.ACTIVE for b in listed.budgets), listed
    got = ok(budgets.Get(budget_pb.GetBudgetRequest(id=listed.budgets[0].id), metadata=AUTH))
    assert got == listed.budgets[0], got
    expect_error(grpc.StatusCode.NOT_FOUND, lambda: budgets.Get(budget_pb.GetBudgetRequest(id=listed.budgets[0].id), metadata=NO_RIGHTS))
    expect_error(grpc.StatusCode.PERMISSION_DENIED, lambda: budgets.List(budget_pb.ListBudgetsRequest(billing_account_id=RESELLER), metadata=NO_RIGHTS))
    spec = budget_pb2.CostBudgetSpec(
        amount="100", notification_user_account_ids=[SUBJECT], end_date="2030-12-30", reset_period=budget_pb2.MONTHLY
    )
    expect_invalid(
        lambda: budgets.Create(budget_pb.CreateBudgetRequest(billing_account_id=RESELLER, name="x", cost_budget_spec=spec), metadata=AUTH),
        "cost_budget_spec.end_date",
    )
    expect_invalid(
        lambda: budgets.Create(budget_pb.CreateBudgetRequest(billing_account_id=RESELLER, name="x"), metadata=AUTH),
        "budget_spec",
    )


@test
def sdk_budget_create_through_the_waiter():
    sdk = sdk_with(iam_token=IAM_TOKEN)
    spec = budget_pb2.ExpenseBudgetSpec(
        amount="2500.50",
        notification_user_account_ids=[SUBJECT],
        threshold_rules=[budget_pb2.ThresholdRule(type=budget_pb2.PERCENT, amount="80")],
        start_date="2026-01-01",
        end_date="2030-12-31",
    )
    res = sdk.create_operation_and_get_result(
        budget_pb.CreateBudgetRequest(billing_account_id=CONTRACT_ACCOUNT, name="SDK budget", expense_budget_spec=spec),
        budget_grpc.BudgetServiceStub,
        "Create",
        response_type=budget_pb2.Budget,
        meta_type=budget_pb.CreateBudgetMetadata,
        timeout=30,
    )
    budget, meta = res.response, res.meta
    no_unknown_fields(budget)
    assert budget.id and meta.budget_id == budget.id, (budget, meta)
    assert budget.status == budget_pb2.ACTIVE and budget.expense_budget.amount == "2500.50", budget
    client = sdk.client(budget_grpc.BudgetServiceStub)
    listed = ok(client.List(budget_pb.ListBudgetsRequest(billing_account_id=CONTRACT_ACCOUNT)))
    assert budget.id in {b.id for b in listed.budgets}, listed
    # The SKU catalogue through the SDK over TLS.
    sku = ok(sdk.client(sku_grpc.SkuServiceStub).List(sku_pb.ListSkusRequest(currency="KZT", page_size=1)))
    assert len(sku.skus) == 1 and sku.next_page_token, sku


# ------------------------------------------------------ usage records


def day(y: int, m: int, d: int):
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.FromDatetime(datetime(y, m, d, tzinfo=timezone.utc))
    return ts


def dec(sd) -> "Decimal":
    from decimal import Decimal

    return Decimal(sd.value or "0")


def usage_request(**kw):
    kw.setdefault("billing_account_id", RESELLER)
    kw.setdefault("start_date", day(2025, 1, 1))
    kw.setdefault("end_date", day(2025, 6, 30))
    kw.setdefault("aggregation_period", usage_common.MONTH)
    return usage_pb.UsageReportRequest(**kw)


USAGE_REPORTS = [
    ("GetBillingAccountUsageReport", "billing_account"),
    ("GetCloudUsageReport", "cloud"),
    ("GetFolderUsageReport", "folder"),
    ("GetServiceUsageReport", "service"),
    ("GetSKUUsageReport", "sku"),
    ("GetResourceUsageReport", "resource"),
    ("GetLabelKeyUsageReport", "label"),
    ("GetServiceInstanceUsageReport", "service_instance"),
]


def check_report(resp, entity_field: str, additive: bool) -> None:
    ok(resp)
    assert resp.currency == usage_common.RUB, resp.currency
    assert resp.entities_data, f"{entity_field}: no entities"
    assert dec(resp.expense) == dec(resp.cost) + dec(resp.credit_details.credit)
    for e in resp.entities_data:
        assert e.HasField(entity_field), e
        assert dec(e.expense) == dec(e.cost) + dec(e.credit_details.credit)
        c = e.credit_details
        assert dec(c.credit) == sum(
            dec(x) for x in (c.monetary_grant_credit, c.volume_incentive_credit, c.cud_credit, c.free_credit)
        )
        assert dec(e.cost) == sum(dec(p.cost) for p in e.periodic), entity_field
        stamps = [p.timestamp.seconds for p in e.periodic]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    if additive:
        assert dec(resp.cost) == sum(dec(e.cost) for e in resp.entities_data), entity_field
        assert dec(resp.expense) == sum(dec(e.expense) for e in resp.entities_data), entity_field


@test
def plain_usage_reports_every_grouping_adds_up():
    core = plain(usage_grpc.ConsumptionCoreServiceStub)
    costs = set()
    for method, field in USAGE_REPORTS:
        resp = getattr(core, method)(usage_request(), metadata=AUTH)
        check_report(resp, field, additive=field != "label")
        costs.add(dec(resp.cost))
    assert len(costs) == 1, f"the groupings disagree on the total: {costs}"
    # Filters: one cloud (OR within), AND with a label.
    clouds = ok(core.GetCloudUsageReport(usage_request(), metadata=AUTH))
    one = clouds.entities_data[0]
    only = ok(core.GetCloudUsageReport(usage_request(cloud_ids=[one.cloud.id]), metadata=AUTH))
    assert [e.cloud.id for e in only.entities_data] == [one.cloud.id]
    assert dec(only.cost) == dec(one.cost)
    prod = usage_request(cloud_ids=[one.cloud.id], labels={"env": usage_types.LabelList(values=["prod"])})
    narrowed = ok(core.GetBillingAccountUsageReport(prod, metadata=AUTH))
    assert dec(narrowed.cost) <= dec(one.cost)
    # Periods: a quarter report of the half-year has two points.
    q = ok(core.GetBillingAccountUsageReport(usage_request(aggregation_period=usage_common.QUARTER), metadata=AUTH))
    assert len(q.entities_data[0].periodic) == 2
    assert dec(q.cost) == costs.pop()


@test
def plain_usage_reports_refuse_bad_requests():
    core = plain(usage_grpc.ConsumptionCoreServiceStub)
    inverted = usage_request(start_date=day(2025, 3, 1), end_date=day(2025, 2, 1))
    expect_invalid(lambda: core.GetServiceUsageReport(inverted, metadata=AUTH), "end_date")
    expect_invalid(lambda: core.GetServiceUsageReport(usage_pb.UsageReportRequest(), metadata=AUTH), "billing_account_id")
    expect_error(grpc.StatusCode.PERMISSION_DENIED, lambda: core.GetServiceUsageReport(usage_request(), metadata=NO_RIGHTS))
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        lambda: core.GetServiceUsageReport(usage_request(billing_account_id="dn2nosuchaccount0001"), metadata=AUTH),
    )
    expect_error(grpc.StatusCode.UNAUTHENTICATED, lambda: core.GetServiceUsageReport(usage_request()))


@test
def plain_usage_metadata_answers_from_the_same_records():
    meta = plain(usage_meta_grpc.MetadataServiceStub)
    rng = dict(billing_account_id=RESELLER, start_date=day(2025, 1, 1), end_date=day(2025, 6, 30))
    usage = ok(meta.GetUsage(usage_meta_pb.GetUsageRequest(**rng), metadata=AUTH))
    assert len(usage.clouds) >= 3 and "env" in usage.label_keys and usage.skus, usage
    instances = ok(meta.GetServiceInstance(usage_meta_pb.GetServiceInstanceRequest(**rng), metadata=AUTH))
    assert {"cloud", "datalens"} <= {i.type for i in instances.service_instances}
    labels = ok(meta.GetLabel(usage_meta_pb.GetLabelRequest(label_key="env", **rng), metadata=AUTH))
    assert list(labels.label_values) == sorted(labels.label_values) and "prod" in labels.label_values
    folders, pages = [], 0
    token = ""
    while True:
        resp = ok(meta.GetCloud(usage_meta_pb.GetCloudRequest(page_size=4, page_token=token, **rng), metadata=AUTH))
        folders += [f.id for item in resp.items for f in item.folders]
        pages += 1
        token = resp.next_page_token
        if not token:
            break
        assert pages < 50
    assert len(folders) == 9 and pages == 3, (folders, pages)
    res = ok(meta.GetResources(usage_meta_pb.GetResourcesRequest(page_size=7, **rng), metadata=AUTH))
    assert sum(len(i.resources) for i in res.items) == 7 and res.next_page_token
    expect_error(
        grpc.StatusCode.PERMISSION_DENIED,
        lambda: meta.GetUsage(usage_meta_pb.GetUsageRequest(**rng), metadata=NO_RIGHTS),
    )


@test
def sdk_usage_report_through_discovery_and_tls():
    sdk = sdk_with(iam_token=IAM_TOKEN)
    core = sdk.client(usage_grpc.ConsumptionCoreServiceStub)
    resp = core.GetServiceUsageReport(usage_request())
    check_report(resp, "service", additive=True)
# ------------------------------------------------------------ admin API

PLAIN_ADMIN = os.environ["PLAIN_ADMIN"]


def admin(method: str, path: str, body=None):
    """One call of the plaintext emulator's admin API: (HTTP status, JSON)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(PLAIN_ADMIN + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


@test
def plain_admin_fault_journal_and_reset():
    """Runs last on the plaintext emulator: it resets it."""
    get = "yandex.cloud.billing.v1.BillingAccountService/Get"
    status, _ = admin("DELETE", "/requests")
    assert status == 200
    status, added = admin("POST", "/faults", {"fail_first": {"method": get, "count": 1, "code": "UNAVAILABLE"}})
    assert status == 200, added
    accounts = plain(ba_grpc.BillingAccountServiceStub)
    req = ba_pb.GetBillingAccountRequest(id=RESELLER)
    expect_error(grpc.StatusCode.UNAVAILABLE, lambda: accounts.Get(req, metadata=AUTH), "fail-first")
    assert ok(accounts.Get(req, metadata=AUTH)).id == RESELLER
    status, journal = admin("GET", "/requests?" + urllib.parse.urlencode({"method": get}))
    assert status == 200, journal
    codes = [r["code"] for r in journal["requests"]]
    assert codes == ["UNAVAILABLE", "OK"], journal
    entry = journal["requests"][1]
    assert entry["request"] == {"id": RESELLER}, entry
    assert entry["metadata"]["authorization"] == "<redacted>", entry
    assert IAM_TOKEN not in json.dumps(journal)
    # Bad admin input names the field and changes nothing.
    status, err = admin("POST", "/faults", {"latency": {"ms": "slow"}})
    assert status == 400 and err["field"] == "[0].latency.ms", err
    # A customer created now is gone after the reset; the seed's are back.
    customers = plain(cust_grpc.CustomerServiceStub)
    op = customers.Invite(
        cust_pb.InviteCustomerRequest(
            reseller_id=RESELLER, name="Reset Me", invitation_email="reset@example.com", person=person("Reset Me")
        ),
        metadata=AUTH,
    )
    finish_plain(op)
    listed = {c.id for c in customers.List(cust_pb.ListCustomersRequest(reseller_id=RESELLER), metadata=AUTH).customers}
    assert listed > SEEDED_CUSTOMERS, listed
    status, body = admin("POST", "/reset")
    assert (status, body) == (200, {"reset": True}), body
    listed = {c.id for c in customers.List(cust_pb.ListCustomersRequest(reseller_id=RESELLER), metadata=AUTH).customers}
    assert listed == SEEDED_CUSTOMERS, listed
    status, faults = admin("GET", "/faults")
    assert faults == {"faults": []}, faults


# ------------------------------------------------------------------ main


def main() -> int:
    only = set(sys.argv[1:])
    passed = failed = 0
    for name, fn in TESTS:
        if only and name not in only:
            continue
        started = time.monotonic()
        try:
            fn()
        except Exception:  # pylint: disable=broad-except
            failed += 1
            print(f"FAIL {name} ({time.monotonic() - started:.2f}s)")
            print("  " + traceback.format_exc().replace("\n", "\n  ").rstrip())
        else:
            passed += 1
            print(f"ok   {name} ({time.monotonic() - started:.2f}s)")
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
