"""End to end: drive the ``litedepth serve`` page in headless Chromium with Playwright.

Uploads an indoor image (NYU Kinect frame from ../shared/data/real when present, else a
synthetic one), estimates depth with the default model, switches the model picker to the
metric DeepLabV3 and runs again, then saves a screenshot of the page to
``$LITEDEPTH_ARTIFACTS/serve_demo.png`` (default ``tests/artifacts/serve_demo.png``, git-ignored).

Needs Gradio, Playwright (the Python package only) and a system Chromium (Debian:
``apt-get install chromium``; or ``$LITEDEPTH_CHROMIUM``); skips with the reason otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.apps.serve_helpers import SERVE_ARGS, running_server
from tests.conftest import REPO_ROOT, _real_data_root

pytest.importorskip("gradio", reason="Gradio is not installed (pip install 'litedepth[serve]')")
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

ARTIFACTS = Path(os.environ.get("LITEDEPTH_ARTIFACTS") or REPO_ROOT / "tests" / "artifacts")
TIMEOUT_MS = 90_000


def _chromium() -> str:
    for candidate in (os.environ.get("LITEDEPTH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("no Chromium found (apt-get install chromium, or set LITEDEPTH_CHROMIUM)")


def _input_image(path: Path) -> Path:
    from PIL import Image

    real = _real_data_root() / "nyu_kinect_seq5_slambook2" / "color" / "1.png"
    if real.is_file():
        image = Image.open(real).convert("RGB").resize((160, 120), Image.BILINEAR)
    else:  # a floor and a near box on the right
        arr = np.full((120, 160, 3), 180, np.uint8)
        arr[70:, :] = (120, 90, 60)
        arr[40:110, 110:150] = (40, 120, 200)
        image = Image.fromarray(arr)
    image.save(path)
    return path


@pytest.mark.timeout(300)
def test_page_in_headless_chromium_predicts_and_saves_a_screenshot(tmp_path):
    chromium = _chromium()
    image = _input_image(tmp_path / "room.png")
    screenshot = ARTIFACTS / "serve_demo.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with running_server(tmp_path / "server.log", *SERVE_ARGS) as url, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_text("litedepth depth demo").first.wait_for()
            page.locator("#input-image input[type=file]").set_input_files(str(image))
            page.locator("#input-image img").first.wait_for()  # the upload is shown
            summary = page.locator("#summary textarea")

            page.locator("#run").click()
            page.wait_for_function(
                "() => document.querySelector('#summary textarea').value.startsWith('lite-mono-tiny')",
                timeout=TIMEOUT_MS)
            assert "relative" in summary.input_value()
            # a relative model's distances are never shown in metres (issue 11, finding 5)
            assert "metre" not in summary.input_value().lower()
            assert not re.search(r"\d m\b", summary.input_value())  # no "0.2 m" either
            assert "UNTRAINED" in summary.input_value()
            page.locator("#depth img").first.wait_for()
            page.locator("#overlay img").first.wait_for()

            page.locator("#model input").click()  # the model picker labels untrained networks
            option = page.get_by_role("option", name="deeplabv3-mobilenet-v3-large")
            assert "untrained" in option.inner_text()
            option.click()
            page.locator("#run").click()
            page.wait_for_function(
                "() => document.querySelector('#summary textarea').value.startsWith('deeplabv3')",
                timeout=TIMEOUT_MS)
            assert "metric depth" in summary.input_value()
            depth_src = page.locator("#depth img").first.get_attribute("src")
            assert depth_src and ("/file=" in depth_src or "gradio_api/file" in depth_src or
                                  depth_src.startswith("data:image"))
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000
    from PIL import Image

    with Image.open(screenshot) as shot:
        assert shot.size[0] == 1280
