"""Click-to-track with SAM 2: the Gradio app of ``spaces_demo/`` and ``sam2-hf demo``.

    python spaces_demo/app.py            # or: sam2-hf demo   (needs: pip install "sam2_hf[demo]")

Upload a video (or pick the bundled example), click on the first frame to add positive or
negative points for an object (or draw its box with two clicks, or type it), add more objects,
press Track, scrub to any frame to correct it with more clicks, track again, and download the
masks (PNG per frame, SA-V-style JSON) and the overlay video. Every browser session has its own
tracking session and temporary folder; the page's clicks and the API endpoints (/load_video,
/add_point, /add_box, /track, /export) share one code path.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from .inference import VideoSession
from .loading import load_model as load_named_or_default
from .modeling import Sam2VideoModel
from .outputs import draw_prompts, object_colors, overlay_masks, write_video_outputs
from .pipelines import VideoMaskGenerationPipeline

logger = logging.getLogger("sam2_hf.demo")
CLICK_MODES = ["positive", "negative", "box"]  # what a click on the frame adds
EXAMPLE_VIDEO = Path(__file__).resolve().parents[2] / "examples" / "shapes.mp4"  # in a clone of the repository
# The model field's first value: empty is the shipped default; a Space that reaches the Hub can
# set facebook/sam2.1-hiera-tiny.
INITIAL_MODEL = os.environ.get("SAM2_DEMO_MODEL", "")
MAX_FRAMES = int(os.environ.get("SAM2_DEMO_MAX_FRAMES", 300))
MAX_SIDE = int(os.environ.get("SAM2_DEMO_MAX_SIDE", 1920))
MAX_UPLOAD_MB = float(os.environ.get("SAM2_DEMO_MAX_UPLOAD_MB", 100))
MAX_OBJECTS = int(os.environ.get("SAM2_DEMO_MAX_OBJECTS", 8))
DEVICE = os.environ.get("SAM2_DEMO_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
_DTYPE_NAME = os.environ.get("SAM2_DEMO_DTYPE", "float32")
if _DTYPE_NAME not in DTYPES:
    raise ValueError(f"SAM2_DEMO_DTYPE must be one of {', '.join(DTYPES)}, not {_DTYPE_NAME!r}")
DTYPE = DTYPES[_DTYPE_NAME]  # bfloat16: ~2x faster tracking on a CPU with AVX-512 bf16
COMPILE = os.environ.get("SAM2_DEMO_COMPILE", "0") == "1"  # torch.compile the image encoder: for GPUs


@functools.lru_cache(maxsize=2)
def load_model(name: str) -> Sam2VideoModel:
    """Models are shared by all sessions (read-only); each session has its own tracking state. An
    empty name means the shipped default (random weights, with a warning, while none ships)."""
    return load_named_or_default(name or None, Sam2VideoModel)


class DemoSession:
    """One browser session: its video, its tracking session, the masks and prompts shown, a temp folder."""

    def __init__(self) -> None:
        self._folder: Path | None = None  # made on first use: Gradio also builds one state it never uses
        self.pipe: VideoMaskGenerationPipeline | None = None
        self.video_path: Path | None = None
        self.masks: dict[int, tuple[list[int], np.ndarray]] = {}  # frame -> (object ids, bit-packed masks)
        # frame -> (object id, "positive" / "negative" / "box", coordinates in video pixels)
        self.prompts: dict[int, list[tuple[int, str, tuple[float, ...]]]] = {}
        self.box_corner: tuple[int, int, float, float] | None = None  # (frame, object id, x, y) of a box being drawn
        self.outputs: Path | None = None
        self.lock = threading.RLock()  # held by every event of this session (see one_at_a_time)

    def __deepcopy__(self, memo) -> "DemoSession":
        """Gradio deep-copies each new state once; a session (its lock, its folder) stays one."""
        return self

    @property
    def folder(self) -> Path:
        """This session's temporary folder (outputs, export archive), removed by :meth:`cleanup`."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="sam2-demo-"))
        return self._folder

    @property
    def session(self):
        if self.pipe is None or self.pipe.session is None:
            raise gr.Error("Load a video first.")
        return self.pipe.session

    def open(self, video_path: str, model_name: str) -> None:
        self.close_session()
        self.video_path = Path(video_path)
        self.pipe = VideoMaskGenerationPipeline(model=load_model(model_name), device=DEVICE)
        self.pipe.session = VideoSession(self.pipe.model, video_path, corrections_as_conditioning=True, dtype=DTYPE,
                                                               compile=COMPILE)
        self.forget()

    def remember(self, frame_idx: int, object_ids: list[int], masks: np.ndarray) -> None:
        self.masks[frame_idx] = (list(object_ids), np.packbits(masks, axis=-1))

    def remember_prompt(self, result, obj_id: int, kind: str, coords: tuple[float, ...]) -> None:
        """A prompt's result (a :class:`~sam2_hf.FrameResult`) and the prompt itself, to show on its
        frame. A box replaces the object's earlier prompts there, as it does in the tracking session."""
        frame_idx = result.frame_idx
        self.remember(frame_idx, result.object_ids, result.masks.cpu().numpy())
        shown = self.prompts.setdefault(frame_idx, [])
        if kind == "box":
            shown[:] = [prompt for prompt in shown if prompt[0] != obj_id]
        shown.append((obj_id, kind, coords))

    def forget(self, obj_id: int | None = None) -> None:
        """Drop the masks shown (tracking again redraws them) and the prompts of ``obj_id`` (all when None)."""
        self.masks.clear()
        self.outputs = None
        self.box_corner = None
        for frame_idx, shown in list(self.prompts.items()):
            shown[:] = [prompt for prompt in shown if obj_id is not None and prompt[0] != obj_id]
            if not shown:
                del self.prompts[frame_idx]

    def frame_image(self, frame_idx: int) -> np.ndarray:
        """The frame with its masks, its clicks (green / red dots), its boxes and a box corner being drawn."""
        frame = self.session.source.frame(frame_idx)
        if frame_idx in self.masks:
            object_ids, packed = self.masks[frame_idx]
            masks = np.unpackbits(packed, axis=-1, count=frame.shape[1]).astype(bool)
            frame = overlay_masks(frame, masks, colors=object_colors(object_ids))
        shown = self.prompts.get(frame_idx, [])
        clicks = [(kind, coords) for _, kind, coords in shown if kind != "box"]
        boxes = [(obj_id, coords) for obj_id, kind, coords in shown if kind == "box"]
        if self.box_corner is not None and self.box_corner[0] == frame_idx:
            _, obj_id, x, y = self.box_corner
            boxes.append((obj_id, (x - 2, y - 2, x + 2, y + 2)))  # a small square marks the first corner
        return draw_prompts(frame, points=[coords for _, coords in clicks], labels=[kind == "positive" for kind, _ in clicks],
                            boxes=[coords for _, coords in boxes], box_colors=object_colors([i for i, _ in boxes]))

    def close_session(self) -> None:
        if self.pipe is not None and self.pipe.session is not None:
            self.pipe.session.close()
        self.pipe = None

    def cleanup(self) -> None:
        """Called when the browser session ends (after an event still running)."""
        with self.lock:
            self.close_session()
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)
                self._folder = None


