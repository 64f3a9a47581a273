"""End to end: drive the ``litedepth serve`` page in headless Chromium with Playwright.

On the server shared with the other web-demo tests (``server`` in ``tests/apps/conftest.py``):

* **image tab**: picks the first example (a synthetic room), estimates depth with the default
  untrained Lite-Mono, downloads the raw ``.npy`` through its link and checks it against the
  prediction the service makes in this process, waits for the 3-D view to draw the point
  cloud, then switches to the metric DeepLabV3;
* **video tab**: makes a depth video of the example walk and checks that Chromium decodes it.

Screenshots go to ``$LITEDEPTH_ARTIFACTS`` (default ``tests/artifacts/``, git-ignored):
``serve_image_relative.png`` (relative depth: colour bar without a unit, untrained model
labelled in the picker and on the map), ``serve_image_metric.png`` (colour bar in metres) and
``serve_video.png``.

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

from tests.conftest import REPO_ROOT

pytest.importorskip("gradio", reason="Gradio is not installed (pip install 'litedepth[serve]')")
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

ARTIFACTS = Path(os.environ.get("LITEDEPTH_ARTIFACTS") or REPO_ROOT / "tests" / "artifacts")
TIMEOUT_MS = 90_000
#: tall enough that the whole page is inside the viewport: the 3-D view's WebGL canvas is only
#: drawn while it is visible
VIEWPORT = {"width": 1280, "height": 1700}


def _chromium() -> str:
    for candidate in (os.environ.get("LITEDEPTH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("no Chromium found (apt-get install chromium, or set LITEDEPTH_CHROMIUM)")


@pytest.fixture(scope="module")
def browser():
    chromium = _chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url, wait_until="domcontentloaded")
    page.get_by_text("litedepth depth demo").first.wait_for()
    yield page
    context.close()


def _wait_for_summary(page, selector: str, prefix: str) -> str:
    page.wait_for_function(f"() => document.querySelector('{selector} textarea').value.startsWith({prefix!r})",
                           timeout=TIMEOUT_MS)
    return page.locator(f"{selector} textarea").input_value()


def _canvas_drawn(page) -> bool:
    """Whether the 3-D view's canvas shows more than its background."""
    from io import BytesIO

    from PIL import Image

    shot = np.asarray(Image.open(BytesIO(page.locator("#view3d canvas").screenshot())).convert("RGB"))
    background = np.array([237, 237, 237])  # the viewer's clear colour, 0.93 grey
    return bool((np.abs(shot.astype(int) - background).max(axis=-1) > 30).mean() > 0.05)


@pytest.mark.timeout(240)
def test_example_raw_depth_download_and_3d_view(page, tmp_path):
    from PIL import Image

    from litedepth.apps.serve import DepthService, default_sources
    from litedepth.apps.serve.media import make_examples
    from litedepth.utils.arrays import load_npy
    from tests.apps.serve_helpers import SERVE_ARGS

    model = page.locator("#model input")
    assert "untrained" in model.input_value()  # the picker says the default network is untrained
    page.locator("#examples .gallery-item").first.click()  # the synthetic room
    page.locator("#input-image img").first.wait_for()
    page.locator("#run").click()
    summary = _wait_for_summary(page, "#summary", "lite-mono-tiny")
    assert "UNTRAINED" in summary and "relative" in summary
    # a relative model's distances are never shown in metres (issue 11, finding 5)
    assert "metre" not in summary.lower() and not re.search(r"\d m\b", summary)
    page.locator("#depth img").first.wait_for()

    # the raw depth, downloaded through its link, is the prediction the service makes in memory
    link = page.locator("#downloads a[download$='.npy']")
    assert link.get_attribute("download") == "synthetic_room_lite-mono-tiny_depth_relative.npy"
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "download.npy"
    download.value.save_as(saved)
    served = load_npy(saved)
    room = make_examples(tmp_path / "examples", video_frames=0).images[0]  # the same scene, rendered here
    size = (int(SERVE_ARGS[SERVE_ARGS.index("--size") + 1]), int(SERVE_ARGS[SERVE_ARGS.index("--size") + 2]))
    here = DepthService(default_sources(["lite-mono-tiny"]), input_size=size, device="cpu").predict(
        np.array(Image.open(room).convert("RGB")), "lite-mono-tiny")
    assert served.dtype == np.float32 and served.shape == here.depth.shape == (192, 256)
    np.testing.assert_allclose(served, here.depth, rtol=1e-5, atol=1e-7)
    assert page.locator("#downloads a[download$='.uint16.png']").count() == 1
    assert page.locator("#downloads a[download$='_points_relative.ply']").count() == 1
    assert "value /" in page.locator("#downloads-note").inner_text()

    # the 3-D view draws the coloured points (joined into a surface) with WebGL
    page.locator("#view3d canvas").wait_for()
    page.wait_for_function("() => document.querySelector('#view3d canvas').width > 300")
    for _ in range(40):
        if _canvas_drawn(page):
            break
        page.wait_for_timeout(500)
    assert _canvas_drawn(page), "the 3-D view stayed empty"
    page.screenshot(path=str(ARTIFACTS / "serve_image_relative.png"), full_page=True)

    # a metric network: the colour bar is in metres
    model.click()
    option = page.get_by_role("option", name="deeplabv3-mobilenet-v3-large")
    assert "untrained" in option.inner_text()
    option.click()
    page.locator("#run").click()
    summary = _wait_for_summary(page, "#summary", "deeplabv3")
    assert "metric depth" in summary
    page.wait_for_function("() => [...document.querySelectorAll('#downloads a')].some(a => "
                           "a.getAttribute('download').endsWith('_depth_mm.uint16.png'))")
    page.wait_for_timeout(1500)  # the 3-D view reloads the new surface
    page.screenshot(path=str(ARTIFACTS / "serve_image_metric.png"), full_page=True)
    for name in ("serve_image_relative.png", "serve_image_metric.png"):
        with Image.open(ARTIFACTS / name) as shot:
            assert shot.size[0] == VIEWPORT["width"] and shot.size[1] > 1000


@pytest.mark.timeout(240)
def test_video_tab_returns_a_depth_video_the_browser_plays(page):
    from PIL import Image

    page.get_by_role("tab", name="Video").click()
    page.locator("#video-examples .gallery-item").first.click()
    page.locator("#input-video video").first.wait_for()
    page.locator("#run-video").click()
    summary = _wait_for_summary(page, "#video-summary", "lite-mono-tiny")
    assert "UNTRAINED" in summary and "h264" in summary and "24 frames" in summary
    # Chromium decodes it: metadata read, the input | depth width, a duration of 24 frames at 8 fps
    page.wait_for_function("() => { const v = document.querySelector('#output-video video');"
                           " return v && v.readyState >= 2 && v.videoWidth > 0; }")
    width, duration = page.evaluate("() => { const v = document.querySelector('#output-video video');"
                                    " return [v.videoWidth, v.duration]; }")
    assert width == 256 and duration == pytest.approx(3.0, abs=0.2)
    page.screenshot(path=str(ARTIFACTS / "serve_video.png"), full_page=True)
    with Image.open(ARTIFACTS / "serve_video.png") as shot:
        assert shot.size[0] == VIEWPORT["width"]
