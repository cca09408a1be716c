"""The inspector in a real browser: Debian's chromium driven by Playwright, against the real receiver
(``inventory-receiver serve``, HTTPS), every test on a SQLite store and again on a PostgreSQL schema of its own.

Nothing is downloaded: the system browser is launched by its path. Without it the tests skip on a
developer's machine (``apt-get install chromium``) and fail in CI. Each page is saved as a screenshot
(1366 px wide, a laptop) under the tests' temporary folder, whose path the first test prints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.serving import RunningReceiver, make_tls, running_receiver
from inventory_push_kit import fixtures
from inventory_push_kit.receiver import storage
from inventory_push_kit.receiver.channels import erp
from tests.conftest import postgres_schema

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "inspector-test-token"
STOCK_HEADERS = {"X-Stock-User": "acme-mro", "X-Stock-Key": "s3cret-stock-key"}
STAGING_HEADERS = {"X-Stock-User": "staging", "X-Stock-Key": "staging-stock-key"}
VIEWPORT = {"width": 1366, "height": 768}


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: `apt-get install chromium` (the browser tests launch the system browser)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def stock_id(n: int) -> str:
    return f"6f95cd10-c8bb-4381-8b68-{n:012d}"


def stock_body(rows: list[dict[str, Any]]) -> bytes:
    names = list(dict.fromkeys(name for row in rows for name in row))
    return json.dumps({"data": {name: [row.get(name) for row in rows] for name in names}}).encode()


def stock_row(n: int, **fields: Any) -> dict[str, Any]:
    return {"connectorStockId": stock_id(n), "pn": "2117-6130-101", "description": "Fuel pump", "condition": "OH",
            "quantity": 1, "unit": "EA", "location": "FRA", "leadTime": 3, "tagDate": "2025-06-01",
            "timeStampEntry": "2026-01-01 10:00:00", "dbAction": "ADD"} | fields


class Seeded:
    """The receiver and the deliveries the tests look at."""

    def __init__(self, receiver: RunningReceiver, staging: RunningReceiver) -> None:
        self.receiver, self.staging = receiver, staging
        self.ids: dict[str, int] = {}

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.post(self.receiver.url + path, data=body, timeout=30, verify=str(self.receiver.ca),
                             headers={"Content-Type": "application/json", **(headers or {})})

    def api(self, path: str, receiver: RunningReceiver | None = None) -> requests.Response:
        receiver = receiver or self.receiver
        return requests.get(receiver.url + "/api" + path, timeout=30, verify=str(receiver.ca),
                            headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The inspected receiver's store: a SQLite file, or a PostgreSQL schema of its own."""
    _require_chromium()
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('inspector-sqlite') / 'receiver.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url"), "inspector") as url:
        yield url


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[Seeded]:
    workdir = tmp_path_factory.mktemp("inspector-receiver")
    # A second receiver (say, staging) with credentials of its own, the one resend target configured.
    staging_dir = workdir / "staging"
    staging_tls = make_tls(staging_dir / "tls")
    staging_config = {"storage": {"url": f"sqlite:///{staging_dir / 'staging.db'}"}, "api": {"token": TOKEN},
                      "stock": {"enabled": True, "credential_headers": STAGING_HEADERS}}
    store = storage.Store(store_url)
    store.create_schema()
    with running_receiver(staging_config, staging_dir, tls=staging_tls) as staging:
        config = {"storage": {"url": store_url}, "api": {"token": TOKEN},
                  "inspector": {"resend_targets": {"staging": {"url": staging.url + "/stock-push",
                                                               "headers": STAGING_HEADERS,
                                                               "ca_bundle": str(staging_tls.ca)}}},
                  "stock": {"enabled": True, "credential_headers": STOCK_HEADERS}, "s360": {"enabled": True},
                  "servicemobility": {"enabled": True}, "erp": {"enabled": True}}
        with running_receiver(config, workdir, tls=make_tls(workdir / "tls")) as receiver:
            yield _seed(Seeded(receiver, staging), store)


