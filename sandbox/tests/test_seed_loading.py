"""The seed JSONL format (docs/sandbox-seed-format.md) loads into a store and reads back via GraphQL."""

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sandbox.seed import SandboxError, load_file
from sandbox.testing import http_request

DOC_EXAMPLE = {
    "id": "gid://shopify/Customer/1000001",
    "firstName": "Anna",
    "lastName": "Müller",
    "defaultEmailAddress": {
        "emailAddress": "anna.mueller@gmail.com",
        "marketingState": "SUBSCRIBED",
        "marketingOptInLevel": "SINGLE_OPT_IN",
        "marketingUpdatedAt": "2024-03-01T10:00:00Z",
    },
    "defaultPhoneNumber": {
        "phoneNumber": "+4915112345678",
        "marketingState": "NOT_SUBSCRIBED",
        "marketingOptInLevel": None,
        "marketingUpdatedAt": None,
    },
    "state": "ENABLED",
    "verifiedEmail": True,
    "taxExempt": False,
    "locale": "de",
    "tags": ["vip", "newsletter"],
    "note": "",
    "createdAt": "2022-05-01T09:00:00Z",
    "updatedAt": "2024-11-01T12:00:00Z",
    "addresses": [
        {
            "id": "gid://shopify/MailingAddress/5000001",
            "firstName": "Anna",
            "lastName": "Müller",
            "address1": "Hauptstraße 5",
            "address2": "",
            "city": "Berlin",
            "provinceCode": "BE",
            "countryCodeV2": "DE",
            "zip": "10115",
            "phone": None,
            "company": None,
        }
    ],
    "defaultAddressId": "gid://shopify/MailingAddress/5000001",
    "lastAbandonedCheckoutAt": "2024-10-30T18:00:00Z",
    "orders": [
        {
            "id": "gid://shopify/Order/7000001",
            "name": "#1001",
            "createdAt": "2023-01-02T10:00:00Z",
            "processedAt": "2023-01-02T10:00:00Z",
            "totalPrice": "59.90",
            "currencyCode": "EUR",
            "displayFinancialStatus": "PAID",
            "cancelledAt": None,
            "lineItems": [
                {
                    "id": "gid://shopify/LineItem/9000001",
                    "quantity": 1,
                    "productId": "gid://shopify/Product/300001",
                    "productTags": ["shoes"],
                }
            ],
        },
        {
            "id": "gid://shopify/Order/7000002",
            "name": "#1002",
            "createdAt": "2023-02-02T10:00:00Z",
            "totalPrice": "20.00",
            "cancelledAt": "2023-02-03T10:00:00Z",
            "lineItems": [
                {
                    "id": "gid://shopify/LineItem/9000002",
                    "quantity": 1,
                    "productId": "gid://shopify/Product/300002",
                    "productTags": [],
                }
            ],
        },
    ],
    "mergeBlockers": {
        "giftCards": 0,
        "storeCreditAccounts": 0,
        "subscriptionContracts": 2,
        "companyContact": False,
        "paymentMethods": 0,
        "multipassIdentifier": None,
        "pendingDataRequest": False,
        "redacted": False,
    },
}

READ = """query($id: ID!) { customer(id: $id) {
  id legacyResourceId firstName lastName email state tags note locale createdAt updatedAt verifiedEmail
  numberOfOrders amountSpent { amount currencyCode }
  defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }
  defaultPhoneNumber { phoneNumber marketingState }
  defaultAddress { id address1 city provinceCode countryCodeV2 zip }
  lastOrder { id name }
  mergeable { isMergeable errorFields }
  orders(first: 5, sortKey: CREATED_AT) { nodes { id name cancelledAt totalPriceSet { shopMoney { amount currencyCode } }
    lineItems(first: 5) { nodes { id quantity product { id tags } } } } }
} }"""


