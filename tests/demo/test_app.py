"""The Gradio app driven through gradio_client against a real local launch."""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gr = pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from gradio_client.utils import Status  # noqa: E402

import sam2_hf  # noqa: E402
from sam2_hf.outputs import object_colors  # noqa: E402
from sam2_hf.outputs.overlay import NEGATIVE_COLOR, POSITIVE_COLOR  # noqa: E402


from sam2_hf import demo as app  # noqa: E402


@pytest.fixture(scope="module")
def server():
    demo = app.build_demo()
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    yield url
    demo.close()


def client(url):
    return gradio_client.Client(url, verbose=False)


def test_click_track_correct_export(server, model_dir, tmp_path):
    c = client(server)
    video = gradio_client.handle_file(str(app.EXAMPLE_VIDEO))
    first, status, _ = c.predict(video, str(model_dir), api_name="/load_video")
    assert "36 frames of 192x144" in status
    assert np.asarray(Image.open(first)).shape == (144, 192, 3)

    shown, status = c.predict(0, 60, 42, "positive", 1, api_name="/add_point")
    assert "Object 1: positive click" in status
    before = np.asarray(Image.open(shown))
    plain = np.asarray(Image.open(first))
    assert (before != plain).any()  # the mask is painted on the frame

    overlay, status = c.predict(api_name="/track")
    assert "through 36 frames" in status and Path(overlay["video"] if isinstance(overlay, dict) else overlay).is_file()

    shown, status = c.predict(12, 100, 20, "negative", 1, api_name="/add_point")
    assert "negative click" in status and "frame 12" in status
    c.predict(api_name="/track")

    archive = Path(c.predict(api_name="/export"))
    with zipfile.ZipFile(archive) as handle:
        names = handle.namelist()
        assert sum(n.startswith("masks/") for n in names) == 36 and "overlay.mp4" in names
        masklets = json.loads(handle.read("masklets.json"))
    assert masklets["masklet_id"] == [1] and masklets["masklet_edited_frame_count"] == [2]
    # The exported JSON loads back with the training reader (the demo as annotation tool).
    from sam2_hf.data import load_sav

    folder = tmp_path / "sav"
    folder.mkdir()
    (folder / "sav_000000_manual.json").write_text(json.dumps(masklets))
    shutil.copy(app.EXAMPLE_VIDEO, folder / "sav_000000.mp4")
    row = load_sav(folder)[0]
    assert row["frame_indices"] == list(range(36)) and row["object_ids"] == [1]


def test_sessions_do_not_see_each_other(server, model_dir):
    a, b = client(server), client(server)
    video = gradio_client.handle_file(str(app.EXAMPLE_VIDEO))
    for c in (a, b):
        c.predict(video, str(model_dir), api_name="/load_video")
    a.predict(0, 60, 42, "positive", 1, api_name="/add_point")
    _, status = a.predict(0, "160,30,190,70", 2, api_name="/add_box")
    assert "Object 2: box" in status
    b.predict(0, 60, 42, "positive", 5, api_name="/add_point")
    _, status_a = a.predict(api_name="/track")
    _, status_b = b.predict(api_name="/track")
    assert "Tracked 2 object(s)" in status_a and "Tracked 1 object(s)" in status_b


def test_prompts_are_drawn_where_they_were_given(server, model_dir):
    c = client(server)
    c.predict(gradio_client.handle_file(str(app.EXAMPLE_VIDEO)), str(model_dir), api_name="/load_video")
    shown, _ = c.predict(0, 60, 42, "positive", 1, api_name="/add_point")
    assert tuple(np.asarray(Image.open(shown))[42, 60]) == POSITIVE_COLOR
    shown, _ = c.predict(0, 100, 20, "negative", 1, api_name="/add_point")
    image = np.asarray(Image.open(shown))
    assert tuple(image[20, 100]) == NEGATIVE_COLOR and tuple(image[42, 60]) == POSITIVE_COLOR
    shown, _ = c.predict(0, "150,30,180,70", 2, api_name="/add_box")
    image = np.asarray(Image.open(shown))
    assert tuple(image[50, 150]) == tuple(image[50, 180]) == tuple(object_colors([2])[0])  # the box's sides
    assert tuple(image[42, 60]) == POSITIVE_COLOR  # object 1's clicks stay
    shown, _ = c.predict(0, "10,10,40,40", 1, api_name="/add_box")  # a box replaces object 1's clicks
    image = np.asarray(Image.open(shown))
    assert tuple(image[42, 60]) != POSITIVE_COLOR and tuple(image[20, 10]) == tuple(object_colors([1])[0])
    with pytest.raises(Exception, match=r"positive \(1\) or negative \(0\)"):
        c.predict(0, 5, 5, "box", 1, api_name="/add_point")


