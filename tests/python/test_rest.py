"""The REST flows of the published reference pages (../shared/api-reference/)
against `yc-billing emulator`'s REST port, with the standard library only.

Customer Invite, CreateResellerServed, Activate, Suspend (by analogy with
Activate) and the Kazakhstan BindBillableObject page, with the request bodies
as the pages show them; the IAM token exchange (`POST /iam/v1/tokens`) as a
REST client authenticates; errors in the REST shape; one call over TLS.

Environment (from tests/python/run.sh): REST_URL (plaintext emulator),
REST_TLS_URL and CA_PEM (TLS emulator). Closes with `N passed, N failed`.
"""

import json
import os
import ssl
import sys
import time
import traceback
import urllib.error
import urllib.request
from typing import Callable, List, Optional, Tuple

REST_URL = os.environ["REST_URL"]
REST_TLS_URL = os.environ["REST_TLS_URL"]
CA_PEM = os.environ["CA_PEM"]
RESELLER = "dn2emu0reseller00001"
OAUTH_TOKEN = "y0_emulator-oauth-token-default"

TESTS: List[Tuple[str, Callable[[], None]]] = []


def test(fn: Callable[[], None]) -> Callable[[], None]:
    TESTS.append((fn.__name__, fn))
    return fn


class Answer:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.json = json.loads(body) if body else None

    def __repr__(self) -> str:
        return f"HTTP {self.status} {self.json}"


