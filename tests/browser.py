"""A real headless Chromium for tests, driven by Playwright (Debian's /usr/bin/chromium; no
browser download). Tests that need it skip, saying why, where either is missing; CI installs
both (.ci/run)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # chromium() says so and skips
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
#: as root, on a machine whose network is closed (see the machine notes): no sandbox, no background calls
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator:
    if sync_playwright is None:
        pytest.skip("Playwright for Python is not installed (pip install -r requirements-dev.txt)")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