def test_two_clicks_in_box_mode_add_a_box(model_dir):
    state = app.DemoSession()
    try:
        state.open(str(app.EXAMPLE_VIDEO), str(model_dir))
        _, status, _ = app.click_on_image(0, "box", 3, state, gr.SelectData(None, {"index": [180, 70], "value": None}))
        assert "click the opposite corner" in status and state.session.object_ids == []
        _, status, _ = app.click_on_image(0, "box", 3, state, gr.SelectData(None, {"index": [150, 30], "value": None}))
        assert "Object 3: box 150,30,180,70 on frame 0" in status and state.session.object_ids == [3]
        # A corner on another frame starts a new box there.
        app.click_on_image(0, "box", 4, state, gr.SelectData(None, {"index": [10, 10], "value": None}))
        _, status, _ = app.click_on_image(5, "box", 4, state, gr.SelectData(None, {"index": [40, 40], "value": None}))
        assert "click the opposite corner" in status and state.session.object_ids == [3]
    finally:
        state.cleanup()


def test_a_click_while_tracking_waits_for_the_tracking(server, model_dir):
    c = client(server)
    c.predict(gradio_client.handle_file(str(app.EXAMPLE_VIDEO)), str(model_dir), api_name="/load_video")
    c.predict(0, 60, 42, "positive", 1, api_name="/add_point")
    tracking = c.submit(api_name="/track")
    # Click only once the tracking runs (submitted together, the queue may start either first).
    deadline = time.time() + 60
    while tracking.status().code not in (Status.PROCESSING, Status.PROGRESS) and time.time() < deadline:
        time.sleep(0.01)
    assert not tracking.done(), "the tracking ended before the click could be sent"
    clicking = c.submit(5, 100, 20, "positive", 2, api_name="/add_point")  # a new object, mid-tracking
    assert "Tracked 1 object(s) through 36 frames" in tracking.result()[1]
    assert "Object 2: positive click" in clicking.result()[1]
    assert "Tracked 2 object(s)" in c.predict(api_name="/track")[1]


def test_the_page_names_the_model_it_runs(model_dir, monkeypatch):
    monkeypatch.setattr(app, "INITIAL_MODEL", str(model_dir))  # as SAM2_DEMO_MODEL sets it
    demo = app.build_demo()
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        c = client(url)
        video = gradio_client.handle_file(str(app.EXAMPLE_VIDEO))
        _, status, _ = c.predict(video, api_name="/load_video")  # the model field as the page starts
        assert f"model {model_dir}." in status
        _, status, _ = c.predict(video, "", api_name="/load_video")
        shipped = Path(sam2_hf.DEFAULT_MODEL, "config.json").is_file()
        assert (sam2_hf.DEFAULT_MODEL if shipped else "model RANDOM weights") in status
    finally:
        demo.close()


def test_limits_give_clear_messages(server, model_dir, tmp_path, monkeypatch):
    c = client(server)
    monkeypatch.setattr(app, "MAX_FRAMES", 5)
    video = gradio_client.handle_file(str(app.EXAMPLE_VIDEO))
    with pytest.raises(Exception, match="up to 5 frames"):
        c.predict(video, str(model_dir), api_name="/load_video")
    with pytest.raises(Exception, match="Load a video first"):
        client(server).predict(api_name="/track")


def test_objects_beyond_the_limit_are_refused_by_clicks_and_boxes(server, model_dir, monkeypatch):
    monkeypatch.setattr(app, "MAX_OBJECTS", 1)
    c = client(server)
    c.predict(gradio_client.handle_file(str(app.EXAMPLE_VIDEO)), str(model_dir), api_name="/load_video")
    c.predict(0, 60, 42, "positive", 1, api_name="/add_point")
    for arguments, endpoint in (((0, 100, 20, "positive", 2), "/add_point"), ((0, "150,30,180,70", 2), "/add_box")):
        with pytest.raises(Exception, match="tracks up to 1 objects"):
            c.predict(*arguments, api_name=endpoint)
    _, status = c.predict(0, "40,60,90,110", 1, api_name="/add_box")  # the one object can still change
    assert "Object 1: box" in status


def test_bad_box_is_a_clear_message(server, model_dir):
    c = client(server)
    c.predict(gradio_client.handle_file(str(app.EXAMPLE_VIDEO)), str(model_dir), api_name="/load_video")
    with pytest.raises(Exception, match="a box is x0,y0,x1,y1"):
        c.predict(0, "1,2,3", 1, api_name="/add_box")


def test_a_session_cleans_up_after_itself(model_dir):
    state = app.DemoSession()
    state.open(str(app.EXAMPLE_VIDEO), str(model_dir))
    folder = state.folder
    (folder / "outputs").mkdir()
    source = state.session.source
    state.cleanup()
    assert not folder.exists() and state.pipe is None
    with pytest.raises(Exception):
        source.frame(0)  # the video file was closed
