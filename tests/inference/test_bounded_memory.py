"""Tracking a long stream keeps memory flat: nothing per-frame is kept beyond a fixed window."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest
import torch

from sam2_hf import Sam2Config, Sam2MaskDecoderConfig, Sam2MemoryConfig, Sam2VideoModel, Sam2VisionConfig, VideoSession

from ..conftest import make_objects_visible

NUM_FRAMES = 2000


def _rss_mib() -> float:
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("needs /proc to read the resident set size")
    line = next(line for line in status.read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _frames(num_frames: int = NUM_FRAMES):
    rng = np.random.default_rng(0)
    background = rng.integers(0, 80, (48, 64, 3), dtype=np.uint8)
    for t in range(num_frames):
        frame = background.copy()
        x = 4 + (t * 3) % 40
        frame[12:36, x : x + 20] = [230, 90, 40]
        yield frame


def _small_model() -> Sam2VideoModel:
    torch.manual_seed(0)
    config = Sam2Config(
        vision_config=Sam2VisionConfig(embed_dim=8, num_heads=1, stages=(1, 1, 1, 1), global_attention_blocks=(3,),
                                       window_spec=(4, 4, 4, 2), window_pos_embed_background_size=(4, 4),
                                       fpn_hidden_size=32),
        mask_decoder_config=Sam2MaskDecoderConfig(hidden_size=32, num_attention_heads=2, mlp_dim=32, iou_head_hidden_dim=32),
        memory_config=Sam2MemoryConfig(memory_dim=16, feed_forward_dim=32, fuser_intermediate_dim=32),
        image_size=64,
    )
    return make_objects_visible(Sam2VideoModel(config).eval())


def test_memory_does_not_grow_with_stream_length():
    model = _small_model()
    session = VideoSession(model, _frames(), fill_hole_area=0)
    session.add_points(0, 1, [[20, 20]], [1])
    session.add_points(0, 2, [[50, 30]], [1])
    rss = {}
    for result in session.propagate():
        if result.frame_idx in (200, NUM_FRAMES - 1):
            gc.collect()
            rss[result.frame_idx] = _rss_mib()
        if result.frame_idx % 100 == 0:
            for obj in session._objects.values():
                # Frames near the prompted frame (kept for tracking back from it or re-prompting
                # near it) + the frames a later frame can still attend to.
                assert len(obj.bank.tracked) <= 2 * session._memory_horizon + 1
                assert len(obj.tracked._runs) == 1
            assert len(session._features) <= session.feature_cache_size
            assert len(session.source._buffer) <= session.source.buffer_size
    assert result.frame_idx == NUM_FRAMES - 1 and session.num_frames == NUM_FRAMES
    growth = rss[NUM_FRAMES - 1] - rss[200]
    # Nothing is kept per frame, so 1800 more frames add no state; the allowance covers allocator
    # and interpreter noise (a per-frame leak of even one 64x64 float mask would add ~30 MiB).
    print(f"RSS at frame 200: {rss[200]:.1f} MiB, at frame {NUM_FRAMES - 1}: {rss[NUM_FRAMES - 1]:.1f} MiB")
    assert growth < 20, f"resident memory grew by {growth:.1f} MiB between frame 200 and {NUM_FRAMES - 1}"


def test_a_10000_frame_live_stream_stays_within_10_percent_of_its_1000_frame_memory():
    """The soak: a camera's frames pushed one by one (`push_frame`) for 10,000 frames."""
    session = VideoSession(_small_model(), fill_hole_area=0)
    peak_after_1000 = 0.0
    for t, frame in enumerate(_frames(10_000)):
        result = session.push_frame(frame)
        if t == 0:
            session.add_points(0, 1, [[20, 20]], [1])
            session.add_points(0, 2, [[50, 30]], [1])
        if t == 999:
            gc.collect()
            at_1000 = _rss_mib()
        elif t > 999 and t % 250 == 0:
            peak_after_1000 = max(peak_after_1000, _rss_mib())
    gc.collect()
    peak_after_1000 = max(peak_after_1000, _rss_mib())
    assert result.frame_idx == 9_999 and result.object_ids == [1, 2]
    print(f"RSS after 1,000 frames: {at_1000:.1f} MiB; highest from there to 10,000: {peak_after_1000:.1f} MiB")
    assert peak_after_1000 <= 1.1 * at_1000, f"{peak_after_1000:.1f} MiB against {at_1000:.1f} MiB at frame 1,000"
