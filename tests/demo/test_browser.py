"""The app in a real headless Chromium (Debian's, driven by Playwright): load the example, click
on the frame, draw a second object's box, track, type a frame number, and keep a screenshot for a
person to look at."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("gradio")
sync_api = pytest.importorskip("playwright.sync_api")

from sam2_hf import Sam2VideoModel  # noqa: E402
from sam2_hf import demo as app  # noqa: E402

from ..conftest import make_objects_visible, tiny_config  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(os.environ.get("SAM2_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "outputs" / "screenshots"))

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("browser_model")
    make_objects_visible(Sam2VideoModel(tiny_config())).save_pretrained(folder)
    demo = app.build_demo()
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    yield url, str(folder)
    demo.close()


def wait_for_status(page, text: str, timeout: float) -> None:
    try:
        page.wait_for_function(f"() => (document.querySelector('#status textarea')?.value || '').includes({text!r})",
                               timeout=timeout)
    except sync_api.TimeoutError:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "demo_timed_out.png"), full_page=True)
        shown = page.locator("#status textarea").first.input_value()
        raise AssertionError(f"status never said {text!r}; it says {shown!r} (page: demo_timed_out.png)") from None


def click_frame(page, x: float, y: float) -> None:
    """Click video pixel (x, y) of the shown frame once its image has decoded: Gradio maps a click
    through the image's natural size and drops it while that is still 0 (CI lost a click so)."""
    page.wait_for_function("() => { const image = document.querySelector('#frame img');"
                           " return image && image.complete && image.naturalWidth > 0; }", timeout=30_000)
    image = page.locator("#frame img").first
    box = image.bounding_box()
    image.click(position={"x": box["width"] * x / 192, "y": box["height"] * y / 144})


def test_click_and_track_in_the_browser(url):
    address, model_dir = url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(address)
        page.get_by_label("Model (Hub id or folder; empty: the shipped small model)").fill(model_dir)
        page.locator("input[type=file]").first.set_input_files(str(app.EXAMPLE_VIDEO))  # loads at once
        wait_for_status(page, "Loaded", timeout=60_000)
        image = page.locator("#frame img").first
        before = image.screenshot()
        click_frame(page, 60, 42)
        wait_for_status(page, "positive click", timeout=60_000)
        page.wait_for_timeout(500)
        after = page.locator("#frame img").first.screenshot()
        assert before != after  # the mask is painted on the frame
        # A second object's box, drawn with two clicks on opposite corners.
        page.get_by_label("box", exact=True).check()
        page.get_by_label("Object id").fill("2")
        page.get_by_label("Object id").press("Tab")
        for (x, y), status in (((150, 30), "opposite corner"), ((180, 70), "Object 2: box")):
            click_frame(page, x, y)
            wait_for_status(page, status, timeout=60_000)
        page.get_by_role("button", name="Track").click()
        wait_for_status(page, "Tracked 2 object", timeout=120_000)
        page.wait_for_selector("video", timeout=30_000)
        # Typing a frame number shows that frame with its tracked masks.
        first_frame, source = image.screenshot(), image.get_attribute("src")
        page.get_by_label("number input for Frame").fill("12")
        page.get_by_label("number input for Frame").press("Enter")
        page.wait_for_function("(before) => document.querySelector('#frame img')?.getAttribute('src') !== before",
                               arg=source, timeout=30_000)
        assert page.locator("#frame img").first.screenshot() != first_frame
        path = SCREENSHOTS / "demo_after_tracking.png"
        page.screenshot(path=str(path), full_page=True)
        browser.close()
    shot = np.asarray(Image.open(path))
    assert shot.shape[0] > 500 and shot.std() > 10  # a rendered page, not a blank one


def test_too_large_upload_is_refused_in_the_page(url, monkeypatch):
    address, model_dir = url
    monkeypatch.setattr(app, "MAX_UPLOAD_MB", 0.001)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(address)
        page.locator("input[type=file]").first.set_input_files(str(app.EXAMPLE_VIDEO))
        page.get_by_text("this demo takes up to").first.wait_for(timeout=30_000)
        browser.close()
