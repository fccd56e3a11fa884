"""A real headless Chromium driven by selenium (Debian's `chromium` and `chromium-driver`; no download).

Missing browser: the test fails under CI=true (.ci/run installs it) and is skipped on a developer machine.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--ignore-certificate-errors",  # each box's console has its own self-signed certificate
                 "--autoplay-policy=no-user-gesture-required")  # the alarm sound, as after a click in a real one


def find_chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists()
                                              else None)
    return (browser, driver) if browser and driver else None


def chromium(profile_dir: Path, width: int, height: int) -> Any:
    found = find_chromium()
    if found is None:
        message = "chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        from selenium import webdriver
    except ImportError:
        pytest.fail("selenium is a test dependency (pip install -e '.[test]')")
    opts = webdriver.ChromeOptions()
    opts.binary_location = found[0]
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={profile_dir}", f"--window-size={width},{height}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=found[1]))
    driver.set_page_load_timeout(30)
    return driver
