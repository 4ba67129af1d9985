"""The run report in real headless Chromium: every image loads, no console error, a screenshot kept.

The report and its screenshot are written to ``runs/report-test/`` (or ``$LABELLOOP_REPORT_DIR``),
the run folder CI keeps as an artifact, so a person can look at the page a change produces.
"""

import os
import shutil
import sys
from pathlib import Path

import pytest
from labelloop.components.core import run_report as rr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_report_data import build_scenario, build_text_scenario

ROOT = Path(__file__).resolve().parents[2]
WIDTH = 1280


def _missing(reason: str):
    """Fail in CI (the install script must have run), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must run .ci/install-labelstudio.sh before the tests")
    pytest.skip(f"{reason}; run .ci/install-labelstudio.sh to enable")


@pytest.fixture
def browser(tmp_path):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        _missing("Debian chromium and chromium-driver are not installed")
    try:
        from selenium import webdriver
    except ImportError:
        _missing("selenium is not installed in the project venv")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chrome'}",
        f"--window-size={WIDTH},1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver), options=options)
    try:
        yield session
    finally:
        session.quit()


def run_folder() -> Path:
    folder = Path(os.environ.get("LABELLOOP_REPORT_DIR") or ROOT / "runs" / "report-test")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


SCENARIOS = {"report": (build_scenario, 40), "report-text": (build_text_scenario, 0)}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_report_renders_in_chromium_with_every_image_loaded(browser, tmp_path, name):
    build, least_images = SCENARIOS[name]
    scenario = build(str(tmp_path / "run"))
    folder = run_folder()
    page = folder / f"{name}.html"
    rr.write_run_report(str(page), rr.build_run_report(scenario.inputs))

    browser.get(page.as_uri())
    browser.execute_script("return document.fonts ? document.fonts.ready : null")
    images = browser.execute_script(
        "return [...document.images].map(i => [i.alt, i.complete, i.naturalWidth, i.getBoundingClientRect().width])"
    )
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(WIDTH, height + 120)
    screenshot = folder / f"{name}-screenshot.png"
    browser.save_screenshot(str(screenshot))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR", "WARNING")]

    assert len(images) >= least_images, "the galleries and charts must hold images"
    broken = [alt for alt, complete, natural, _ in images if not (complete and natural > 0)]
    assert not broken, f"images that did not load: {broken}"
    assert all(width > 0 for *_, width in images), "every image is laid out"
    assert not errors, f"console errors: {errors}"
    assert browser.execute_script("return document.querySelectorAll('iframe').length") == 0
    overflowing = browser.execute_script("return document.documentElement.scrollWidth > window.innerWidth")
    assert not overflowing, "the page must not scroll sideways"
    assert screenshot.stat().st_size > 50_000
    snippets = browser.execute_script("return document.querySelectorAll('.tile .snippet').length")
    assert snippets > 0 if name == "report-text" else snippets == 0, "text items show as snippets"
