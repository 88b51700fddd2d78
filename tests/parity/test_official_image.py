"""Image-path parity with the official implementation (sam2 1.1.0), real tiny architecture.

The official image predictor imports torchvision only for resizing; we run the exact steps of
its `set_image` / `_predict` on the official modules, on pixels from our processor (see
ENVIRONMENT.md). Our processor's resize is checked separately in test_processor.py.
"""

from __future__ import annotations

import pytest
import torch

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def features(official_checkpoint, ours_from_official, processor, parity_image):
    official, _ = official_checkpoint
    pixel_values = processor(images=parity_image)["pixel_values"]
    with torch.no_grad():
        backbone = official.forward_image(pixel_values)
        _, levels, _, sizes = official._prepare_backbone_features(backbone)
        levels[-1] = levels[-1] + official.no_mem_embed
        official_levels = [f.permute(1, 2, 0).reshape(1, -1, *s) for f, s in zip(levels, sizes)]
        ours = ours_from_official.get_image_features(pixel_values)
    return official_levels, ours


def _official_predict(official, levels, coords, labels, mask_input, multimask):
    """The official image predictor's `_predict`, step by step."""
    points = (coords, labels.int()) if coords is not None else None
    sparse, dense = official.sam_prompt_encoder(points=points, boxes=None, masks=mask_input)
    rows = 1 if coords is None else coords.shape[0]
    masks, iou, _, object_scores = official.sam_mask_decoder(
        image_embeddings=levels[-1],
        image_pe=official.sam_prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask,
        repeat_image=rows > 1,
        high_res_features=levels[:-1],
    )
    return masks, iou, object_scores


def test_image_features_match(features):
    official_levels, ours = features
    assert (official_levels[-1] - ours.image_embeddings).abs().max() <= TOLERANCE
    for official_level, our_level in zip(official_levels[:-1], ours.high_res_features):
        assert (official_level - our_level).abs().max() <= TOLERANCE


PROMPTS = {
    "point": dict(input_points=[[[[320, 200]]]], input_labels=[[[1]]]),
    "points": dict(input_points=[[[[320, 200], [500, 400], [50, 60]]]], input_labels=[[[1, 0, 1]]]),
    "box": dict(input_boxes=[[[150, 100, 400, 300]]]),
    "point+box": dict(input_points=[[[[250, 180]]]], input_labels=[[[0]]], input_boxes=[[[150, 100, 400, 300]]]),
    "two objects": dict(input_points=[[[[320, 200]], [[500, 380]]]], input_labels=[[[1], [1]]]),
}


@pytest.mark.parametrize("multimask", [True, False], ids=["multimask", "single"])
@pytest.mark.parametrize("prompt", sorted(PROMPTS))
def test_points_and_boxes(features, official_checkpoint, ours_from_official, processor, parity_image, prompt, multimask):
    official, _ = official_checkpoint
    official_levels, our_features = features
    inputs = processor(images=parity_image, **PROMPTS[prompt])
    coord_parts, label_parts = [], []
    if "input_boxes" in inputs:
        boxes = inputs["input_boxes"][0]
        coord_parts.append(boxes.reshape(-1, 2, 2))
        label_parts.append(torch.tensor([[2, 3]]).expand(boxes.shape[0], 2))
    if "input_points" in inputs:
        coord_parts.append(inputs["input_points"][0])
        label_parts.append(inputs["input_labels"][0])
    coords, labels = torch.cat(coord_parts, 1), torch.cat(label_parts, 1)
    with torch.no_grad():
        expected = _official_predict(official, official_levels, coords, labels, None, multimask)
        ours = ours_from_official(
            image_features=our_features,
            input_points=inputs.get("input_points"), input_labels=inputs.get("input_labels"),
            input_boxes=inputs.get("input_boxes"), multimask_output=multimask,
        )
    _assert_close(ours, expected, num_masks=3 if multimask else 1)


@pytest.mark.parametrize("with_point", [False, True], ids=["mask", "mask+point"])
@pytest.mark.parametrize("multimask", [True, False], ids=["multimask", "single"])
def test_mask_prompt(features, official_checkpoint, ours_from_official, processor, parity_image, multimask, with_point):
    official, _ = official_checkpoint
    official_levels, our_features = features
    # A previous prediction's low-res logits fed back as the mask prompt, as in interactive use.
    with torch.no_grad():
        previous = ours_from_official(image_features=our_features, **processor(images=parity_image, **PROMPTS["point"]).data)
    mask_logits = previous.pred_masks[:, :, 0].clamp(-32, 32) * 50
    prompt = PROMPTS["point"] if with_point else {}
    inputs = processor(images=parity_image, **prompt)
    with torch.no_grad():
        expected = _official_predict(
            official, official_levels, inputs.get("input_points", [None])[0],
            inputs.get("input_labels", [None])[0], mask_logits[0][:, None], multimask,
        )
        ours = ours_from_official(
            image_features=our_features, input_points=inputs.get("input_points"),
            input_labels=inputs.get("input_labels"), input_masks=mask_logits, multimask_output=multimask,
        )
    _assert_close(ours, expected, num_masks=3 if multimask else 1)


def _assert_close(ours, expected, num_masks):
    masks, iou, object_scores = expected
    assert ours.pred_masks.shape[2:] == (num_masks, 256, 256)
    assert (ours.pred_masks[0] - masks).abs().max() <= TOLERANCE
    assert (ours.iou_scores[0] - iou).abs().max() <= TOLERANCE
    assert (ours.object_score_logits[0] - object_scores).abs().max() <= TOLERANCE
    # Guard against comparing two empty answers: the logits must carry signal.
    assert masks.abs().max() > 10 * TOLERANCE
