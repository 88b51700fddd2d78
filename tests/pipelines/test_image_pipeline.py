from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import pipeline

from sam2_hf import Sam2Model, Sam2Processor

from ..conftest import make_objects_visible, tiny_config


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_image_model")
    make_objects_visible(Sam2Model(tiny_config())).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def pipe(model_dir):
    return pipeline("image-mask-generation", model=str(model_dir), device="cpu")


def test_click_matches_the_model_called_directly(pipe, model_dir, image, tmp_path):
    path = tmp_path / "image.png"
    Image.fromarray(image).save(path)
    result = pipe(str(path), points=[[80, 50]], labels=[1])
    assert result["masks"].shape == (3, 96, 160) and result["masks"].dtype == bool
    assert (np.diff(result["scores"]) <= 0).all()  # best first

    model = Sam2Model.from_pretrained(model_dir).eval()
    processor = Sam2Processor.from_config(model.config)
    inputs = processor(images=image, input_points=[[[[80, 50]]]], input_labels=[[[1]]])
    with torch.no_grad():
        outputs = model(pixel_values=inputs["pixel_values"], input_points=inputs["input_points"],
                        input_labels=inputs["input_labels"], multimask_output=True)
    masks = processor.post_process_masks(outputs.pred_masks, inputs["original_sizes"])[0][0].numpy()
    order = np.argsort(-outputs.iou_scores[0, 0].numpy(), kind="stable")
    assert np.array_equal(result["masks"], masks[order])
    np.testing.assert_allclose(result["scores"], outputs.iou_scores[0, 0].numpy()[order])


def test_box_and_several_clicks_give_one_mask(pipe, image):
    assert pipe(image, box=[50, 30, 110, 70])["masks"].shape == (1, 96, 160)
    assert pipe(image, points=[[80, 50], [10, 10]], labels=[1, 0])["masks"].shape == (1, 96, 160)
    assert pipe(image, points=[[80, 50]], multimask_output=False)["masks"].shape == (1, 96, 160)


def test_no_prompt_finds_objects_automatically(pipe, image):
    result = pipe(image, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    assert len(result["masks"]) >= 1 and result["masks"].shape[1:] == (96, 160)
    assert (np.diff(result["scores"]) <= 0).all()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda pipe, image: pipe("missing.png", points=[[1, 1]]), "image not found"),
        (lambda pipe, image: pipe(image, points=[[500, 1]]), "outside"),
        (lambda pipe, image: pipe(image, points=[[1, 1], [2, 2]], labels=[1]), "2 points but 1 labels"),
        (lambda pipe, image: pipe(image, points_per_side=0), "at least 1"),
        (lambda pipe, image: pipe(image, colour="red"), "unknown options"),
    ],
)
def test_bad_input(pipe, image, call, message):
    with pytest.raises(ValueError, match=message):
        call(pipe, image)
