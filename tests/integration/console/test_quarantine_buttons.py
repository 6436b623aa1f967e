"""The quarantine buttons on a test's page, in a real Chromium: a write-token holder
mutes a test (the change goes through Kafka and the store and shows on the page),
a wrong token is refused on the page, and unmute takes it back."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.integration.console.browser import (
    chromium,
    click_to_next_page,
    console_errors,
    needs_chromium,
    screenshot,
)
from tests.integration.quarantine.conftest import READ_TOKEN, WRITE_TOKEN, Stack, stack
from tests.unit.api.rows import add_test, store_engine

__all__ = ["stack"]  # the fixture, used here

pytestmark = needs_chromium

KEY = "payments-pytest/tests/test_pay.py/test_refund"


def _submit(browser: Chrome, button: str, token: str, **fields: str) -> str:
    """Fill the quarantine form, press ``button``; the note the page comes back with."""
    for name, value in fields.items():
        box = browser.find_element(By.CSS_SELECTOR, f"#quarantine-form input[name={name}]")
        box.clear()
        box.send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "#quarantine-form input[name=token]").send_keys(token)
    click_to_next_page(
        browser, browser.find_element(By.CSS_SELECTOR, f"#quarantine-form button[value={button}]")
    )
    return browser.find_element(By.ID, "quarantine-note").text


def _state_becomes(browser: Chrome, page: str, state: str) -> None:
    """Reload until the store has read the change back."""
    deadline = time.monotonic() + 30
    while browser.find_element(By.ID, "quarantine-state").text != state:
        assert time.monotonic() < deadline, browser.find_element(By.ID, "quarantine").text
        time.sleep(0.3)
        browser.get(page)


async def test_a_write_token_holder_mutes_and_unmutes_a_test_from_its_page(stack: Stack) -> None:
    # the browser blocks: it runs in a thread while the store (this loop) reads the changes
    await asyncio.to_thread(_mute_and_unmute, stack)


def _mute_and_unmute(stack: Stack) -> None:
    engine = store_engine(stack.env["KITESTREAM_DATABASE_URL"].removeprefix("sqlite:///"))
    with engine.begin() as conn:
        add_test(conn, KEY, scope="tests/test_pay.py", name="test_refund")
    engine.dispose()
    page = f"{stack.api}/tests/{quote(KEY, safe='')}"
    with chromium() as browser:
        browser.get(page)  # to the login form first (read tokens are set)
        browser.find_element(By.ID, "token").send_keys(READ_TOKEN)
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        WebDriverWait(browser, 20).until(lambda b: "/login" not in b.current_url)
        assert browser.find_element(By.ID, "quarantine-state").text == "active"
        assert "Never quarantined." in browser.find_element(By.ID, "quarantine").text

        Select(browser.find_element(By.NAME, "days")).select_by_value("7")
        note = _submit(browser, "muted", WRITE_TOKEN, reason="flaky since the upgrade",
                       by="alice")  # fmt: skip
        assert note.startswith("muted by alice until ")
        _state_becomes(browser, page, "muted")
        section = browser.find_element(By.ID, "quarantine").text
        assert "by alice" in section
        assert "flaky since the upgrade" in section
        screenshot(browser, "quarantine-muted")

        note = _submit(browser, "active", "not-the-write-token", reason="fixed", by="bob")
        assert note == "the bearer token may not change quarantine state"
        assert browser.find_element(By.ID, "quarantine-state").text == "muted"

        note = _submit(browser, "active", WRITE_TOKEN, reason="fixed", by="bob")
        assert note == "active by bob"
        _state_becomes(browser, page, "active")
        rows = browser.find_elements(By.CSS_SELECTOR, "#quarantine-table tbody tr")
        assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == ["active", "muted"]
        assert console_errors(browser) == []
        assert WRITE_TOKEN not in str(browser.get_cookies())
