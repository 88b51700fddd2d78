"""VideoSession on a tiny config: every video input, the prompt/track API, streams and bad input."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from sam2_hf import Sam2VideoModel
from sam2_hf.inference import VideoSession
from sam2_hf.inference.session import NO_OBJECT_SCORE

from ..conftest import make_objects_visible, tiny_config

H, W, T = 48, 64, 10


def make_frames(count: int = T, height: int = H, width: int = W) -> np.ndarray:
    frames = np.zeros((count, height, width, 3), np.uint8)
    frames[..., 2] = 60
    for t in range(count):
        frames[t, 10 + t % 20 : 30 + t % 20, 5 + 2 * (t % 20) : 25 + 2 * (t % 20)] = [230, 80, 40]
    return frames


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return make_objects_visible(Sam2VideoModel(tiny_config()).eval())


@pytest.fixture
def frames():
    return make_frames()


def track(session: VideoSession, **kwargs):
    return [r for r in session.propagate(**kwargs)]


def test_click_then_propagate(model, frames):
    session = VideoSession(model, frames)
    first = session.add_points(0, 3, [[15, 20]], [1])
    assert first.frame_idx == 0 and first.object_ids == [3]
    assert first.mask_logits.shape == (1, H, W) and first.masks.dtype == torch.bool
    assert torch.equal(first.masks, first.mask_logits > 0)
    results = track(session)
    assert [r.frame_idx for r in results] == list(range(T))
    # The prompted frame keeps its prompt result.
    assert torch.equal(results[0].mask_logits, first.mask_logits)
    assert all(r.object_scores.shape == (1,) for r in results)


def test_all_video_inputs_agree(model, frames, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{t}.png")  # integer names sort numerically
    outputs = []
    for video in (frames, list(frames), torch.from_numpy(frames), folder, iter(list(frames))):
        session = VideoSession(model, video)
        session.add_points(0, 1, [[15, 20]], [1])
        outputs.append(torch.stack([r.mask_logits for r in track(session)]))
    for other in outputs[1:-1]:
        assert torch.equal(other, outputs[0])
    # A stream's length is unknown while tracking, so object pointers are normalised by the
    # model's maximum (15 frames) instead of the video length: close, not identical.
    torch.testing.assert_close(outputs[-1], outputs[0], rtol=0, atol=1e-3)


def test_video_file_is_decoded_lazily(model, frames, tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"g": "4"}  # key frames every 4 frames: exercises seeking
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    session = VideoSession(model, path)
    assert session.num_frames == T and session.video_size == (H, W)
    decoded = [session.source.frame(t) for t in (7, 2, 3, 9, 0)]  # random access, backwards too
    sequential = [session.source.frame(t) for t in range(T)]
    for t, image in zip((7, 2, 3, 9, 0), decoded):
        assert np.array_equal(image, sequential[t])
    assert np.abs(sequential[5].astype(int) - frames[5]).mean() < 8  # lossy, but the same picture
    session.add_points(4, 1, [[30, 25]], [1])
    assert [r.frame_idx for r in track(session, reverse=True)] == [4, 3, 2, 1, 0]


def test_prefetching_thread_gives_the_same_masks_and_is_off_on_cpu_by_default(model, frames):
    """On a CPU the session decodes inline (the thread slowed tracking); asked for, the thread
    decodes the next frame ahead (forwards and backwards) and the masks are the same."""
    assert VideoSession(model, frames)._prefetcher is None
    results, decoded_by = {}, {False: set(), True: set()}
    for prefetch in (False, True):
        session = VideoSession(model, frames, prefetch=prefetch)
        load = session._load_pixels

        def recording_load(frame_idx, load=load, threads=decoded_by[prefetch]):
            threads.add(threading.current_thread().name.split("_")[0])
            return load(frame_idx)

        session._load_pixels = recording_load
        session.add_points(5, 1, [[30, 25]], [1])
        results[prefetch] = [r.mask_logits for r in track(session)] + [r.mask_logits for r in track(session, reverse=True)]
        session.close()
    assert decoded_by == {False: {"MainThread"}, True: {"MainThread", "sam2-prefetch"}}
    assert len(results[True]) == len(results[False]) == (T - 5) + 6
    for a, b in zip(results[False], results[True]):
        torch.testing.assert_close(a, b)


def test_objects_batched_equal_objects_alone(model, frames):
    together = VideoSession(model, frames)
    together.add_points(0, 1, [[15, 20]], [1])
    together.add_box(0, 2, [30, 5, 60, 40])
    together.add_points(2, 3, [[50, 40], [10, 10]], [1, 0])  # prompted later: its own memory layout
    batched = track(together)
    for index, prompt in enumerate([("points", 0, 1, [[15, 20]], [1]), ("box", 0, 2, [30, 5, 60, 40]),
                                    ("points", 2, 3, [[50, 40], [10, 10]], [1, 0])]):
        alone = VideoSession(model, frames)
        if prompt[0] == "points":
            alone.add_points(prompt[1], prompt[2], prompt[3], prompt[4])
        else:
            alone.add_box(prompt[1], prompt[2], prompt[3])
        by_frame = {r.frame_idx: r for r in batched}
        # From frame 0 like the batched run: object 3's frames 0-1 are then tracked from its
        # prompt on frame 2 and join its memory, as in the official predictor.
        results = track(alone, start_frame_idx=0)
        assert [r.frame_idx for r in results] == list(range(T))
        for r_alone in results:
            r_batched = by_frame[r_alone.frame_idx]
            assert r_batched.object_ids[index] == prompt[2]
            torch.testing.assert_close(r_batched.mask_logits[index], r_alone.mask_logits[0], rtol=0, atol=1e-5)


def test_max_frames_start_and_reverse(model, frames):
    session = VideoSession(model, frames)
    session.add_points(5, 1, [[15, 20]], [1])
    assert [r.frame_idx for r in track(session, max_frames=3)] == [5, 6, 7]
    assert [r.frame_idx for r in track(session, start_frame_idx=5, reverse=True)] == [5, 4, 3, 2, 1, 0]
    assert [r.frame_idx for r in track(session, start_frame_idx=8)] == [8, 9]


def test_mask_prompt_is_returned_as_is(model, frames):
    session = VideoSession(model, frames)
    mask = np.zeros((H, W), bool)
    mask[10:30, 5:25] = True
    result = session.add_mask(0, 1, mask)
    assert (result.masks[0] == torch.from_numpy(mask)).float().mean() > 0.97
    assert result.object_scores[0] > 0
    empty = session.add_mask(1, 2, np.zeros((H, W), bool))
    assert not empty.masks[1].any() and empty.object_scores[1] < 0


def test_remove_clear_and_reset(model, frames):
    session = VideoSession(model, frames)
    session.add_points(0, 1, [[15, 20]], [1])
    session.add_points(0, 2, [[50, 40]], [1])
    session.remove_object(1)
    assert session.object_ids == [2]
    assert track(session)[3].object_ids == [2]
    cleared = session.clear_frame(0, 2)
    assert cleared.object_ids == [2]
    with pytest.raises(ValueError, match="object 2 has no prompt"):
        track(session)
    session.reset()
    assert session.object_ids == []
    session.add_points(1, 7, [[15, 20]], [1])
    assert [r.object_ids for r in track(session, max_frames=2)] == [[7], [7]]


def test_an_object_added_while_tracking_joins_the_next_propagation(model, frames):
    session = VideoSession(model, frames)
    session.add_points(0, 1, [[15, 20]], [1])
    results = []
    for result in session.propagate():
        if result.frame_idx == 2:
            session.add_points(6, 2, [[50, 40]], [1])
        results.append(result)
    assert [r.frame_idx for r in results] == list(range(T))
    assert [r.object_ids for r in results[3:]] == [[1, 2]] * (T - 3)
    assert not any(r.masks[1].any() for r in results[3:6])  # not tracked before its prompt is committed
    again = track(session)
    for before, after in zip(results, again):  # object 1 as before (batched with object 2 now)
        torch.testing.assert_close(after.mask_logits[0], before.mask_logits[0], rtol=0, atol=1e-5)
    assert all(r.object_scores[1] > NO_OBJECT_SCORE for r in again)  # object 2 tracked on every frame


def test_corrections_as_conditioning_survive_retracking(model, frames):
    for as_conditioning in (False, True):
        session = VideoSession(model, frames, corrections_as_conditioning=as_conditioning)
        session.add_points(0, 1, [[15, 20]], [1])
        first = {r.frame_idx: r for r in track(session)}
        corrected = session.add_points(4, 1, [[40, 30]], [0])
        assert not torch.equal(corrected.mask_logits, first[4].mask_logits)
        retracked = {r.frame_idx: r for r in track(session)}
        kept = torch.equal(retracked[4].mask_logits, corrected.mask_logits)
        assert kept == as_conditioning
        if not as_conditioning:  # the reference's default: tracking runs over the correction
            assert torch.equal(retracked[4].mask_logits, first[4].mask_logits)


def test_live_stream(model):
    frames = make_frames(6)
    session = VideoSession(model)  # no video: frames are pushed
    assert session.push_frame(frames[0]).object_ids == []
    session.add_points(0, 1, [[15, 20]], [1])
    results = [session.push_frame(frame) for frame in frames[1:]]
    assert [r.frame_idx for r in results] == [1, 2, 3, 4, 5]
    assert all(r.object_ids == [1] for r in results)
    with pytest.raises(ValueError, match="is 32x32 but the video is 64x48"):
        session.push_frame(np.zeros((32, 32, 3), np.uint8))
    assert session.push_frame(frames[0]).frame_idx == 6  # still usable
    # Re-tracking a pushed stream stops at the newest frame.
    assert [r.frame_idx for r in session.propagate(start_frame_idx=3)] == [3, 4, 5, 6]
    for video in (frames, iter(list(frames))):  # frames from a file, an array or an iterator
        with pytest.raises(ValueError, match="push_frame is for live streams"):
            VideoSession(model, video).push_frame(frames[0])


def test_iterator_with_unknown_length(model):
    def camera():
        yield from make_frames(7)

    session = VideoSession(model, camera())
    assert session.num_frames is None
    session.add_points(0, 1, [[15, 20]], [1])
    assert [r.frame_idx for r in track(session)] == list(range(7))
    assert session.num_frames == 7


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: s.add_points(T, 1, [[1, 1]], [1]), f"frame {T} does not exist: the video has {T} frames"),
        (lambda s: s.add_points(-1, 1, [[1, 1]], [1]), "frame -1 does not exist"),
        (lambda s: s.add_points(0, 1, [[W + 1, 1]], [1]), "outside the 64x48"),
        (lambda s: s.add_points(0, 1, [[float("nan"), 1]], [1]), "NaN"),
        (lambda s: s.add_points(0, 1, [[1, 1]], [2]), "labels must be 1"),
        (lambda s: s.add_points(0, 1, [[1, 1], [2, 2]], [1]), "2 points but 1 labels"),
        (lambda s: s.add_points(0, 1, [1, 2, 3], [1]), r"\(x, y\) pairs"),
        (lambda s: s.add_points(0, "cat", [[1, 1]], [1]), "object ids are integers"),
        (lambda s: s.add_box(0, 1, [10, 10, 5, 20]), "x0 <= x1"),
        (lambda s: s.add_mask(0, 1, np.ones((10, 10))), r"video's shape \(48, 64\)"),
        (lambda s: s.remove_object(99), "unknown object id 99"),
        (lambda s: s.clear_frame(0, 99), "unknown object id 99"),
        (lambda s: list(s.propagate()), "no object to track"),
    ],
)
def test_bad_input_leaves_the_session_usable(model, frames, call, message):
    session = VideoSession(model, frames)
    with pytest.raises(ValueError, match=message):
        call(session)
    assert session.object_ids == []
    session.add_points(0, 1, [[15, 20]], [1])
    assert len(track(session, max_frames=2)) == 2


def test_bad_videos(model, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    (tmp_path / "no_frames").mkdir()
    for video, message in [(empty, "cannot read video"), (corrupt, "cannot read video"),
                           (tmp_path / "no_frames", "no JPEG or PNG frame"), (tmp_path / "missing.mp4", "not found"),
                           (np.zeros((0, 4, 4, 3), np.uint8), "zero frames"), (iter([]), "zero frames"),
                           (np.zeros((4, 4, 3), np.uint8), r"\(T, H, W, 3\)")]:
        with pytest.raises(ValueError, match=message):
            VideoSession(model, video)


def test_frame_of_another_size_in_a_folder(model, tmp_path):
    for t, frame in enumerate(make_frames(3)):
        Image.fromarray(frame).save(tmp_path / f"{t:05d}.jpg")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "00003.jpg")
    session = VideoSession(model, tmp_path)
    session.add_points(0, 1, [[15, 20]], [1])
    with pytest.raises(ValueError, match="frame 3 is 20x20 but the video is 64x48"):
        track(session)


def test_output_store_reads_past_frames_back(model, frames, tmp_path):
    session = VideoSession(model, frames, output_store=tmp_path / "store")
    session.add_points(0, 1, [[15, 20]], [1])
    session.add_box(0, 2, [30, 5, 60, 40])
    streamed = {r.frame_idx: r for r in track(session)}
    assert session.output_store.frames() == list(range(T))
    for t in (0, 4, T - 1):
        stored = session.stored_result(t)
        assert stored.object_ids == [1, 2]
        # Logits are kept in float16: masks agree except where a logit is within rounding of 0.
        assert (stored.masks == streamed[t].masks).float().mean() > 0.999
        torch.testing.assert_close(stored.mask_logits, streamed[t].mask_logits, rtol=1e-2, atol=1e-2)
    with pytest.raises(ValueError, match="output_store=FOLDER"):
        VideoSession(model, frames).stored_result(0)
    with pytest.raises(ValueError, match="no stored result for frame 99"):
        session.stored_result(99)


def test_bfloat16_session_agrees_with_float32(model, frames):
    """dtype=bfloat16 takes the fast CPU attention path (blocked matmuls, values projected after
    attending); its logits stay those of the float32 session up to bfloat16 rounding. (Random
    weights give logits of about 0.1, too close to 0 for a mask IoU to mean much; hole filling is
    off because it turns a flipped pixel into a jump of 0.1.)"""
    results = {}
    for dtype in (None, torch.bfloat16):
        session = VideoSession(model, frames, dtype=dtype, fill_hole_area=0)
        session.add_points(0, 1, [[15, 20]], [1])
        session.add_box(0, 2, [30, 5, 60, 40])
        results[dtype] = track(session)
    for exact, fast in zip(results[None], results[torch.bfloat16]):
        assert fast.mask_logits.dtype == torch.float32  # results are float32 whatever the compute dtype
        for a, b in zip(exact.mask_logits, fast.mask_logits):
            assert (a - b).abs().max() < 0.05 * a.abs().max()
            assert torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1] > 0.999


def test_compiled_session_tracks_like_the_eager_one(frames):
    """compile=True runs the image encoder through torch.compile; the masks stay the eager ones
    up to float32 reordering."""
    torch.manual_seed(0)
    eager_model = make_objects_visible(Sam2VideoModel(tiny_config()).eval())
    compiled_model = make_objects_visible(Sam2VideoModel(tiny_config()).eval())
    compiled_model.load_state_dict(eager_model.state_dict())
    results = {}
    for name, model, compile in (("eager", eager_model, False), ("compiled", compiled_model, True)):
        session = VideoSession(model, frames[:6], compile=compile, fill_hole_area=0)
        session.add_points(0, 1, [[15, 20]], [1])
        session.add_box(0, 2, [30, 5, 60, 40])
        results[name] = track(session)
    assert compiled_model.vision_encoder._compiled_call_impl is not None
    assert eager_model.vision_encoder._compiled_call_impl is None
    assert [r.frame_idx for r in results["compiled"]] == list(range(6))
    for eager, compiled in zip(results["eager"], results["compiled"]):
        torch.testing.assert_close(compiled.mask_logits, eager.mask_logits, rtol=1e-4, atol=1e-4)
