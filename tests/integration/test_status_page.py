"""The status page in a real browser (Debian's headless Chromium, driven by Selenium through
Debian's chromedriver), through the real broker: a postback posted to the receiver shows up in
the page's live feed without a reload, its catalog's row and delay are on the page, the page
logs no console errors, fits a phone's width, and agrees with `topics describe` on offsets.
A screenshot is saved in the test's output directory."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from projector.generations import SqliteGenerations
from tests.support import (
    AUTH,
    Topics,
    projector_settings,
    receiver_settings,
    run_cli,
    running_receiver,
    serving_projector,
)

pytestmark = pytest.mark.broker

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


@contextmanager
def chromium(width: int = 1280, height: int = 1000) -> Iterator[webdriver.Chrome]:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert binary, "chromium is missing: run scripts/ensure-chromium (make test does)"
    assert driver, "chromedriver is missing: run scripts/ensure-chromium (make test does)"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with tempfile.TemporaryDirectory(prefix="catalog-stream-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        browser = webdriver.Chrome(options=options, service=Service(driver))
        try:
            yield browser
        finally:
            browser.quit()


def full_page_screenshot(browser: webdriver.Chrome, path: Path) -> None:
    """The whole page, not only the window (Chrome DevTools protocol)."""
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def _postback(catalog: str, item: str, delay: timedelta) -> dict[str, str]:
    changed = (datetime.now(UTC) - delay).isoformat(timespec="seconds")
    return {
        "CatalogId": catalog, "CatalogItemId": item, "Name": "Enamel mug",
        "CurrentPrice": "12.99", "Currency": "EUR", "StockAvailability": "InStock",
        "DateLastUpdated": changed,
    }  # fmt: skip


def _cells(browser: webdriver.Chrome, selector: str) -> list[list[str]]:
    rows = browser.find_elements(By.CSS_SELECTOR, selector)
    return [[c.text for c in row.find_elements(By.CSS_SELECTOR, "td")] for row in rows]


async def _describe(bootstrap: str, topic: str, group: str) -> tuple[dict[int, int], int]:
    """`topics describe`: each partition's latest offset, and the group's lag."""
    code, out, err = await run_cli(
        "topics", "describe", "--bootstrap-servers", bootstrap, "--topic", topic
    )
    assert code == 0, err
    found = re.findall(r"^\s+(\d+)\s+\d+\s+\[.*?\]\s+\[.*?\]\s+(\d+)\s+(\d+)$", out, re.M)
    lag = re.search(rf"^  {re.escape(group)}: lag (\d+) over", out, re.M)
    assert lag, out
    return {int(p): int(latest) for p, _, latest in found}, int(lag.group(1))


async def test_a_postback_appears_live_on_the_status_page(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    settings = projector_settings(
        kafka_bootstrap, topics, tmp_path / "v.db", receiver_dead_letter_topic=topics.dead_letter
    )
    async with (
        running_receiver(receiver_settings(kafka_bootstrap, topics)) as receiver,
        serving_projector(settings, SqliteGenerations(tmp_path / "v.db")) as url,
        httpx.AsyncClient(base_url=url) as projector,
    ):
        first = await receiver.post(
            "/v1/postbacks/product-changes", json=_postback("c-old", "a", timedelta(minutes=2))
        )
        refused = await receiver.post("/v1/postbacks/product-changes", json={}, headers=AUTH)
        assert first.status_code == 401  # no secret: not even kept
        first = await receiver.post(
            "/v1/postbacks/product-changes",
            json=_postback("c-old", "a", timedelta(minutes=2)),
            headers=AUTH,
        )
        assert first.status_code == 200, first.text
        assert refused.status_code == 422  # kept in the dead-letter topic
        position = first.json()["position"]
        assert (await projector.get("/v1/catalogs", params={"min_position": position})).is_success

        def open_page(browser: webdriver.Chrome) -> None:
            browser.get(url + "/")
            WebDriverWait(browser, 60).until(
                lambda b: b.find_element(By.ID, "feed-state").text == "live"
            )

        with chromium() as browser:
            await asyncio.to_thread(open_page, browser)
            assert browser.find_element(By.ID, "dead-letters").text == "1"
            # Posted while the page is open: it must arrive through the stream, no reload.
            live = await receiver.post(
                "/v1/postbacks/product-changes",
                json=_postback("c-new", "sku-live", timedelta(seconds=90)),
                headers=AUTH,
            )
            assert live.status_code == 200, live.text

            def feed_shows_it(b: webdriver.Chrome) -> Any:
                return b.find_elements(By.CSS_SELECTOR, '#feed li[data-item="sku-live"]')

            shown = await asyncio.to_thread(WebDriverWait(browser, 60).until, feed_shows_it)
            assert shown[0].text == "item added: catalog c-new, item sku-live (\u2013 \u2192 12.99)"
            assert browser.find_element(By.ID, "feed").get_attribute("aria-live") == "polite"

            await asyncio.to_thread(open_page, browser)  # the catalogs table is rendered
            row = _cells(browser, 'tr[data-catalog="c-new"]')
            assert row[0][:3] == ["c-new", "1", "1"]  # catalog, items, in stock
            assert row[0][3].endswith("s ago")  # last postback
            assert row[0][4:] == ["2 min", "1", "ok"]  # p99 of 90 s: within 2 minutes
            titles = [
                t.get_attribute("textContent")
                for t in browser.find_elements(By.CSS_SELECTOR, "svg rect title")
            ]
            assert "catalog c-new p99: 2 min" in titles
            page_lag = int(browser.find_element(By.ID, "lag").text)
            assert page_lag == 0
            page_ends = {int(r[0]): int(r[1].replace(",", "")) for r in _cells(
                browser, "#partitions tbody tr")}  # fmt: skip
            logged = browser.get_log("browser")  # type: ignore[no-untyped-call]
            errors = [e for e in logged if e["level"] == "SEVERE"]
            assert errors == []
            screenshot = tmp_path / "status-page.png"
            full_page_screenshot(browser, screenshot)
            assert screenshot.read_bytes().startswith(b"\x89PNG")
            assert screenshot.stat().st_size > 10_000
            # On a phone the page itself never scrolls sideways (wide tables scroll inside).
            browser.set_window_size(390, 844)
            assert browser.execute_script("return document.documentElement.scrollWidth") <= 390

        ends, lag = await _describe(kafka_bootstrap, topics.product, settings.group_id)
        assert (page_ends, page_lag) == (ends, lag)
        assert sum(ends.values()) == 2  # the two accepted postbacks
        delivery = (await projector.get("/v1/catalogs/c-new/delivery")).json()
        assert delivery["last_hour"]["received"] == 1
        assert delivery["last_hour"]["delay_p99_s"] == 120