# Open sessions by Gradio's session hash, so that a closed page frees its session at once (Gradio
# itself deletes a closed session's state only an hour later).
_OPEN_SESSIONS: dict[str, DemoSession] = {}


def close_browser_session(request: gr.Request) -> None:
    """Gradio's unload event: the page was closed (its heartbeat stopped)."""
    state = _OPEN_SESSIONS.pop(request.session_hash, None)
    if state is not None:
        state.cleanup()


def one_at_a_time(handler):
    """Gradio's queue runs different events of one browser session at once (a click while the
    video is tracking, say); the session's lock makes the later one wait for the earlier."""

    @functools.wraps(handler)
    def locked(*args, **kwargs):
        state = next(value for value in (*args, *kwargs.values()) if isinstance(value, DemoSession))
        with state.lock:
            return handler(*args, **kwargs)

    return locked


def _check_object_limit(session, obj_id: int) -> None:
    if obj_id not in session.object_ids and len(session.object_ids) >= MAX_OBJECTS:
        raise gr.Error(f"This demo tracks up to {MAX_OBJECTS} objects.")


def _check_video(path: str) -> None:
    size_mb = Path(path).stat().st_size / 2**20
    if size_mb > MAX_UPLOAD_MB:
        raise gr.Error(f"The video is {size_mb:.0f} MB; this demo takes up to {MAX_UPLOAD_MB:.0f} MB.")


@one_at_a_time
def load_video(video: str | None, model_name: str, state: DemoSession, request: gr.Request | None = None
               ) -> tuple[np.ndarray, str, dict, DemoSession]:
    """A video file -> its first frame, a status line and the frame slider's new range."""
    if not video:
        raise gr.Error("Upload a video or pick the example.")
    if request is not None and request.session_hash:
        _OPEN_SESSIONS[request.session_hash] = state
    _check_video(video)
    try:
        state.open(video, model_name)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    session = state.session
    num_frames, (height, width) = session.num_frames, session.video_size
    if num_frames is None or num_frames > MAX_FRAMES or max(height, width) > MAX_SIDE:
        state.close_session()
        raise gr.Error(f"This demo takes videos of up to {MAX_FRAMES} frames and {MAX_SIDE} px a side; "
                       f"this one has {num_frames} frames of {width}x{height}.")
    # Random weights (no model named, none shipped) must be plain in the page, not only in the log.
    model = state.pipe.model.name_or_path or "RANDOM weights (no trained model ships yet: name one)"
    status = f"Loaded {Path(video).name}: {num_frames} frames of {width}x{height}, model {model}. Click on the object to track."
    return state.frame_image(0), status, gr.update(maximum=num_frames - 1, value=0), state