def test_doc_example_loads_and_reads_back(sandbox_store, tmp_path):
    second = {"firstName": "Bo", "email": "bo@example.com"}
    seed = tmp_path / "customers.jsonl"
    seed.write_text(json.dumps(DOC_EXAMPLE) + "\n\n" + json.dumps(second) + "\n", encoding="utf-8")
    assert load_file(sandbox_store.store, seed) == 2
    customer = sandbox_store.graphql(READ, {"id": DOC_EXAMPLE["id"]})["data"]["customer"]
    assert customer["legacyResourceId"] == "1000001"
    assert customer["createdAt"] == "2022-05-01T09:00:00Z"
    assert customer["updatedAt"] == "2024-11-01T12:00:00Z"  # the seed's own timestamps are kept
    assert customer["tags"] == ["newsletter", "vip"]
    assert customer["note"] == ""
    assert customer["locale"] == "de"
    assert customer["defaultEmailAddress"] == DOC_EXAMPLE["defaultEmailAddress"]
    assert customer["defaultPhoneNumber"] == {
        "phoneNumber": "+4915112345678",
        "marketingState": "NOT_SUBSCRIBED",
    }
    assert customer["defaultAddress"] == {
        "id": "gid://shopify/MailingAddress/5000001?model_name=CustomerAddress",
        "address1": "Hauptstraße 5",
        "city": "Berlin",
        "provinceCode": "BE",
        "countryCodeV2": "DE",
        "zip": "10115",
    }
    # Derived from orders, the cancelled one excluded (as Shopify does).
    assert customer["numberOfOrders"] == "1"
    assert customer["amountSpent"] == {"amount": "59.9", "currencyCode": "USD"}
    assert customer["lastOrder"] == {"id": "gid://shopify/Order/7000001", "name": "#1001"}
    assert customer["mergeable"] == {"isMergeable": False, "errorFields": ["SUBSCRIPTIONS"]}
    first, cancelled = customer["orders"]["nodes"]
    assert first["totalPriceSet"]["shopMoney"] == {"amount": "59.9", "currencyCode": "EUR"}
    assert first["lineItems"]["nodes"] == [
        {
            "id": "gid://shopify/LineItem/9000001",
            "quantity": 1,
            "product": {"id": "gid://shopify/Product/300001", "tags": ["shoes"]},
        }
    ]
    assert cancelled["cancelledAt"] == "2023-02-03T10:00:00Z"
    # The line without an id got a fresh id above every seeded one.
    body = sandbox_store.graphql("{ customers(first: 5) { nodes { id email } } }")
    ids = [int(node["id"].rsplit("/", 1)[1]) for node in body["data"]["customers"]["nodes"]]
    assert ids[0] == 1000001 and ids[1] > 9000002
    # Seeded orders continue the store's order numbering.
    order = sandbox_store.place_order(DOC_EXAMPLE["id"])
    assert order["name"] == "#1003"


def test_a_bad_line_is_named(sandbox_store, tmp_path):
    seed = tmp_path / "bad.jsonl"
    seed.write_text(
        json.dumps({"email": "ok@example.com"})
        + "\n"
        + json.dumps({"email": "ok2@example.com", "state": "SLEEPING"})
        + "\n"
    )
    with pytest.raises(SandboxError, match=r"bad.jsonl line 2: state must be one of"):
        load_file(sandbox_store.store, seed)
    seed.write_text("{not json\n")
    with pytest.raises(SandboxError, match=r"line 1: not valid JSON"):
        load_file(sandbox_store.store, seed)


def test_load_through_the_control_api(sandbox_store):
    lines = "\n".join(
        json.dumps({"email": f"l{n}@example.com", "tags": ["loaded"]}) for n in range(4)
    )
    status, _, raw = http_request(
        "POST",
        f"{sandbox_store.harness.base_url}/_sandbox/stores/{sandbox_store.domain}/customers/load",
        lines,
    )
    assert status == 200 and json.loads(raw) == {"loaded": 4}
    body = sandbox_store.graphql(
        '{ customers(first: 10, query: "tag:loaded") { nodes { email } } }'
    )
    assert [n["email"] for n in body["data"]["customers"]["nodes"]] == [
        f"l{n}@example.com" for n in range(4)
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningCommand:
    """`manage.py sandbox ...` in a subprocess; its stdout read on a thread."""

    def __init__(self, *arguments: str) -> None:
        self.port = _free_port()
        root = Path(__file__).resolve().parents[2]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "sandbox",
                "--port",
                str(self.port),
                "--issue-tokens",
                *arguments,
            ],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(
            target=lambda: [self.lines.put(line) for line in self.process.stdout], daemon=True
        ).start()
        self.output = ""

    def tokens(self, count: int, timeout: float = 120) -> dict[str, str]:
        """Wait until the command printed `count` store URLs with their tokens."""
        found: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(found) < count:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output += line
            match = re.search(r"/store/(\S+)\s+token (\S+)", line)
            if match:
                found[match.group(1)] = match.group(2)
        assert len(found) == count, self.output
        return found

    def graphql(self, domain: str, token: str, query: str) -> dict:
        url = f"http://127.0.0.1:{self.port}/store/{domain}/admin/api/2025-01/graphql.json"
        status, _, raw = http_request(
            "POST", url, {"query": query}, {"X-Shopify-Access-Token": token}
        )
        assert status == 200, raw
        return json.loads(raw)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.mark.slow
