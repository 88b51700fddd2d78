"""Image-path parity with transformers' Sam2Model, loaded through its own checkpoint format."""

from __future__ import annotations

import pytest
import torch

from sam2_hf import Sam2MaskDecoderModel, Sam2MemoryModel, Sam2Model, Sam2VideoModel, Sam2VisionModel

from .conftest import _randomize

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def transformers_pair(tmp_path_factory):
    from transformers import Sam2Config as TransformersConfig
    from transformers import Sam2Model as TransformersModel

    torch.manual_seed(4)
    reference = TransformersModel(TransformersConfig()).eval()  # defaults: SAM 2.1 hiera tiny
    _randomize(reference, seed=5)
    with torch.no_grad():
        # Released checkpoints hold one Fourier matrix in both places; a random init does not.
        reference.prompt_encoder.shared_embedding.positional_embedding.copy_(
            reference.shared_image_embedding.positional_embedding
        )
    folder = tmp_path_factory.mktemp("transformers_tiny")
    reference.save_pretrained(folder)
    return reference, Sam2Model.from_pretrained(folder), folder


@pytest.fixture(scope="module")
def pixel_values(processor, parity_image):
    return processor(images=parity_image)["pixel_values"]


PROMPTS = {
    "points": dict(input_points=[[[[320, 200], [500, 400]], [[100, 80], [10, 10]]]], input_labels=[[[1, 0], [1, 1]]]),
    "box": dict(input_boxes=[[[150, 100, 400, 300]]]),
    "point+box": dict(input_points=[[[[250, 180]]]], input_labels=[[[0]]], input_boxes=[[[150, 100, 400, 300]]]),
}


@pytest.mark.parametrize("multimask", [True, False], ids=["multimask", "single"])
@pytest.mark.parametrize("prompt", sorted(PROMPTS))
def test_points_and_boxes(transformers_pair, processor, parity_image, prompt, multimask):
    reference, ours, _ = transformers_pair
    inputs = processor(images=parity_image, **PROMPTS[prompt])
    model_inputs = {k: v for k, v in inputs.items() if k != "original_sizes"}
    with torch.no_grad():
        expected = reference(**model_inputs, multimask_output=multimask)
        got = ours(**model_inputs, multimask_output=multimask)
    _assert_close(got, expected)


def test_mask_prompt(transformers_pair, pixel_values):
    """transformers (like the official video path) adds one padding point when only a mask is
    given; the official image predictor adds none. Ours follows the image predictor, so the
    padding point is passed explicitly here."""
    reference, ours, _ = transformers_pair
    masks = torch.randn(1, 1, 256, 256, generator=torch.Generator().manual_seed(6)) * 8
    with torch.no_grad():
        expected = reference(pixel_values=pixel_values, input_masks=masks)
        got = ours(pixel_values=pixel_values, input_masks=masks,
                   input_points=torch.zeros(1, 1, 1, 2), input_labels=-torch.ones(1, 1, 1))
    _assert_close(got, expected)


def test_image_checkpoint_lacks_the_memory_modules(transformers_pair):
    _, _, folder = transformers_pair
    with pytest.raises(ValueError, match=r"missing keys: .*memory_attention"):
        Sam2VideoModel.from_pretrained(folder)


@pytest.mark.parametrize("part_class", [Sam2VisionModel, Sam2MaskDecoderModel])
def test_parts_load_from_transformers_format(transformers_pair, part_class):
    _, ours, folder = transformers_pair
    expected = part_class.view_of(ours).state_dict()
    got = part_class.from_pretrained(folder).state_dict()
    assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in got)


def test_memory_is_missing_from_an_image_checkpoint(transformers_pair):
    with pytest.raises(ValueError, match=r"missing keys: .*memory_attention"):
        Sam2MemoryModel.from_pretrained(transformers_pair[2])


def _assert_close(got, expected):
    assert got.pred_masks.shape == expected.pred_masks.shape
    assert (got.pred_masks - expected.pred_masks).abs().max() <= TOLERANCE
    assert (got.iou_scores - expected.iou_scores).abs().max() <= TOLERANCE
    assert (got.object_score_logits - expected.object_score_logits).abs().max() <= TOLERANCE
    assert expected.pred_masks.abs().max() > 10 * TOLERANCE