def video_changed(video: str | None, model_name: str, state: DemoSession, request: gr.Request):
    """An upload or the picked example shows its first frame at once; clearing the video keeps the page."""
    if not video:
        return gr.skip(), gr.skip(), gr.skip(), state
    return load_video(video, model_name, state, request)


@one_at_a_time
def add_point(frame_idx: float, x: float, y: float, label: str | int, obj_id: float, state: DemoSession
              ) -> tuple[np.ndarray, str, DemoSession]:
    """A click (label 1 or "positive" adds, 0 or "negative" removes) for object ``obj_id`` on a
    frame -> that frame with every object's mask."""
    session = state.session
    frame_idx, obj_id = int(frame_idx), int(obj_id)
    if str(label) not in ("positive", "negative", "1", "0"):
        raise gr.Error(f"A click's label is positive (1) or negative (0), not {label!r}.")
    kind = "positive" if str(label) in ("positive", "1") else "negative"
    _check_object_limit(session, obj_id)
    try:
        result = session.add_points(frame_idx, obj_id, [[float(x), float(y)]], [int(kind == "positive")], clear_old_points=False)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    state.remember_prompt(result, obj_id, kind, (float(x), float(y)))
    return state.frame_image(frame_idx), f"Object {obj_id}: {kind} click at ({x:.0f}, {y:.0f}) on frame {frame_idx}.", state


@one_at_a_time
def add_box(frame_idx: float, box: str, obj_id: float, state: DemoSession) -> tuple[np.ndarray, str, DemoSession]:
    """A box typed as ``x0,y0,x1,y1`` (video pixels) for object ``obj_id`` on a frame, replacing
    that object's clicks there -> the frame with every object's mask."""
    session = state.session
    frame_idx, obj_id = int(frame_idx), int(obj_id)
    _check_object_limit(session, obj_id)
    try:
        corners = [float(v) for v in str(box).split(",")]
        if len(corners) != 4:
            raise ValueError(f"a box is x0,y0,x1,y1; got {box!r}")
        result = session.add_box(frame_idx, obj_id, corners)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    state.remember_prompt(result, obj_id, "box", tuple(corners))
    return state.frame_image(frame_idx), f"Object {obj_id}: box {box} on frame {frame_idx}.", state


@one_at_a_time
def click_on_image(frame_idx: float, mode: str, obj_id: float, state: DemoSession, event: gr.SelectData):
    """A click in the page: a point through the /add_point path or, in box mode, a box corner; the
    opposite corner adds the box through the /add_box path."""
    x, y = event.index
    if mode != "box":
        return add_point(frame_idx, x, y, mode, obj_id, state)
    frame_idx, obj_id = int(frame_idx), int(obj_id)
    first = state.box_corner
    if first is None or first[:2] != (frame_idx, obj_id):
        state.box_corner = (frame_idx, obj_id, x, y)
        return state.frame_image(frame_idx), f"Object {obj_id}: box corner at ({x}, {y}); click the opposite corner.", state
    state.box_corner = None
    x0, y0 = first[2:]
    return add_box(frame_idx, f"{min(x0, x)},{min(y0, y)},{max(x0, x)},{max(y0, y)}", obj_id, state)


@one_at_a_time
def track(state: DemoSession, progress=gr.Progress(track_tqdm=True)) -> tuple[str, str, DemoSession]:
    """Propagate every object through the video -> the overlay video and a status line."""
    session = state.session
    if not session.object_ids:
        raise gr.Error("Click on an object first.")
    outputs = state.folder / "outputs"
    shutil.rmtree(outputs, ignore_errors=True)

    def remembered(results):
        for result in results:
            state.remember(result["frame_idx"], result["object_ids"], result["masks"])
            yield result

    prompted = [(frame, obj) for obj, frames in session.prompted_frames().items() for frame in frames]
    count = write_video_outputs(remembered(state.pipe()), outputs, session.source, state.video_path.stem, "manual", prompted)
    state.outputs = outputs
    return str(outputs / "overlay.mp4"), f"Tracked {len(session.object_ids)} object(s) through {count} frames.", state