def call(method: str, path: str, body=None, token: Optional[str] = None, headers=None,
         base: str = REST_URL, context=None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as resp:
            return Answer(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.headers, e.read())


_TOKEN: List[str] = []


def token() -> str:
    """An IAM token exchanged from the OAuth token, as a REST client gets one."""
    if not _TOKEN:
        got = call("POST", "/iam/v1/tokens", {"yandexPassportOauthToken": OAUTH_TOKEN})
        assert got.status == 200, got
        assert got.json["iamToken"] and got.json["expiresAt"].endswith("Z"), got
        _TOKEN.append(got.json["iamToken"])
    return _TOKEN[0]


def wait(op: Answer) -> dict:
    """Polls GET /operations/{operationId} until done (at most 10 s)."""
    assert op.status == 200, op
    op_id = op.json["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = call("GET", f"/operations/{op_id}", token=token())
        assert got.status == 200, got
        if got.json.get("done"):
            assert "error" not in got.json, got
            return got.json
        time.sleep(0.02)
    raise AssertionError(f"operation {op_id} not done in 10 s")


def person(name: str) -> dict:
    return {
        "name": name,
        "longname": f"{name} LLC",
        "phone": "+7 495 739-70-00",
        "email": "billing@acme.example",
        "postCode": "119021",
        "postAddress": "Moscow, Lva Tolstogo 16",
        "legalAddress": "Moscow, Lva Tolstogo 16",
        "tin": "7704340310",
    }


@test
def customer_invite_page():
    # POST https://billing.api.cloud.yandex.net/billing/v1/customers:invite
    op = call("POST", "/billing/v1/customers:invite", {
        "resellerId": RESELLER,
        "name": "Acme REST",
        "invitationEmail": "billing@acme.example",
        "person": person("Acme REST"),
    }, token=token())
    assert op.json["metadata"]["@type"] == "type.googleapis.com/yandex.cloud.billing.v1.CustomerMetadata", op
    assert op.json["metadata"]["resellerId"] == RESELLER, op
    done = wait(op)
    customer = done["response"]
    assert customer["@type"] == "type.googleapis.com/yandex.cloud.billing.v1.Customer", done
    listed = call("GET", f"/billing/v1/customers?resellerId={RESELLER}&pageSize=1000", token=token())
    assert any(c["id"] == customer["id"] for c in listed.json["customers"]), listed


@test
def customer_create_reseller_served_page():
    # POST .../billing/v1/customers:createResellerServedCustomer
    op = call("POST", "/billing/v1/customers:createResellerServedCustomer", {
        "resellerId": RESELLER,
        "name": "Served REST",
        "person": person("Served REST"),
    }, token=token())
    customer = wait(op)["response"]
    assert customer["billingAccountId"], customer


def invited() -> str:
    op = call("POST", "/billing/v1/customers:invite", {
        "resellerId": RESELLER, "name": "To activate",
        "invitationEmail": "activate@acme.example", "person": person("To activate"),
    }, token=token())
    return wait(op)["response"]["id"]


@test
def customer_activate_page_and_suspend_by_analogy():
    customer_id = invited()
    # POST .../billing/v1/customers/{customerId}:activate, no body
    activated = wait(call("POST", f"/billing/v1/customers/{customer_id}:activate", token=token()))
    assert activated["response"]["id"] == customer_id, activated
    assert activated["metadata"]["customerId"] == customer_id, activated
    suspended = wait(call("POST", f"/billing/v1/customers/{customer_id}:suspend", token=token()))
    assert suspended["response"]["id"] == customer_id, suspended


@test
def billing_account_bind_billable_object_kz_page():
    # POST https://billing.api.yandexcloud.kz/billing/v1/billingAccounts/{billingAccountId}/billableObjectBindings
    path = f"/billing/v1/billingAccounts/{RESELLER}/billableObjectBindings"
    op = call("POST", path, {"billableObject": {"id": "b1gkzcloud0000000001", "type": "cloud"}},
              token=token(), headers={"Host": "billing.api.yandexcloud.kz"})
    assert op.json["metadata"]["@type"].endswith("BindBillableObjectMetadata"), op
    wait(op)
    listed = call("GET", path, token=token())
    ids = [b["billableObject"]["id"] for b in listed.json["billableObjectBindings"]]
    assert "b1gkzcloud0000000001" in ids, listed


@test
def errors_in_the_rest_shape():
    bad = call("POST", "/billing/v1/customers:invite", {
        "resellerId": RESELLER, "name": "x", "invitationEmail": "not-an-email", "person": person("x"),
    }, token=token())
    assert bad.status == 400 and bad.json["code"] == 3, bad
    violations = [v["field"] for d in bad.json["details"] for v in d.get("fieldViolations", [])]
    assert violations == ["invitation_email"], bad
    assert bad.json["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest", bad
    unknown = call("POST", "/billing/v1/customers:invite", {"resellerId": RESELLER, "colour": "red"}, token=token())
    assert unknown.status == 400 and "colour" in unknown.json["message"], unknown
    anonymous = call("GET", f"/billing/v1/billingAccounts/{RESELLER}")
    assert anonymous.status == 401 and anonymous.json["code"] == 16, anonymous
    missing = call("POST", "/billing/v1/customers/emucustomer000000099:activate", token=token())
    assert missing.status == 404 and missing.json["code"] == 5, missing


@test
def idempotency_key_header_replays():
    body = {"resellerId": RESELLER, "name": "Once", "invitationEmail": "once@acme.example", "person": person("Once")}
    first = call("POST", "/billing/v1/customers:invite", body, token=token(), headers={"Idempotency-Key": "py-1"})
    again = call("POST", "/billing/v1/customers:invite", body, token=token(), headers={"Idempotency-Key": "py-1"})
    assert first.json["id"] == again.json["id"], (first, again)
    assert again.headers["X-Request-Id"], again.headers


@test
def rest_over_tls():
    context = ssl.create_default_context(cafile=CA_PEM)
    got = call("POST", "/iam/v1/tokens", {"yandexPassportOauthToken": OAUTH_TOKEN},
               base=REST_TLS_URL, context=context)
    assert got.status == 200, got
    account = call("GET", f"/billing/v1/billingAccounts/{RESELLER}", token=got.json["iamToken"],
                   base=REST_TLS_URL, context=context)
    assert account.status == 200 and account.json["id"] == RESELLER, account


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