def test_manage_py_sandbox_serves_a_seed_file(tmp_path):
    seed = tmp_path / "customers.jsonl"
    seed.write_text(json.dumps(DOC_EXAMPLE) + "\n", encoding="utf-8")
    command = RunningCommand("--shops", "2", "--seed-file", str(seed))
    try:
        tokens = command.tokens(2)
        assert set(tokens) == {"acme-1.myshopify.com", "acme-2.myshopify.com"}
        assert (
            "acme-1.myshopify.com: 1 customers, 2 orders (EUR, Europe/Berlin, CLASSIC)"
            in command.output
        )
        first = command.graphql(
            "acme-1.myshopify.com",
            tokens["acme-1.myshopify.com"],
            "{ customersCount { count } shop { currencyCode } }",
        )
        assert first["data"] == {"customersCount": {"count": 1}, "shop": {"currencyCode": "EUR"}}
        second = command.graphql(
            "acme-2.myshopify.com",
            tokens["acme-2.myshopify.com"],
            "{ customersCount { count } shop { currencyCode customerAccountsV2 { customerAccountsVersion } } }",
        )
        assert second["data"] == {
            "customersCount": {"count": 0},
            "shop": {
                "currencyCode": "USD",
                "customerAccountsV2": {"customerAccountsVersion": "NEW_CUSTOMER_ACCOUNTS"},
            },
        }
    finally:
        command.stop()


@pytest.mark.slow
def test_manage_py_sandbox_generates_stores_and_ground_truth(tmp_path):
    truth = tmp_path / "truth.json"
    command = RunningCommand(
        "--shops", "2", "--customers", "60", "--duplicate-rate", "0.1", "--seed", "7", "--shop-prefix", "gen",
        "--truth-out", str(truth),
    )  # fmt: skip
    try:
        tokens = command.tokens(2)
        for number, domain in enumerate(("gen-1.myshopify.com", "gen-2.myshopify.com"), start=1):
            body = command.graphql(
                domain,
                tokens[domain],
                "{ customersCount { count } customers(first: 3) { nodes { id email } } }",
            )
            assert body["data"]["customersCount"]["count"] == 60
            path = truth if number == 1 else tmp_path / "truth-2.json"
            written = json.loads(path.read_text())
            assert written["shop"] == domain
            clustered = [customer for cluster in written["clusters"] for customer in cluster]
            assert clustered, "a 10% duplicate rate over 60 customers makes at least one cluster"
            # Every id in the truth is a customer the store serves.
            probe = clustered[0]
            read = command.graphql(
                domain,
                tokens[domain],
                f'{{ customer(id: "gid://shopify/Customer/{probe}") {{ id }} }}',
            )
            assert read["data"]["customer"] == {"id": f"gid://shopify/Customer/{probe}"}
    finally:
        command.stop()


def test_manage_py_sandbox_refuses_bad_arguments(tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not exist"):
        call_command("sandbox", "--seed-file", str(tmp_path / "missing.jsonl"))
    with pytest.raises(CommandError, match="--shops"):
        call_command("sandbox", "--shops", "0")
    with pytest.raises(CommandError, match="--truth-out needs --customers"):
        call_command("sandbox", "--truth-out", str(tmp_path / "t.json"))
