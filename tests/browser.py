"""Headless Chromium (Debian's `chromium` and `chromium-driver`) under selenium."""

from __future__ import annotations

import shutil
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def chromium(profile: Path) -> webdriver.Chrome:
    """A headless Chromium with a private profile; the caller quits it."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        raise RuntimeError("install Debian's chromium and chromium-driver (scripts/dev.sh does)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1800",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def screenshot(browser: webdriver.Chrome, name: str) -> Path:
    """A full-window PNG in test-artifacts/ (kept by CI); prints its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    browser.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def click_through(browser: webdriver.Chrome, element: WebElement, timeout_s: float = 20) -> None:
    """Click a link or submit button, then wait until the next page has replaced this one
    (a click returns as soon as the navigation starts)."""
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, timeout_s).until(lambda _: _replaced(page))


def _replaced(page: WebElement) -> bool:
    """The old page's root is gone. Mid-navigation chromedriver may say so with a plain
    WebDriverException ("Node with given id does not belong to the document") instead of
    StaleElementReferenceException (its subclass), which selenium's staleness_of lets through."""
    try:
        page.is_enabled()
    except WebDriverException:
        return True
    return False
