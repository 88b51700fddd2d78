"""Device and dtype handling on CUDA (skipped where no GPU is present, as in CI)."""

from __future__ import annotations

import pytest
import torch

from sam2_hf import Sam2Config, Sam2Model, Sam2Processor

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    cpu = Sam2Model(Sam2Config.from_preset("sam2.1-hiera-tiny")).eval()
    gpu = Sam2Model(cpu.config).eval()
    gpu.load_state_dict(cpu.state_dict())
    return cpu, gpu.cuda()


@pytest.fixture(scope="module")
def inputs():
    image = torch.zeros(3, 300, 400, dtype=torch.uint8)
    image[:, 100:200, 150:300] = 200
    return Sam2Processor()(images=image, input_points=[[[[220, 150]], [[20, 20]]]], input_labels=[[[1], [1]]],
                           input_boxes=[[[140, 90, 310, 210], [0, 0, 60, 60]]])


def _run(model, inputs, **kwargs):
    with torch.no_grad():
        return model(**{k: v for k, v in inputs.items() if k != "original_sizes"}, **kwargs)


def test_cpu_inputs_reach_a_cuda_model_and_match_cpu(models, inputs):
    """Inputs from the processor live on the CPU; the model moves them. Results agree with the
    CPU run up to TF32 convolutions (cuDNN's default)."""
    cpu, gpu = models
    expected, got = _run(cpu, inputs), _run(gpu, inputs)
    assert got.pred_masks.device.type == "cuda"
    scale = expected.pred_masks.abs().max()
    assert (got.pred_masks.cpu() - expected.pred_masks).abs().max() <= 1e-2 * scale
    assert (got.iou_scores.cpu() - expected.iou_scores).abs().max() <= 1e-2


def test_bfloat16_autocast(models, inputs):
    _, gpu = models
    reference = _run(gpu, inputs)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        mixed = _run(gpu, inputs)
    assert torch.isfinite(mixed.pred_masks.float()).all()
    scale = reference.pred_masks.abs().max()
    assert (mixed.pred_masks.float() - reference.pred_masks).abs().max() <= 0.1 * scale


def test_bfloat16_weights(models, inputs):
    _, gpu = models
    reference = _run(gpu, inputs)
    half = Sam2Model(gpu.config).eval()
    half.load_state_dict(gpu.state_dict())
    half = half.to("cuda", torch.bfloat16)
    out = _run(half, inputs)
    assert out.pred_masks.dtype == torch.bfloat16
    scale = reference.pred_masks.abs().max()
    assert (out.pred_masks.float() - reference.pred_masks).abs().max() <= 0.1 * scale
    masks = Sam2Processor().post_process_masks(out.pred_masks, inputs["original_sizes"])
    assert masks[0].shape == (2, 3, 300, 400)
