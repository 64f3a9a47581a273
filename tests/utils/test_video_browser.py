"""The videos litedepth writes play in a web browser (headless Chromium through Playwright).

Needs Playwright (the Python package) and a system Chromium (Debian: ``apt-get install
chromium``; or ``$LITEDEPTH_CHROMIUM``); skips with the reason otherwise.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from litedepth.io.video import VideoWriter
from tests.helpers import find_chromium

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

_STATE = """() => { const v = document.getElementById("v");
  return {ready: v.readyState, error: v.error && v.error.code, width: v.videoWidth, height: v.videoHeight,
          duration: v.duration}; }"""


@pytest.mark.timeout(120)
def test_h264_video_plays_in_chromium(tmp_path):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set LITEDEPTH_CHROMIUM)")
    path = tmp_path / "depth.mp4"
    yy, xx = np.mgrid[0:47, 0:33]
    with VideoWriter(path, fps=10) as w:  # an odd size: padded to 34 x 48 for 4:2:0
        for i in range(10):
            w.write(np.stack([(xx * 7 + 20 * i) % 256, yy * 5, np.full_like(xx, 90)], -1).astype(np.uint8))
    assert w.codec == "h264"
    url = "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode()
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_content(f'<video id="v" muted preload="auto" src="{url}"></video>')
            page.wait_for_function("document.getElementById('v').readyState >= 2 || document.getElementById('v').error",
                                   timeout=30_000)
            state = page.evaluate(_STATE)
        finally:
            browser.close()
    # decoded by the browser: no MEDIA_ERR_SRC_NOT_SUPPORTED, current frame available, the right size and length
    assert state["error"] is None and state["ready"] >= 2, state
    assert (state["width"], state["height"]) == (34, 48) and state["duration"] == pytest.approx(1.0, abs=0.11)