@one_at_a_time
def show_frame(frame_idx: float, state: DemoSession) -> np.ndarray:
    return state.frame_image(int(frame_idx))


@one_at_a_time
def clear_object(frame_idx: float, obj_id: float, state: DemoSession) -> tuple[np.ndarray, str, DemoSession]:
    session = state.session
    try:
        session.remove_object(int(obj_id))
    except ValueError as error:
        raise gr.Error(str(error)) from None
    state.forget(int(obj_id))
    return state.frame_image(int(frame_idx)), f"Object {int(obj_id)} removed; track again to update the video.", state


@one_at_a_time
def start_over(state: DemoSession) -> tuple[np.ndarray, str, DemoSession]:
    state.session.reset()
    state.forget()
    return state.frame_image(0), "All objects removed.", state


@one_at_a_time
def export(state: DemoSession) -> tuple[str, DemoSession]:
    """A zip of the PNG masks (one indexed PNG per frame), masklets.json and overlay.mp4."""
    if state.outputs is None:
        raise gr.Error("Track the video first.")
    archive = state.folder / "sam2_masks.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for path in sorted(state.outputs.rglob("*")):
            if path.is_file():
                handle.write(path, path.relative_to(state.outputs))
    return str(archive), state


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="SAM 2: click to track") as demo:
        state = gr.State(DemoSession, delete_callback=lambda session: session.cleanup(), time_to_live=3600)
        gr.Markdown("# SAM 2: click to track\nUpload a video, click the object, press **Track**. "
                    "Scrub to any frame and click again to correct, then track again.")
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="Video", sources=["upload"])
                model_name = gr.Textbox(label="Model (Hub id or folder; empty: the shipped small model)", value=INITIAL_MODEL)
                load = gr.Button("Load video (again, after changing the model)")
                if EXAMPLE_VIDEO.is_file():
                    gr.Examples([[str(EXAMPLE_VIDEO)]], inputs=[video], label="Example")
            with gr.Column():
                # PNG, not Gradio's lossy default: masks and prompts show as computed.
                frame = gr.Image(label="Frame (click to add a point)", interactive=False, type="numpy", format="png",
                                 elem_id="frame")
                frame_idx = gr.Slider(0, 1, value=0, step=1, label="Frame")
                with gr.Row():
                    click_mode = gr.Radio(CLICK_MODES, value="positive", label="A click adds (box: two corners)")
                    obj_id = gr.Number(1, precision=0, minimum=1, maximum=255, label="Object id")
                with gr.Row():
                    box = gr.Textbox(label="Box x0,y0,x1,y1 (video pixels)", placeholder="40,60,90,110")
                    box_button = gr.Button("Add box")
                with gr.Row():
                    track_button = gr.Button("Track", variant="primary")
                    clear_button = gr.Button("Clear object")
                    reset_button = gr.Button("Start over")
                status = gr.Textbox(label="Status", interactive=False, elem_id="status")
        with gr.Row():
            overlay = gr.Video(label="Tracked video")
            download = gr.File(label="Masks (PNG + SA-V JSON) and overlay")
            export_button = gr.Button("Export")
        # Hidden fields so /add_point can be called with coordinates from scripts.
        x, y = gr.Number(visible=False), gr.Number(visible=False)
        add = gr.Button(visible=False)

        load.click(load_video, [video, model_name, state], [frame, status, frame_idx, state], api_name="load_video")
        video.change(video_changed, [video, model_name, state], [frame, status, frame_idx, state], api_name=False)
        add.click(add_point, [frame_idx, x, y, click_mode, obj_id, state], [frame, status, state], api_name="add_point")
        box_button.click(add_box, [frame_idx, box, obj_id, state], [frame, status, state], api_name="add_box")
        frame.select(click_on_image, [frame_idx, click_mode, obj_id, state], [frame, status, state], api_name=False)
        frame_idx.input(show_frame, [frame_idx, state], [frame], api_name=False, trigger_mode="always_last")  # dragged or typed
        track_button.click(track, [state], [overlay, status, state], api_name="track")
        clear_button.click(clear_object, [frame_idx, obj_id, state], [frame, status, state], api_name="clear_object")
        reset_button.click(start_over, [state], [frame, status, state], api_name="start_over")
        export_button.click(export, [state], [download, state], api_name="export")
        demo.unload(close_browser_session)
    demo.queue(default_concurrency_limit=1, max_size=32)
    return demo


def launch(server_name: str | None = None, server_port: int | None = None, share: bool = False) -> None:
    """Build the app and serve it until interrupted."""
    build_demo().launch(server_name=server_name or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        server_port=server_port, share=share, max_file_size=f"{MAX_UPLOAD_MB:.0f}mb")
