"""Headless Debian chromium driven by Selenium, for the browser tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

#: A browser test is skipped with the reason without chromium.
NEEDS_CHROMIUM = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromedriver (apt-get install chromium "
    "chromium-driver; .ci/run installs them)",
)
#: The marks of a module of browser tests against SeaweedFS.
BROWSER_MARKS = [pytest.mark.browser, pytest.mark.seaweedfs, NEEDS_CHROMIUM]

CHROME_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,900",
)


@contextmanager
def chromium(tmp_path: Path, logs: Mapping[str, str]) -> Iterator[Any]:
    """A chromium WebDriver with its profile under ``tmp_path`` and ``logs`` on (e.g.
    ``{"browser": "ALL"}``: failed loads and JS errors); quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (*CHROME_ARGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", dict(logs))
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Chromium with the browser (console) log on; Selenium Manager never goes online."""
    monkeypatch.setenv("SE_OFFLINE", "true")
    with chromium(tmp_path, {"browser": "ALL"}) as driver:
        yield driver


def settled(driver: Any, url: str, script: str, ready: Callable[[list[Any]], bool]) -> list[str]:
    """Open ``url``; wait (15 s at most) until ``script``'s list is ``ready``; return it
    as strings."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)

    def done(driver: Any) -> list[Any] | bool:
        found: list[Any] = driver.execute_script(script)
        return found if ready(found) else False

    found: Any = WebDriverWait(driver, 15).until(done)
    return [str(item) for item in found]
