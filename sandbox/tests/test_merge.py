"""Customer merge over real HTTP, scenario by scenario against shopify-recorded-behaviour.md §2."""

import time

import pytest

from sandbox.tests.receiver import Receiver

MERGE = """
mutation($one: ID!, $two: ID!, $o: CustomerMergeOverrideFields) {
  customerMerge(customerOneId: $one, customerTwoId: $two, overrideFields: $o) {
    resultingCustomerId job { id done } userErrors { code field message }
  }
}"""
PREVIEW = """
query($one: ID!, $two: ID!, $o: CustomerMergeOverrideFields) {
  customerMergePreview(customerOneId: $one, customerTwoId: $two, overrideFields: $o) {
    resultingCustomerId
    customerMergeErrors { errorFields message }
    blockingFields { note tags }
    defaultFields { firstName lastName displayName note tags
      email { emailAddress } phoneNumber { phoneNumber }
      defaultAddress { id } addresses(first: 10) { nodes { id } } orders(first: 10) { nodes { id } }
      orderCount draftOrderCount giftCardCount discountNodeCount metafieldCount }
    alternateFields { firstName lastName email { emailAddress } phoneNumber { phoneNumber } }
  }
}"""
STATUS = """
query($job: ID!) { customerMergeJobStatus(jobId: $job) {
  jobId status resultingCustomerId customerMergeErrors { errorFields message } } }"""
MERGEABLE = """
query($id: ID!) { customer(id: $id) { mergeable { isMergeable errorFields reason
  mergeInProgress { jobId status } } } }"""
CUSTOMER = """
query($id: ID!) { customer(id: $id) { id firstName lastName note tags state
  defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber }
  defaultAddress { id } addressesV2(first: 10) { nodes { id address1 } }
  orders(first: 10) { nodes { id email } } } }"""
APOSTROPHE = "\u2019"


@pytest.fixture
def fast_merges(sandbox_server, sandbox_store):
    status, _ = sandbox_server.control(
        "POST",
        f"/_sandbox/merges/{sandbox_store.domain}/settings",
        {"delay": 0.2, "startDelay": 0.05},
    )
    assert status == 200
    return sandbox_store


def customer(shop, **values):
    return shop.create_customer(values)["id"]


def merge(shop, one, two, overrides=None):
    body = shop.graphql(MERGE, {"one": one, "two": two, "o": overrides})
    return body["data"]["customerMerge"]


