"""Sam2Model on a tiny config: shapes, batching, prompt handling and bad input."""

from __future__ import annotations

import pytest
import torch

from sam2_hf import Sam2Model, Sam2Processor


@pytest.fixture
def model(config):
    return Sam2Model(config).eval()


@pytest.fixture
def processor(config):
    return Sam2Processor.from_config(config)


def test_output_shapes(model, processor, image):
    inputs = processor(images=[image, image], input_points=[[[[10, 10]], [[50, 40]]]] * 2, input_labels=[[[1], [1]]] * 2)
    with torch.no_grad():
        multi = model(**inputs.data)
        single = model(**inputs.data, multimask_output=False)
    assert multi.pred_masks.shape == (2, 2, 3, 32, 32)
    assert multi.iou_scores.shape == (2, 2, 3) and multi.object_score_logits.shape == (2, 2, 1)
    assert single.pred_masks.shape == (2, 2, 1, 32, 32)
    masks = processor.post_process_masks(multi.pred_masks, inputs["original_sizes"])
    assert masks[0].shape == (2, 3, 96, 160)


def test_objects_are_independent(model, processor, image):
    """Batched objects give the same answer as each object alone."""
    both = processor(images=image, input_points=[[[[10, 10]], [[120, 50]]]], input_labels=[[[1], [1]]])
    alone = processor(images=image, input_points=[[[[120, 50]]]], input_labels=[[[1]]])
    with torch.no_grad():
        features = model.get_image_features(both["pixel_values"])
        together = model(image_features=features, input_points=both["input_points"], input_labels=both["input_labels"])
        single = model(image_features=features, input_points=alone["input_points"], input_labels=alone["input_labels"])
    torch.testing.assert_close(together.pred_masks[:, 1], single.pred_masks[:, 0], rtol=0, atol=1e-6)


def test_negative_click_changes_the_answer(model, processor, image):
    positive = processor(images=image, input_points=[[[[80, 50]]]], input_labels=[[[1]]])
    negative = processor(images=image, input_points=[[[[80, 50]]]], input_labels=[[[0]]])
    with torch.no_grad():
        a = model(**positive.data).pred_masks
        b = model(**negative.data).pred_masks
    assert not torch.allclose(a, b)


def _pixels(config):
    return torch.zeros(1, 3, config.image_size, config.image_size)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "no prompt"),
        (dict(input_points=torch.zeros(1, 1, 1, 2)), "given together"),
        (dict(input_points=torch.zeros(1, 1, 2), input_labels=torch.ones(1, 1)), "input_points must have shape"),
        (dict(input_points=torch.zeros(1, 1, 1, 2), input_labels=torch.ones(1, 1, 2)), "input_labels must have shape"),
        (dict(input_points=torch.full((1, 1, 1, 2), float("nan")), input_labels=torch.ones(1, 1, 1)), "NaN"),
        (dict(input_points=torch.zeros(1, 1, 1, 2), input_labels=torch.full((1, 1, 1), 5)), "input_labels must be"),
        (dict(input_boxes=torch.zeros(1, 1, 3)), "input_boxes must have shape"),
        (dict(input_boxes=torch.zeros(1, 2, 4), input_points=torch.zeros(1, 1, 1, 2), input_labels=torch.ones(1, 1, 1)), "objects have points but 2 have boxes"),
        (dict(input_masks=torch.zeros(1, 1, 64, 64)), r"input_masks must have shape \(1, objects, 32, 32\)"),
        (dict(input_masks=torch.full((1, 1, 32, 32), float("inf"))), "NaN or infinite"),
        (dict(input_boxes=torch.zeros(1, 0, 4)), "zero objects"),
    ],
)
def test_bad_prompts(model, config, kwargs, message):
    with pytest.raises(ValueError, match=message):
        model(pixel_values=_pixels(config), **kwargs)


def test_bad_pixels(model):
    with pytest.raises(ValueError, match="pixel_values must have shape"):
        model(pixel_values=torch.zeros(1, 3, 64, 64), input_boxes=torch.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="give pixel_values or image_features"):
        model(input_boxes=torch.zeros(1, 1, 4))


def test_bfloat16_inference(model, processor, image):
    inputs = processor(images=image, input_points=[[[[80, 50]]]], input_labels=[[[1]]])
    with torch.no_grad():
        out = model.to(torch.bfloat16)(**inputs.data)
    assert out.pred_masks.dtype == torch.bfloat16 and torch.isfinite(out.pred_masks.float()).all()



def test_fresh_weights_follow_the_official_initialisation(config):
    """A model trained from scratch needs output tokens on the scale of the prompt encodings and
    layers at PyTorch's default init, as the official code has them (transformers' generic 0.02
    normal shrinks the mask logits to about 1e-4)."""
    torch.manual_seed(0)
    decoder = Sam2Model(config).mask_decoder
    assert 0.8 < decoder.mask_tokens.weight.std() < 1.2
    weight = decoder.iou_prediction_head.layers[0].weight
    bound = 1 / weight.shape[1] ** 0.5  # kaiming_uniform(a=sqrt(5)) draws from +-1/sqrt(fan_in)
    assert 0.9 * bound < weight.abs().max() <= bound


def test_loading_does_not_reinitialise(config, tmp_path):
    torch.manual_seed(0)
    model = Sam2Model(config)
    model.save_pretrained(tmp_path)
    torch.manual_seed(1)
    loaded = Sam2Model.from_pretrained(tmp_path).state_dict()
    assert all(torch.equal(loaded[name], value) for name, value in model.state_dict().items())
