"""The console in a real headless Chromium, on a store filled by real Kafka streams.

Each test loads pages the way a person would (links, forms), checks what the demo story
must show, that the charts drew, that nothing from a webhook ran as markup, that the
browser logged no error, and leaves a screenshot under ``test-artifacts/``.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests.integration.console.browser import (
    click_to_next_page,
    console_errors,
    needs_chromium,
    screenshot,
)
from tests.integration.console.conftest import SCRIPT_KEY, SCRIPT_NAME

pytestmark = [pytest.mark.integration, needs_chromium]

DEMO_TEST = "test_checkout_total"


def _open(driver: WebDriver, url: str) -> None:
    driver.get(url)
    assert driver.find_element(By.TAG_NAME, "main").text


def _go(driver: WebDriver, element: WebElement) -> None:
    """Click a link or button and wait for the page it leads to."""
    click_to_next_page(driver, element)


def _texts(driver: WebDriver, css: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def _drew(driver: WebDriver, figure: str, shapes: str) -> None:
    """The chart in ``figure`` is an SVG with a size and at least one of ``shapes``."""
    svg = driver.find_element(By.CSS_SELECTOR, f"{figure} svg")
    assert svg.size["width"] > 100
    assert svg.size["height"] > 50
    assert driver.find_elements(By.CSS_SELECTOR, f"{figure} svg {shapes}"), figure


def _no_script_ran(driver: WebDriver) -> None:
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text


def test_flaky_tests_page_lists_the_demo_test_filters_sorts_and_escapes(
    console_url: str, browser: WebDriver
) -> None:
    _open(browser, f"{console_url}/flaky")
    names = _texts(browser, "#flaky-table tbody td.name a")
    assert DEMO_TEST in names
    assert SCRIPT_NAME in names  # shown as text…
    _no_script_ran(browser)  # …and never run
    assert browser.execute_script("return document.scripts.length") == 0  # no JS at all
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#flaky-table tbody tr")
        if DEMO_TEST in r.text
    )
    assert "demo-suite" in row.text
    assert row.find_elements(By.CSS_SELECTOR, "a.ext[href^='https://buildkite.com/']")
    screenshot(browser, "flaky")

    Select(browser.find_element(By.ID, "suite")).select_by_visible_text("demo-suite")
    _go(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
    assert "suite=demo-suite" in browser.current_url
    assert _texts(browser, "#flaky-table tbody td.name a") == [DEMO_TEST]

    _go(browser, browser.find_element(By.LINK_TEXT, "clear"))
    box = browser.find_element(By.ID, "q")
    box.send_keys("no such test anywhere")
    _go(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
    assert browser.find_element(By.ID, "no-flaky").is_displayed()

    _open(browser, f"{console_url}/flaky")
    _go(browser, browser.find_element(By.CSS_SELECTOR, "#flaky-table thead th a"))  # Test, ▼
    first = _texts(browser, "#flaky-table tbody td.name a")
    _go(browser, browser.find_element(By.CSS_SELECTOR, "#flaky-table thead th a"))  # Test, ▲
    assert _texts(browser, "#flaky-table tbody td.name a") == list(reversed(first))
    assert console_errors(browser) == []


def test_a_test_page_draws_its_days_and_links_its_evidence(
    console_url: str, browser: WebDriver
) -> None:
    _open(browser, f"{console_url}/flaky")
    _go(browser, browser.find_element(By.LINK_TEXT, DEMO_TEST))
    assert browser.find_element(By.TAG_NAME, "h1").text == DEMO_TEST
    _drew(browser, "#runs-chart", "rect.pass, rect.fail")
    _drew(browser, "#duration-chart", "polyline, circle")
    assert browser.find_elements(By.CSS_SELECTOR, "#evidence-table tbody tr")
    assert browser.find_elements(
        By.CSS_SELECTOR, "#evidence-table a.ext[href^='https://buildkite.com/']"
    )
    assert "still flaky" in browser.find_element(By.ID, "episodes-table").text
    screenshot(browser, "test")
    assert console_errors(browser) == []

    _open(browser, f"{console_url}/tests/{quote(SCRIPT_KEY, safe='')}")
    assert browser.find_element(By.TAG_NAME, "h1").text == SCRIPT_NAME
    assert "<img src=x onerror=alert(2)>" in browser.find_element(By.ID, "evidence-table").text
    _no_script_ran(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, "main script, main img")
    screenshot(browser, "test-markup-name")
    assert console_errors(browser) == []


def test_alerts_feed_filters_and_the_alert_timeline_draws_deploy_failure_incident(
    console_url: str, browser: WebDriver
) -> None:
    _open(browser, f"{console_url}/alerts")
    kinds = set(_texts(browser, "#alerts-table tbody td:nth-child(3)"))
    assert {"failure_deploy_incident", "flaky_test"} <= kinds
    Select(browser.find_element(By.ID, "kind")).select_by_visible_text("failure_deploy_incident")
    _go(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
    assert set(_texts(browser, "#alerts-table tbody td:nth-child(3)")) == {
        "failure_deploy_incident"
    }
    screenshot(browser, "alerts")

    _go(browser, browser.find_element(By.CSS_SELECTOR, "#alerts-table tbody td:nth-child(5) a"))
    for kind in ("deploy", "failure", "incident", "alert", "delivery"):
        assert browser.find_elements(By.CSS_SELECTOR, f"#timeline svg g.mark.{kind} circle"), kind
    _drew(browser, "#timeline", "g.mark")
    x = {
        str(g.get_attribute("class")).split()[1]: float(
            g.find_element(By.TAG_NAME, "circle").get_attribute("cx") or "nan"
        )
        for g in browser.find_elements(By.CSS_SELECTOR, "#timeline svg g.mark")
    }
    assert x["deploy"] < x["failure"] < x["incident"] <= x["alert"]  # one time axis, in order
    assert browser.find_elements(By.CSS_SELECTOR, "#reasons li")
    deliveries = browser.find_element(By.ID, "deliveries-table").text
    assert "log" in deliveries
    assert "delivered" in deliveries
    screenshot(browser, "alert-timeline")
    assert console_errors(browser) == []


def test_overview_service_and_pipeline_pages_show_the_demo(
    console_url: str, browser: WebDriver
) -> None:
    _open(browser, f"{console_url}/")
    assert int(browser.find_element(By.ID, "flaky-count").text) >= 2
    assert "failure_deploy_incident" in browser.find_element(By.ID, "recent-alerts").text
    _drew(browser, "#trend-chart", "polyline, circle")
    assert browser.find_elements(By.CSS_SELECTOR, "#offsets tbody tr")
    screenshot(browser, "overview")
    assert console_errors(browser) == []

    _go(browser, browser.find_element(By.CSS_SELECTOR, "#recent-alerts a[href^='/services/']"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "payments-api"
    assert browser.find_elements(By.CSS_SELECTOR, "#builds tbody tr")
    assert browser.find_elements(By.CSS_SELECTOR, "#deploys tbody tr")
    assert browser.find_elements(By.CSS_SELECTOR, "#incidents tbody tr")
    screenshot(browser, "service")
    assert console_errors(browser) == []

    _go(browser, browser.find_element(By.CSS_SELECTOR, "a[href^='/pipelines/']"))
    _drew(browser, "#builds-chart", "rect")
    assert browser.find_elements(By.CSS_SELECTOR, "#builds tbody tr")
    screenshot(browser, "pipeline")
    assert console_errors(browser) == []


def test_on_a_phone_the_flaky_table_scrolls_inside_the_page(
    console_url: str, browser: WebDriver
) -> None:
    browser.set_window_size(390, 844)
    try:
        _open(browser, f"{console_url}/flaky")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390 + 1  # the table scrolls in its box; the page does not
        screenshot(browser, "flaky-phone")
    finally:
        browser.set_window_size(1280, 1000)


def test_a_dark_preference_gets_dark_pages(console_url: str, browser: WebDriver) -> None:
    dark = {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", dark)
    try:
        _open(browser, f"{console_url}/")
        background = browser.execute_script(
            "return getComputedStyle(document.body).backgroundColor"
        )
        assert background == "rgb(18, 22, 28)"
        screenshot(browser, "overview-dark")
        assert console_errors(browser) == []
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_the_service_page_shows_delivery_tiles_and_the_correlated_failed_deploy(
    console_url: str, browser: WebDriver
) -> None:
    _open(browser, f"{console_url}/services/payments-api")
    tiles = browser.find_elements(By.CSS_SELECTOR, "#delivery-tiles .tile")
    assert [t.find_element(By.CSS_SELECTOR, ".tier").text for t in tiles] == [
        "LOW",  # one deploy day in 12 weeks
        "NO DATA",  # the demo build of the deployed commit started after the deploy
        "LOW",  # the correlator linked the demo deploy to the demo incident: 1 of 1
        "NO DATA",  # the incident is still open
    ]
    rate = next(t for t in tiles if "change failure rate" in t.text)
    assert "100%" in rate.text
    assert "1 of 1 deploy" in rate.text
    _drew(browser, "#delivery-trend", "rect.fail")
    failed = browser.find_element(By.CSS_SELECTOR, "#failed-deploys tbody tr")
    assert "linked by the correlator" in failed.text
    screenshot(browser, "service-delivery")
    assert console_errors(browser) == []

    _go(browser, failed.find_element(By.CSS_SELECTOR, "a[href^='/alerts/']"))
    assert "failure_deploy_incident" in browser.find_element(By.TAG_NAME, "main").text


def test_kitestream_delivery_reads_the_running_api(
    console_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import main

    assert main(["delivery", "--service", "payments-api", "--api", console_url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("payments-api (team payments), ")
    assert "100% (1 of 1 deploy)" in out
    failed = next(line for line in out.splitlines() if line.startswith("deploy:deploy-"))
    assert " alert " in failed
