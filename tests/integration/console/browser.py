"""Debian's headless Chromium driven by Selenium, for the console's tests.

:func:`chromium` yields a webdriver.Chrome on a fresh profile, with the browser's console log
kept (``driver.get_log("browser")``). Tests call :func:`screenshot` to leave what the
page looked like under ``test-artifacts/``, and :func:`console_errors` to check that
the page logged no error.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

__all__ = [
    "ARTIFACTS",
    "CHROMEDRIVER",
    "chromium",
    "click_to_next_page",
    "console_errors",
    "needs_chromium",
    "screenshot",
]

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
CHROMEDRIVER = "/usr/bin/chromedriver"
_BROWSER = shutil.which("chromium")

needs_chromium = pytest.mark.skipif(
    _BROWSER is None or not Path(CHROMEDRIVER).exists(),
    reason="Debian's chromium and chromium-driver are not installed "
    "(apt-get install -y chromium chromium-driver; .ci/run does it)",
)


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 1000) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    with tempfile.TemporaryDirectory(prefix="kitestream-chromium-") as profile:
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            driver.set_page_load_timeout(30)
            yield driver
        finally:
            driver.quit()


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"console-{name}.png"
    driver.save_screenshot(str(path))
    return path


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """What the page logged at error level since the last call."""
    entries: list[dict[str, object]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [str(e["message"]) for e in entries if e.get("level") == "SEVERE"]


def click_to_next_page(driver: WebDriver, element: WebElement, timeout_s: float = 20) -> None:
    """Click a link or a form's button and wait until the page it leads to has loaded.

    The old document is marked and the wait is for a loaded document without the mark,
    asked again on any driver error: mid-navigation, chromedriver can answer a question
    about the old page with "Node with given id does not belong to the document" instead
    of the stale-element error that ``staleness_of`` expects, which failed a test once.
    """
    driver.execute_script("window.kitestreamOldPage = true")
    element.click()
    WebDriverWait(driver, timeout_s, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return window.kitestreamOldPage !== true && document.readyState === 'complete'"
        )
    )
