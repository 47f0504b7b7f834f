"""The HTML memo opened in a real headless Chromium (Debian's `chromium`)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.projections.memo_history import record_history

ZOV = Path(sys.executable).with_name("zov")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = "headless Chromium is missing: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def test_the_html_memo_shows_its_chart_without_console_errors(tracker, store_url, browser,
                                                               tmp_path):
    record_history(tracker)
    html = tmp_path / "voortgang-2023-09.html"
    done = subprocess.run([str(ZOV), "--db", store_url, "memo", "2023-09", "-o", str(html)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    problems, dialogs = [], []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: problems.append(f"fetched {r.url}")
            if not r.url.startswith("file://") else None)
    page.goto(html.as_uri())
    chart = page.locator("svg#grafiek-open-paden")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box["width"] > 400 and box["height"] > 150
    assert page.locator("svg#grafiek-open-paden polyline").count() == 3
    assert page.locator("h1").inner_text().startswith("Voortgang zorgoverdracht XONAR")
    assert "30 september 2023" in page.locator("p.meta").inner_text()
    assert problems == [] and dialogs == []  # self-contained: nothing fetched, nothing run
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"memo-2023-09-{store_url.split(':')[0]}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    pdf = page.emulate_media(media="print") or page.pdf(path=str(ARTIFACTS / "memo-2023-09.pdf"),
                                                         format="A4")
    assert pdf.startswith(b"%PDF") and (ARTIFACTS / "memo-2023-09.pdf").stat().st_size > 10_000
    page.close()
