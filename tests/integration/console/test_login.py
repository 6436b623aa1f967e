"""The console's login in a real Chromium: with read tokens a page asks for one, the
cookie it sets is HttpOnly and SameSite=Strict (invisible to page scripts), and logging
out asks again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from services.store import migrate
from services.store.database import make_engine
from tests.integration.api.process import api_process
from tests.integration.console.browser import (
    chromium,
    console_errors,
    needs_chromium,
    screenshot,
)
from tests.ports import free_port

pytestmark = needs_chromium

TOKEN = "console-read-token-0123456789"


@pytest.fixture
def guarded_console(tmp_path: Path) -> Iterator[str]:
    """``kitestream api`` with read tokens on an empty, migrated SQLite store."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    env = {
        **os.environ,
        "KITESTREAM_DATABASE_URL": url,
        "KITESTREAM_READ_TOKENS": TOKEN,
        "KITESTREAM_LOG_FORMAT": "json",
    }
    with api_process(env, free_port(), tmp_path / "api.log") as base:
        yield base
    assert TOKEN not in (tmp_path / "api.log").read_text()


def test_a_guarded_console_asks_for_a_token_and_keeps_it_in_an_httponly_cookie(
    guarded_console: str,
) -> None:
    with chromium() as browser:
        browser.get(f"{guarded_console}/flaky?suite=x")
        assert "/login" in browser.current_url
        browser.find_element(By.ID, "token").send_keys("not-the-token")
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        # the click may return before the answer's page is in: wait for it
        refused = WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "login-error"))
        assert refused[0].is_displayed()
        screenshot(browser, "login-refused")

        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        WebDriverWait(browser, 20).until(lambda d: "/flaky" in d.current_url)
        assert browser.current_url == f"{guarded_console}/flaky?suite=x"
        assert browser.find_element(By.ID, "no-flaky").is_displayed()
        cookie = _the_cookie(browser)
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Strict"
        assert browser.execute_script("return document.cookie") == ""
        assert browser.execute_script("return document.scripts.length") == 0
        screenshot(browser, "login-flaky")

        browser.find_element(By.CSS_SELECTOR, "form.logout button").click()
        WebDriverWait(browser, 20).until(lambda d: "/login" in d.current_url)
        browser.get(f"{guarded_console}/alerts")
        assert "/login" in browser.current_url
        assert [e for e in console_errors(browser) if "401" not in e] == []


def _the_cookie(browser: Chrome) -> dict[str, object]:
    cookies = [c for c in browser.get_cookies() if c["name"] == "kitestream_console"]
    assert len(cookies) == 1
    return dict(cookies[0])