def _seed(seeded: Seeded, store: storage.Store) -> Seeded:
    """The deliveries the tests look at, sent (or, for an outage, recorded) before the first test."""
    accepted = seeded.post("/stock-push", stock_body([stock_row(n) for n in range(4)]), STOCK_HEADERS)
    assert accepted.status_code == 200, accepted.text
    seeded.ids["stock accepted"] = accepted.json()["delivery"]
    bad_rows = [stock_row(10 + n) for n in range(6)]
    bad_rows[2]["leadTime"] = "three days"
    bad_rows[4]["tagDate"] = "2025-13-40"
    rejected = seeded.post("/stock-push", stock_body(bad_rows), STOCK_HEADERS)
    assert rejected.status_code == 422, rejected.text
    seeded.ids["stock rejected"] = seeded.api("/deliveries?outcome=rejected").json()["items"][0]["id"]
    batch = fixtures.load("s360", "minimal-products")
    assert seeded.post("/s360/inventory", json.dumps(batch).encode()).status_code == 200
    batch[0]["state"] = "SUSPENDED"
    batch[0]["externalName"]["translations"][1]["value"] = "The Shape of Things to Come"
    changed = seeded.post("/s360/inventory", json.dumps(batch).encode())
    assert changed.status_code == 200 and changed.json()["products"]["changed"] == 1, changed.text
    seeded.ids["s360 changed"] = changed.json()["delivery"]
    seeded.ids["s360 product"] = batch[0]["id"]
    # Two pushes refused while the store was down (500): their bodies are kept, and valid.
    with store.write() as conn:
        for name, n in (("outage", 20), ("outage untouched", 30)):
            seeded.ids[name] = storage.record_delivery(
                conn, channel="stock", outcome="rejected", status=500, keep_body=True,
                reason="storage unavailable: the store was down", body=stock_body([stock_row(n)]),
                content_type="application/json", remote_addr="192.0.2.7")
    usage = seeded.post("/servicemobility/InventoryUsage", fixtures.raw("servicemobility", "document-envelope"))
    assert usage.status_code == 200, usage.text
    seeded.ids["usage"] = seeded.api("/deliveries?channel=servicemobility").json()["items"][0]["id"]
    # ERP messages come over AMQP: handed to the channel as the consumer hands them.
    customer = json.loads(fixtures.raw("erp", "customer-passive"))
    first = erp.receive_message(store, erp.Notification(
        erp.CUSTOMER, erp.CUSTOMER.queue, json.dumps(customer | {"status": "Active"}).encode()))
    changed = erp.receive_message(store, erp.Notification(erp.CUSTOMER, erp.CUSTOMER.queue,
                                                          json.dumps(customer).encode()))
    bag = erp.receive_message(store, erp.Notification(
        erp.SUBSCRIPTION, erp.SUBSCRIPTION.queue, json.dumps(json.loads(fixtures.raw("erp", "value-does-not-parse"))
                                                             | {"engagedParty": [{"id": customer["id"]}]}).encode()))
    seeded.ids |= {"erp customer": first.delivery, "erp customer changed": changed.delivery,
                   "erp subscription": bag.delivery}
    seeded.ids["erp customer id"] = int(customer["id"])
    store.dispose()
    return seeded


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Path:
    folder = tmp_path_factory.mktemp(f"inspector-screenshots-{store_url.split(':')[0].split('+')[0]}")
    print(f"screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def browser(seeded: Seeded) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def tab(browser: Any) -> Iterator[Any]:
    """One tab, shared by the tests in order."""
    context = browser.new_context(ignore_https_errors=True, viewport=VIEWPORT)
    yield context.new_page()
    context.close()


@pytest.fixture
def page(tab: Any, seeded: Seeded) -> Any:
    """The shared tab, logged in (again, after a test that logged out): each test runs alone as well."""
    tab.goto(inspect_url(seeded))
    if "/inspect/login" in tab.url:
        log_in(tab)
    return tab


def log_in(tab: Any) -> None:
    tab.fill("input[name=token]", TOKEN)
    tab.click("button[type=submit]")
    assert tab.url.rstrip("/").endswith("/inspect"), tab.url


def inspect_url(seeded: Seeded, path: str = "/") -> str:
    return f"{seeded.receiver.url}/inspect{path}"


def shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    assert not overflow, f"{name}: the page is wider than a 1366 px window"
    spilled = page.evaluate("""[...document.querySelectorAll('main td, main th')]
        .filter(cell => cell.scrollWidth > cell.clientWidth + 1).map(cell => cell.innerText.slice(0, 40))""")
    assert not spilled, f"{name}: table cells whose text runs out of them: {spilled}"


def test_login_with_the_token_and_nothing_without_it(browser: Any, seeded: Seeded, screenshots: Path) -> None:
    context = browser.new_context(ignore_https_errors=True, viewport=VIEWPORT)
    page = context.new_page()
    page.goto(inspect_url(seeded))
    assert "/inspect/login" in page.url
    page.fill("input[name=token]", "not-the-token")
    page.click("button[type=submit]")
    assert "not the token" in page.inner_text("main")
    shot(page, screenshots, "01-login-refused")
    log_in(page)
    assert page.locator("#delivery-rows tr").count() == 10  # stock 4, S-360 2, ServiceMobility 1, ERP 3
    cookie = next(c for c in page.context.cookies() if c["name"] == "receiver_inspector")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    shot(page, screenshots, "02-deliveries")
    context.close()


def test_filter_by_outcome_and_channel(page: Any, seeded: Seeded, screenshots: Path) -> None:
    page.goto(inspect_url(seeded))
    page.select_option("select[name=outcome]", "rejected")
    page.select_option("select[name=channel]", "stock")
    page.click(".filters button[type=submit]")
    rows = page.locator("#delivery-rows tr")
    assert rows.count() == 3
    assert {rows.nth(i).get_attribute("class") for i in range(3)} == {"row-rejected"}
    page.fill("input[name=q]", "problem")
    page.click(".filters button[type=submit]")
    assert [int(x) for x in page.locator("#delivery-rows tr").evaluate_all("rs => rs.map(r => r.dataset.id)")] \
        == [seeded.ids["stock rejected"]]
    shot(page, screenshots, "03-deliveries-filtered")


def test_a_new_delivery_appears_in_the_open_list(page: Any, seeded: Seeded) -> None:
    page.goto(inspect_url(seeded, "/?channel=stock"))
    before = page.locator("#delivery-rows tr").count()
    posted = seeded.post("/stock-push", stock_body([stock_row(40)]), STOCK_HEADERS).json()["delivery"]
    page.wait_for_selector(f"#delivery-rows tr[data-id='{posted}']", timeout=20_000)
    assert page.locator("#delivery-rows tr").count() == before + 1
    assert page.locator("#delivery-rows tr").first.get_attribute("data-id") == str(posted)


def test_a_rejected_stock_push_shows_its_problems_at_their_rows(page: Any, seeded: Seeded, screenshots: Path) -> None:
    page.goto(inspect_url(seeded, f"/deliveries/{seeded.ids['stock rejected']}"))
    problems = page.inner_text("ol.problems")
    assert "data.leadTime.2" in problems and "row 2" in problems
    assert "data.tagDate.4" in problems and "row 4" in problems
    marked = page.locator("table.lines tr.bad")
    assert marked.count() == 2
    assert marked.nth(0).locator("td.where").inner_text() == "row 2"
    assert '"three days"' in marked.nth(0).inner_text() and "Not an integer" in marked.nth(0).inner_text()
    assert marked.nth(1).locator("td.where").inner_text() == "row 4"
    headers = page.inner_text("div.headers")
    assert "X-Stock-Key" in headers and STOCK_HEADERS["X-Stock-Key"] not in headers and "masked" in headers
    shot(page, screenshots, "04-rejected-stock-push")
    page.click("ol.problems li:nth-child(2) a")  # a problem's link opens the page of the body showing it
    assert page.locator("table.lines tr.bad td.where").nth(1).inner_text() == "row 4"


def test_an_s360_delivery_shows_the_field_diff(page: Any, seeded: Seeded, screenshots: Path) -> None:
    page.goto(inspect_url(seeded, f"/deliveries/{seeded.ids['s360 changed']}"))
    diff = page.locator("table.diff").first
    text = diff.inner_text()
    assert "state" in text and "RUNNING" in text and "SUSPENDED" in text
    assert "externalName.translations.1.value" in text and "The Shape of Things to Come" in text
    assert page.locator("table.diff td.before", has_text="RUNNING").count() == 1
    assert page.locator("table.diff td.after", has_text="SUSPENDED").count() == 1
    shot(page, screenshots, "05-s360-diff")
    page.click(f"a:text('{seeded.ids['s360 product']}')")
    assert page.locator("table.history .badge").all_inner_texts() == ["changed", "new"]
    shot(page, screenshots, "06-s360-product-history")


def held(seeded: Seeded, n: int) -> int:
    return seeded.api(f"/stock/{stock_id(n)}").status_code


def test_a_post_without_the_csrf_token_or_the_session_changes_nothing(browser: Any, page: Any,
                                                                      seeded: Seeded) -> None:
    target = inspect_url(seeded, f"/deliveries/{seeded.ids['outage untouched']}/reapply")
    # Logged in, but no CSRF token: refused.
    answer = page.request.post(target, form={"action": "reapply"})
    assert answer.status == 400 and "Nothing was changed" in answer.text()
    # A CSRF token of another session, without the logged-in session's cookie: refused.
    stranger = browser.new_context(ignore_https_errors=True)
    login = stranger.new_page()
    login.goto(inspect_url(seeded, "/login"))
    token = login.get_attribute("input[name=csrf_token]", "value")
    answer = stranger.request.post(target, form={"csrf_token": token, "action": "reapply"},
                                   headers={"Referer": inspect_url(seeded, "/login")})
    assert answer.status == 401
    stranger.close()
    # No cookie, no token at all (another origin's form, a script): refused.
    assert requests.post(target, data={"action": "reapply"}, timeout=30,
                         verify=str(seeded.receiver.ca)).status_code == 400
    assert held(seeded, 30) == 404
    deliveries = seeded.api("/deliveries?limit=500").json()["items"]
    assert not [d for d in deliveries if (d["reason"] or "").startswith("re-applied")]


def test_reapply_a_delivery_after_the_fix(page: Any, seeded: Seeded, screenshots: Path) -> None:
    assert held(seeded, 20) == 404
    page.goto(inspect_url(seeded, f"/deliveries/{seeded.ids['outage']}"))
    shot(page, screenshots, "07-outage-delivery")
    page.click("form.action button[value=reapply]")
    assert "Re-applied as delivery" in page.inner_text(".flash-ok")
    assert "accepted" in page.inner_text("h1")
    shot(page, screenshots, "08-reapplied")
    assert held(seeded, 20) == 200
    assert held(seeded, 30) == 404
    page.goto(inspect_url(seeded, f"/deliveries/{seeded.ids['stock rejected']}"))
    page.click("form.action button[value=reapply]")  # still invalid: refused again, nothing applied
    assert "Refused again, 422" in page.inner_text(".flash-error")
    assert held(seeded, 12) == 404


def test_resend_a_delivery_to_a_configured_receiver(page: Any, seeded: Seeded, screenshots: Path) -> None:
    delivery = seeded.ids["outage untouched"]
    assert seeded.api(f"/stock/{stock_id(30)}", seeded.staging).status_code == 404
    page.goto(inspect_url(seeded, f"/deliveries/{delivery}"))
    assert page.locator("form.action select[name=target] option").all_inner_texts() == ["staging"]
    page.click("form.action button[value=resend]")
    assert "Sent to 'staging'" in page.inner_text(".flash-ok") and "answered 200" in page.inner_text(".flash-ok")
    # It arrived at the other receiver, with that receiver's credentials, and was applied there.
    assert seeded.api(f"/stock/{stock_id(30)}", seeded.staging).status_code == 200
    arrived = seeded.api("/deliveries?channel=stock", seeded.staging).json()["items"]
    assert [d["outcome"] for d in arrived] == ["accepted"]
    assert held(seeded, 30) == 404  # and nothing changed here
    attempts = page.locator("section.resends tbody tr")
    assert attempts.count() == 1
    assert seeded.staging.url in attempts.first.inner_text() and "200" in attempts.first.inner_text()
    shot(page, screenshots, "09-resent")
    # Only a configured target: a forged form naming a URL sends nothing, and is not recorded.
    token = page.get_attribute("form.action input[name=csrf_token]", "value")
    answer = page.request.post(inspect_url(seeded, f"/deliveries/{delivery}/resend"),
                               form={"csrf_token": token, "target": "https://192.0.2.1/"},
                               headers={"Referer": inspect_url(seeded, f"/deliveries/{delivery}")})
    assert answer.ok and "nothing was sent" in answer.text()
    page.reload()
    assert page.locator("section.resends tbody tr").count() == 1


def usage_items() -> list[dict[str, Any]]:
    """The usage items of the ServiceMobility document's example, one per (row, location, item)."""
    envelope = json.loads(fixtures.raw("servicemobility", "document-envelope"))
    return [item for row in envelope["data"]["rows"] for location in row["InventoryUsage"]["StorageLocations"]
            for item in location["Items"]]


def test_a_servicemobility_delivery_shows_its_usage_rows_and_sums(page: Any, seeded: Seeded,
                                                                  screenshots: Path) -> None:
    page.goto(inspect_url(seeded, f"/deliveries/{seeded.ids['usage']}"))
    assert "InventoryUsage" in page.inner_text("section.changes")
    items = usage_items()
    summary, rows = page.locator("section.changes table").nth(0), page.locator("section.changes table").nth(1)
    assert rows.locator("tbody tr").count() == len(items)
    products = sorted({item["ProdNum"] for item in items})
    assert summary.locator("tbody tr td:first-child").all_inner_texts() == products
    first = products[0]
    sums = summary.locator("tbody tr").first.locator("td").all_inner_texts()
    mine = [item for item in items if item["ProdNum"] == first]
    assert float(sums[4]) == sum(item["InventoryQty"] for item in mine) and int(sums[5]) == len(mine)
    shot(page, screenshots, "12-servicemobility-delivery")


def test_an_erp_delivery_shows_the_parsed_bag_and_the_diff(page: Any, seeded: Seeded, screenshots: Path) -> None:
    page.goto(inspect_url(seeded, f"/deliveries/{seeded.ids['erp customer changed']}"))
    changes = page.inner_text("section.changes")
    assert "changed since delivery" in changes and str(seeded.ids["erp customer"]) in changes
    assert page.locator("table.diff td.before", has_text="Active").count() == 1
    assert page.locator("table.diff td.after", has_text="Passive").count() == 1
    shot(page, screenshots, "13-erp-customer-changed")
    page.goto(inspect_url(seeded, f"/deliveries/{seeded.ids['erp subscription']}"))
    assert "new" in page.inner_text("section.changes .badge")
    bag = page.locator("section.changes table tbody tr")
    assert bag.count() == 13
    bad = page.locator("section.changes table tbody tr.bad")
    assert {bad.nth(i).locator("td").first.inner_text() for i in range(bad.count())} == {
        "MONTAGE_DATE", "TOTAL_PAST_DUE_INSTALMENT", "INSTALMENT_COUNT", "E_INVOICE"}
    good = page.locator("section.changes table tbody tr", has_text="MONTAGECITY").locator("td").all_inner_texts()
    assert good[:2] == ["MONTAGECITY", "String"] and good[4] == "BURSA"
    shot(page, screenshots, "14-erp-subscription-bag")


def test_current_state_pages(page: Any, seeded: Seeded, screenshots: Path) -> None:
    page.goto(inspect_url(seeded, "/stock"))
    page.fill("input[name=q]", "2117-6130-101")
    page.click(".filters button[type=submit]")
    # The four seeded, and, after the tests before, the late one and the re-applied one.
    held = seeded.api("/stock?pn=2117-6130-101&include_deleted=1").json()["items"]
    assert len(held) >= 4 and page.locator("table.state tbody tr").count() == len(held)
    shot(page, screenshots, "10-stock")
    page.goto(inspect_url(seeded, "/s360"))
    assert page.locator("table.state tbody tr").count() == len(fixtures.load("s360", "minimal-products"))
    shot(page, screenshots, "11-s360-products")
    page.goto(inspect_url(seeded, "/servicemobility"))
    items = usage_items()
    summary = page.locator("table.state").first
    assert summary.locator("tbody tr td:first-child").all_inner_texts() == sorted({i["ProdNum"] for i in items})
    shot(page, screenshots, "15-servicemobility")
    summary.locator("tbody tr a").first.click()
    product = sorted({i["ProdNum"] for i in items})[0]
    usage_rows = page.locator("table.state").nth(1).locator("tbody tr")
    assert usage_rows.count() == len([i for i in items if i["ProdNum"] == product])
    assert usage_rows.first.locator("td").last.inner_text() == "yes"
    shot(page, screenshots, "16-servicemobility-product")
    page.goto(inspect_url(seeded, "/erp"))
    customers = page.locator("table.state tbody tr")
    assert customers.count() == 1 and "Passive" in customers.first.inner_text()
    shot(page, screenshots, "17-erp-customers")
    customers.first.locator("a").first.click()
    assert '"Passive"' in page.inner_text("pre.raw") and '"Türkiye"' in page.inner_text("pre.raw")
    assert page.locator("div.subscription").count() == 1
    assert page.locator("div.subscription tbody tr.bad").count() == 4
    shot(page, screenshots, "18-erp-customer")


def test_logout_ends_the_session(page: Any, seeded: Seeded) -> None:
    page.goto(inspect_url(seeded))
    page.click("form.logout button")
    assert "/inspect/login" in page.url
    page.goto(inspect_url(seeded))
    assert "/inspect/login" in page.url
