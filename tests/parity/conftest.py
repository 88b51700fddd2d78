"""Reference models with seeded random weights at the real tiny architecture (1024 px input).

The same random state dict is loaded into the reference and into ours, so any difference in
outputs comes from the code, not the weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_hf import Sam2Model, Sam2Processor

pytest.importorskip("sam2", reason="the official sam2 package is a test dependency (see README)")


def _randomize(module: torch.nn.Module, seed: int) -> None:
    """Give zero-initialised tensors (position and no-memory embeddings...) random values so that
    every weight takes part in the comparison."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.is_floating_point() and tensor.abs().max() == 0:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.02)


@pytest.fixture(scope="session")
def official_checkpoint(tmp_path_factory):
    """An official SAM 2.1 tiny video model with random weights, and its ``.pt`` file."""
    from sam2.build_sam import build_sam2_video_predictor

    torch.manual_seed(1)
    predictor = build_sam2_video_predictor("configs/sam2.1/sam2.1_hiera_t.yaml", ckpt_path=None, device="cpu")
    _randomize(predictor, seed=2)
    path = tmp_path_factory.mktemp("official") / "sam2.1_hiera_tiny.pt"
    torch.save({"model": predictor.state_dict()}, path)
    return predictor.eval(), path


@pytest.fixture(scope="session")
def parity_image() -> np.ndarray:
    """A 480x640 image with structure (a gradient and two rectangles) rather than pure noise."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:480, 0:640]
    pixels = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.float32)
    pixels[100:300, 150:400] = [230, 40, 40]
    pixels[320:450, 420:600] = [30, 200, 60]
    pixels += rng.normal(0, 8, pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def processor() -> Sam2Processor:
    return Sam2Processor()


@pytest.fixture(scope="session")
def ours_from_official(official_checkpoint) -> Sam2Model:
    return Sam2Model.from_pretrained(str(official_checkpoint[1]))