def wait_for_job(shop, job_id, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = shop.graphql(STATUS, {"job": job_id})["data"]["customerMergeJobStatus"]
        if status["status"] in ("COMPLETED", "FAILED"):
            return status
        time.sleep(0.05)
    raise AssertionError("merge job did not finish")


def read(shop, customer_id):
    return shop.graphql(CUSTOMER, {"id": customer_id})["data"]["customer"]


# ---------------------------------------------------------------- which customer is kept (§2.2)
def test_override_keeps_customer_one(fast_merges):
    one = customer(fast_merges, firstName="Merge", lastName="One", email="one@example.com")
    two = customer(fast_merges, firstName="Merge", lastName="Two", email="two@example.com")
    result = merge(fast_merges, one, two, {"customerIdOfEmailToKeep": one})
    assert result["resultingCustomerId"] == one
    assert result["job"]["done"] is False and result["job"]["id"].startswith("gid://shopify/Job/")
    assert wait_for_job(fast_merges, result["job"]["id"])["status"] == "COMPLETED"
    assert read(fast_merges, two) is None
    assert read(fast_merges, one)["defaultEmailAddress"]["emailAddress"] == "one@example.com"


def test_only_customer_with_an_email_is_kept(fast_merges):
    one = customer(fast_merges, firstName="Has", lastName="Email", email="has@example.com")
    two = customer(fast_merges, firstName="No", lastName="Email")
    assert merge(fast_merges, one, two)["resultingCustomerId"] == one


def test_invited_beats_disabled_and_stays_invited(fast_merges):
    one = customer(fast_merges, firstName="A", email="a@example.com", state="INVITED")
    two = customer(fast_merges, firstName="B", email="b@example.com")
    result = merge(fast_merges, one, two)
    assert result["resultingCustomerId"] == one
    wait_for_job(fast_merges, result["job"]["id"])
    assert read(fast_merges, one)["state"] == "INVITED"


def test_enabled_beats_invited(fast_merges):
    one = customer(fast_merges, firstName="A", email="a@example.com", state="INVITED")
    two = customer(fast_merges, firstName="B", email="b@example.com", state="ENABLED")
    assert merge(fast_merges, one, two)["resultingCustomerId"] == two


def test_nothing_distinguishes_them_keeps_customer_two(fast_merges):
    one = customer(fast_merges, firstName="A", lastName="X")
    two = customer(fast_merges, firstName="B", lastName="X")
    assert merge(fast_merges, one, two)["resultingCustomerId"] == two
    three = customer(fast_merges, firstName="C", email="c@example.com", phone="+14155550101")
    four = customer(fast_merges, firstName="D", email="d@example.com", phone="+14155550102")
    assert merge(fast_merges, three, four)["resultingCustomerId"] == four


# ---------------------------------------------------------------- validation (§2.5)
def test_same_id_twice(fast_merges):
    one = customer(fast_merges, firstName="A")
    result = merge(fast_merges, one, one)
    assert result == {
        "resultingCustomerId": None,
        "job": None,
        "userErrors": [
            {
                "code": "INVALID_CUSTOMER_ID",
                "field": None,
                "message": "Customers IDs should not match",
            }
        ],
    }


def test_unknown_ids_are_checked_before_sameness(fast_merges):
    one = customer(fast_merges, firstName="A")
    unknown = "gid://shopify/Customer/999999999999999"
    assert merge(fast_merges, one, unknown)["userErrors"] == [
        {
            "code": "INVALID_CUSTOMER_ID",
            "field": ["customerTwoId"],
            "message": "Customer does not exist with ID 999999999999999",
        }
    ]
    assert merge(fast_merges, unknown, unknown)["userErrors"] == [
        {
            "code": "INVALID_CUSTOMER_ID",
            "field": ["customerOneId"],
            "message": "Customer does not exist with ID 999999999999999",
        }
    ]


def test_preview_of_the_same_customer_is_a_top_level_error(fast_merges):
    one = customer(fast_merges, firstName="A")
    body = fast_merges.graphql(PREVIEW, {"one": one, "two": one})
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == "Customers must be different."
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["path"] == ["customerMergePreview"]


def test_email_override_must_name_a_customer_with_an_email(fast_merges):
    one = customer(fast_merges, firstName="A", email="a@example.com")
    two = customer(fast_merges, firstName="B")
    [error] = merge(fast_merges, one, two, {"customerIdOfEmailToKeep": two})["userErrors"]
    assert error["code"] == "MISSING_OVERRIDE_ATTRIBUTE"
    assert error["field"] == ["overrideFields", "customerIdOfEmailToKeep"]


# ---------------------------------------------------------------- preview (§2.1, §2.3)
def test_clean_preview_fields(fast_merges):
    one = customer(
        fast_merges, firstName="Merge", lastName="One", email="one@example.com",
        phone="+16134505293", note="merge-one-note", tags=["merge-one", "shared"],
    )  # fmt: skip
    two = customer(
        fast_merges, firstName="Merge", lastName="Two", email="two@example.com",
        note="merge-two-note", tags=["merge-two", "shared"],
    )  # fmt: skip
    overrides = {
        "customerIdOfEmailToKeep": two,
        "customerIdOfPhoneNumberToKeep": one,
        "customerIdOfLastNameToKeep": two,
        "note": "merged note",
        "tags": ["merged"],
    }
    body = fast_merges.graphql(PREVIEW, {"one": one, "two": two, "o": overrides})
    assert "errors" not in body, body["errors"]
    preview = body["data"]["customerMergePreview"]
    assert preview["resultingCustomerId"] == two
    assert preview["blockingFields"] is None and preview["customerMergeErrors"] is None
    fields = preview["defaultFields"]
    assert fields["email"] == {"emailAddress": "two@example.com"}
    assert fields["phoneNumber"] == {"phoneNumber": "+16134505293"}
    assert (fields["lastName"], fields["displayName"]) == ("Two", "Merge Two")
    # The preview ignores note/tag overrides: kept note, a space, the other's note.
    assert fields["note"] == "merge-two-note merge-one-note"
    assert fields["tags"] == ["merge-two", "shared", "merge-one"]
    assert preview["alternateFields"]["email"] == {"emailAddress": "one@example.com"}
    assert preview["alternateFields"]["lastName"] == "One"
    assert preview["alternateFields"]["phoneNumber"] is None
    assert fields["orderCount"] == "0" and fields["giftCardCount"] == "0"


# ---------------------------------------------------------------- the job and what moves (§2.4)
def test_job_status_moves_requested_in_progress_completed(sandbox_server, sandbox_store):
    shop = sandbox_store
    sandbox_server.control(
        "POST", f"/_sandbox/merges/{shop.domain}/settings", {"delay": 1.0, "startDelay": 0.4}
    )
    one = customer(shop, firstName="A", email="a@example.com")
    two = customer(shop, firstName="B", email="b@example.com")
    job = merge(shop, one, two)["job"]["id"]
    seen = [shop.graphql(STATUS, {"job": job})["data"]["customerMergeJobStatus"]]
    mergeable = shop.graphql(MERGEABLE, {"id": one})["data"]["customer"]["mergeable"]
    assert mergeable["isMergeable"] is False
    assert mergeable["errorFields"] == ["MERGE_IN_PROGRESS"]
    assert mergeable["mergeInProgress"]["jobId"] == job
    time.sleep(0.6)
    seen.append(shop.graphql(STATUS, {"job": job})["data"]["customerMergeJobStatus"])
    seen.append(wait_for_job(shop, job))
    assert [s["status"] for s in seen] == ["REQUESTED", "IN_PROGRESS", "COMPLETED"]
    assert all(s["customerMergeErrors"] == [] and s["jobId"] == job for s in seen)
    assert all(s["resultingCustomerId"] == two for s in seen)


def test_merge_moves_orders_addresses_tags_note_and_deletes_the_other(fast_merges):
    shop = fast_merges
    one = customer(
        shop, firstName="Merge", lastName="One", email="one@example.com", note="note one",
        tags=["a", "Shared"], addresses=[{"address1": "1 Source Merge St", "countryCodeV2": "CA"}],
    )  # fmt: skip
    two = customer(
        shop, firstName="Merge", lastName="Two", email="two@example.com", note="note two",
        tags=["b", "shared"], addresses=[{"address1": "2 Result Merge Ave", "countryCodeV2": "CA"}],
    )  # fmt: skip
    order = shop.place_order(one)["id"]
    before_one, before_two = read(shop, one), read(shop, two)
    result = merge(shop, one, two, {"customerIdOfEmailToKeep": two})
    assert wait_for_job(shop, result["job"]["id"])["status"] == "COMPLETED"
    assert read(shop, one) is None
    kept = read(shop, two)
    source_address = before_one["addressesV2"]["nodes"][0]["id"]
    kept_address = before_two["addressesV2"]["nodes"][0]["id"]
    assert [a["id"] for a in kept["addressesV2"]["nodes"]] == [source_address, kept_address]
    assert kept["defaultAddress"]["id"] == kept_address
    assert kept["orders"]["nodes"] == [{"id": order, "email": "two@example.com"}]
    assert kept["tags"] == ["a", "b", "shared"]
    assert kept["note"] == "note two note one"


def test_note_and_tag_overrides_apply_to_the_final_customer(fast_merges):
    one = customer(fast_merges, firstName="A", email="a@example.com", note="x", tags=["one"])
    two = customer(fast_merges, firstName="B", email="b@example.com", note="y", tags=["two"])
    overrides = {"note": "merged note", "tags": ["zeta", "Alpha"]}
    wait_for_job(fast_merges, merge(fast_merges, one, two, overrides)["job"]["id"])
    kept = read(fast_merges, two)
    assert (kept["note"], kept["tags"]) == ("merged note", ["Alpha", "zeta"])


def test_customers_merge_webhook(sandbox_server, fast_merges):
    receiver = Receiver()
    try:
        body = fast_merges.graphql(
            "mutation($url: URL!) { webhookSubscriptionCreate(topic: CUSTOMERS_MERGE, "
            "webhookSubscription: {callbackUrl: $url, format: JSON}) { userErrors { message } } }",
            {"url": receiver.url},
        )
        assert body["data"]["webhookSubscriptionCreate"]["userErrors"] == []
        one = customer(fast_merges, firstName="A", email="a@example.com")
        two = customer(fast_merges, firstName="B", email="b@example.com")
        job = merge(fast_merges, one, two)["job"]["id"]
        [delivery] = receiver.wait_for(1)
        assert delivery["headers"]["x-shopify-topic"] == "customers/merge"
        assert delivery["json"] == {
            "admin_graphql_api_customer_kept_id": two,
            "admin_graphql_api_customer_deleted_id": one,
            "admin_graphql_api_job_id": job,
            "status": "completed",
            "errors": [],
        }
    finally:
        receiver.close()


# ---------------------------------------------------------------- hard blockers (§2.5, rule 5)
BLOCKERS = [
    ({"giftCards": 1}, "GIFT_CARDS", "has gift cards and can\u2019t be merged."),
    ({"storeCreditAccounts": 1}, "STORE_CREDIT", "has store credit and can\u2019t be merged."),
    ({"subscriptionContracts": 2}, "SUBSCRIPTIONS", "has subscriptions and can\u2019t be merged."),
    ({"companyContact": True}, "COMPANY_CONTACT", "is a company contact and can\u2019t be merged."),
    ({"paymentMethods": 1}, "CUSTOMER_PAYMENT_METHODS", "has saved payment methods and can\u2019t be merged."),
    ({"multipassIdentifier": "mp-1"}, "MULTIPASS_IDENTIFIER", "has a Multipass identifier and can\u2019t be merged."),
    ({"pendingDataRequest": True}, "PENDING_DATA_REQUEST", "has a pending data request and can\u2019t be merged."),
    ({"redacted": True}, "REDACTED_AT", "has been redacted and can\u2019t be merged."),
]  # fmt: skip


@pytest.mark.parametrize(("blockers", "error_field", "tail"), BLOCKERS)
def test_hard_blocker(fast_merges, blockers, error_field, tail):
    assert APOSTROPHE in tail or error_field == "MERGE_IN_PROGRESS"
    one = customer(fast_merges, firstName="Merge", lastName="Blocker", mergeBlockers=blockers)
    two = customer(fast_merges, firstName="Clean", lastName="Customer")
    message = f"Merge Blocker {tail}"
    assert merge(fast_merges, one, two) == {
        "resultingCustomerId": None,
        "job": None,
        "userErrors": [
            {"code": "INVALID_CUSTOMER", "field": ["customerOneId"], "message": message}
        ],
    }
    preview = fast_merges.graphql(PREVIEW, {"one": one, "two": two})["data"]["customerMergePreview"]
    assert preview["customerMergeErrors"] == [{"errorFields": [error_field], "message": message}]
    mergeable = fast_merges.graphql(MERGEABLE, {"id": one})["data"]["customer"]["mergeable"]
    assert mergeable == {
        "isMergeable": False,
        "errorFields": [error_field],
        "reason": message,
        "mergeInProgress": None,
    }
    clean = fast_merges.graphql(MERGEABLE, {"id": two})["data"]["customer"]["mergeable"]
    assert clean["isMergeable"] is True and clean["errorFields"] == []


def test_merge_in_progress_blocks_a_second_merge(sandbox_server, sandbox_store):
    shop = sandbox_store
    sandbox_server.control("POST", f"/_sandbox/merges/{shop.domain}/settings", {"delay": 0.5})
    one = customer(shop, firstName="Merge", lastName="Busy", email="a@example.com")
    two = customer(shop, firstName="B", email="b@example.com")
    three = customer(shop, firstName="C", email="c@example.com")
    job = merge(shop, one, two)["job"]["id"]
    second = merge(shop, one, three)
    assert second["userErrors"] == [
        {
            "code": "INVALID_CUSTOMER",
            "field": ["customerOneId"],
            "message": "Merge Busy is currently being merged.",
        }
    ]
    wait_for_job(shop, job)


def test_customer_deleted_during_the_job_fails_it(sandbox_server, sandbox_store):
    shop = sandbox_store
    sandbox_server.control("POST", f"/_sandbox/merges/{shop.domain}/settings", {"delay": 0.5})
    one = customer(shop, firstName="Gone", lastName="Soon", email="a@example.com")
    two = customer(shop, firstName="B", email="b@example.com")
    job = merge(shop, one, two)["job"]["id"]
    shop.delete_customer(one)
    status = wait_for_job(shop, job)
    assert status["status"] == "FAILED"
    assert status["customerMergeErrors"] == [
        {
            "errorFields": ["DELETED_AT"],
            "message": "Gone Soon has been deleted and can\u2019t be merged.",
        }
    ]
    assert read(shop, two) is not None


def test_blocker_appearing_during_the_job_fails_it(sandbox_server, sandbox_store):
    shop = sandbox_store
    sandbox_server.control("POST", f"/_sandbox/merges/{shop.domain}/settings", {"delay": 0.5})
    one = customer(shop, firstName="Late", lastName="Card", email="a@example.com")
    two = customer(shop, firstName="B", email="b@example.com")
    job = merge(shop, one, two)["job"]["id"]
    shop.update_customer(one, {"mergeBlockers": {"giftCards": 1}})
    status = wait_for_job(shop, job)
    assert status["status"] == "FAILED"
    assert status["customerMergeErrors"][0]["errorFields"] == ["GIFT_CARDS"]
    assert read(shop, one) is not None and read(shop, two) is not None


# ---------------------------------------------------------------- soft blockers (§2.5, rule 4)
def test_tags_over_250_block_on_both_fields(fast_merges):
    one = customer(fast_merges, firstName="A", tags=[f"one-{n}" for n in range(126)])
    two = customer(fast_merges, firstName="B", tags=[f"two-{n}" for n in range(125)])
    message = "Customers must have 250 tags or less."
    assert merge(fast_merges, one, two)["userErrors"] == [
        {"code": "INVALID_CUSTOMER", "field": ["customerOneId"], "message": message},
        {"code": "INVALID_CUSTOMER", "field": ["customerTwoId"], "message": message},
    ]
    preview = fast_merges.graphql(PREVIEW, {"one": one, "two": two})["data"]["customerMergePreview"]
    assert len(preview["blockingFields"]["tags"]) == 251
    assert preview["blockingFields"]["note"] is None
    assert merge(fast_merges, one, two, {"tags": ["kept"]})["userErrors"] == []


def test_notes_over_5000_block_on_both_fields(fast_merges):
    one = customer(fast_merges, firstName="A", note="x" * 3000)
    two = customer(fast_merges, firstName="B", note="y" * 2501)
    message = "Customer notes must be 5,000 characters or less."
    assert merge(fast_merges, one, two)["userErrors"] == [
        {"code": "INVALID_CUSTOMER", "field": ["customerOneId"], "message": message},
        {"code": "INVALID_CUSTOMER", "field": ["customerTwoId"], "message": message},
    ]
    preview = fast_merges.graphql(PREVIEW, {"one": one, "two": two})["data"]["customerMergePreview"]
    assert len(preview["blockingFields"]["note"]) == 5502
    assert preview["blockingFields"]["tags"] == []
    assert merge(fast_merges, one, two, {"note": "short"})["userErrors"] == []


def test_field_overrides_shape_the_kept_customer(fast_merges):
    shop = fast_merges
    one = customer(
        shop, firstName="Ann", lastName="One", email="one@example.com", phone="+16134505293",
        addresses=[{"address1": "1 Source St", "countryCodeV2": "CA"}],
    )  # fmt: skip
    two = customer(
        shop, firstName="Anna", lastName="Two", email="two@example.com",
        addresses=[{"address1": "2 Kept Ave", "countryCodeV2": "CA"}],
    )  # fmt: skip
    source_address = read(shop, one)["defaultAddress"]["id"]
    overrides = {
        "customerIdOfEmailToKeep": two,
        "customerIdOfFirstNameToKeep": one,
        "customerIdOfPhoneNumberToKeep": one,
        "customerIdOfDefaultAddressToKeep": one,
    }
    result = merge(shop, one, two, overrides)
    assert result["resultingCustomerId"] == two
    wait_for_job(shop, result["job"]["id"])
    kept = read(shop, two)
    assert (kept["firstName"], kept["lastName"]) == ("Ann", "Two")
    assert kept["defaultEmailAddress"]["emailAddress"] == "two@example.com"
    assert kept["defaultPhoneNumber"]["phoneNumber"] == "+16134505293"
    assert kept["defaultAddress"]["id"] == source_address
    # The source's email does not follow it onto the survivor.
    found = shop.graphql(
        'query { customerByIdentifier(identifier: {emailAddress: "one@example.com"}) { id } }'
    )["data"]["customerByIdentifier"]
    assert found is None


def test_failed_merge_webhook(sandbox_server, sandbox_store):
    shop = sandbox_store
    sandbox_server.control("POST", f"/_sandbox/merges/{shop.domain}/settings", {"delay": 0.5})
    receiver = Receiver()
    try:
        body = shop.graphql(
            "mutation($url: URL!) { webhookSubscriptionCreate(topic: CUSTOMERS_MERGE, "
            "webhookSubscription: {callbackUrl: $url}) { userErrors { message } } }",
            {"url": receiver.url},
        )
        assert body["data"]["webhookSubscriptionCreate"]["userErrors"] == []
        one = customer(shop, firstName="Gone", lastName="Soon", email="a@example.com")
        two = customer(shop, firstName="B", email="b@example.com")
        job = merge(shop, one, two)["job"]["id"]
        shop.delete_customer(one)
        [delivery] = receiver.wait_for(1)
        assert delivery["json"] == {
            "admin_graphql_api_customer_kept_id": two,
            "admin_graphql_api_customer_deleted_id": one,
            "admin_graphql_api_job_id": job,
            "status": "failed",
            "errors": [
                {
                    "customer_ids": [int(one.rsplit("/", 1)[1])],
                    "field": "deleted_at",
                    "message": "Gone Soon has been deleted and can\u2019t be merged.",
                }
            ],
        }
    finally:
        receiver.close()
