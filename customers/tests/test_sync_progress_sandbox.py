"""Sync status and progress, end to end against the sandbox: `sync_shop --full` draws a progress
bar with counts, rate and ETA, and while the run goes on the API and the admin show it running
with its progress; afterwards both show it finished with its counts."""

import io
import re

import pytest
from django.core.management import call_command

from customers import sync
from customers.models import SyncRun
from customers.tests.sandbox_compare import shop_for
from sandbox.generator import dumps, generate_customers
from sandbox.seed import load_customers
from tenants.roles import Role
from tenants.tests.factories import membership_factory, user_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(sandbox_store):
    records = generate_customers(
        shop_domain=sandbox_store.domain, count=60, seed=11, orders_per_customer=2.0
    )
    load_customers(sandbox_store.store, (dumps(r) for r in records), source="test")
    return sandbox_store


def test_sync_shop_progress_bar_api_and_admin_follow_a_real_full_sync(
    seeded, client, django_user_model, monkeypatch, capsys
):
    shop = shop_for(seeded, country_code="DE")
    user = user_factory()
    membership_factory(agency=shop.agency, user=user, role=Role.ADMIN)
    staff = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-ops-12345")
    seen_api, seen_admin = [], []
    real_full_sync = sync.shop_full_sync

    def watched_full_sync(**kwargs):
        report = kwargs["on_progress"]

        def on_progress(run):
            report(run)  # the command's bar
            client.force_login(user)
            body = client.get(f"/api/v1/shops/{shop.id}/sync-runs/").json()
            seen_api.append(body["results"][0])
            client.force_login(staff)
            seen_admin.append(client.get("/admin/customers/syncrun/").content.decode())

        return real_full_sync(**{**kwargs, "on_progress": on_progress})

    monkeypatch.setattr(sync, "shop_full_sync", watched_full_sync)
    out = io.StringIO()
    call_command("sync_shop", shop.domain, "--full", "--batch-size", "10", stdout=out)

    run = SyncRun.all_shops.get(shop=shop)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    total = run.progress_total
    assert total > 100 and run.progress_done == total

    # The bar: objects done of the total, the rate, the ETA, and the counts as they grow.
    bar = capsys.readouterr().err  # tqdm draws on stderr
    frames = re.findall(r"(\d+)/(\d+) \[([\d:]+)<([\d:?]+), ([^\]]*)\]", bar)
    assert frames, bar
    assert any(0 < int(done) < int(of) for done, of, *_ in frames), bar  # a frame mid-way
    assert frames[-1][:2] == (str(total), str(total)), bar
    assert any(re.fullmatch(r"\d+:\d\d", eta) for *_x, eta, _rest in frames), bar  # ETA
    assert any(re.match(r"[\d.]+(obj/s|s/obj)", rest) for *_x, rest in frames), bar  # rate
    counts = [dict(re.findall(r"(\w+)=(\w+)", rest)) for *_x, rest in frames]
    assert {"read", "new", "upd", "phase"} <= set(counts[-1]), bar
    assert any(0 < int(c.get("read", 0)) < run.records_read for c in counts), bar  # growing
    # The last frame shows the run's final counts (the apply happens after the last batch).
    assert (counts[-1]["read"], counts[-1]["new"], counts[-1]["upd"]) == (
        str(run.records_read),
        str(run.records_created),
        str(run.records_updated),
    ), bar
    assert f"read {run.records_read}, created {run.records_created}" in out.getvalue()

    # While it ran, the API and the admin showed it running, part done.
    running = [r for r in seen_api if r["status"] == "running"]
    assert running, seen_api
    assert any(0 < r["progress_done"] < r["progress_total"] for r in running), running
    assert all(r["id"] == run.id and r["kind"] == "full" for r in seen_api)
    assert any(
        re.search(r"\d+\.\d% \(\d+/\d+\)", page) and "running" in page for page in seen_admin
    )
    # Afterwards: finished, counts and 100 %.
    client.force_login(user)
    final = client.get(f"/api/v1/shops/{shop.id}/sync-runs/{run.id}/").json()
    assert (final["status"], final["progress_percent"]) == ("succeeded", 100.0)
    assert final["records_created"] == run.records_created > 0
    client.force_login(staff)
    assert f"100.0% ({total}/{total})" in client.get("/admin/customers/syncrun/").content.decode()
