from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sam2_hf import Sam2Processor
from sam2_hf.processing import to_rgb_uint8


@pytest.fixture
def processor():
    return Sam2Processor()


def test_image_types_give_the_same_pixels(processor, image):
    reference = processor(images=image)["pixel_values"]
    assert reference.shape == (1, 3, 1024, 1024)
    for variant in (Image.fromarray(image), torch.from_numpy(image).permute(2, 0, 1),
                    image.astype(np.float32) / 255, np.dstack([image, np.full(image.shape[:2], 255, np.uint8)]),
                    Image.fromarray(image).convert("RGBA")):
        assert torch.equal(processor(images=variant)["pixel_values"], reference)


def test_grayscale_becomes_three_equal_channels(processor, image):
    gray = image[..., 0]
    for variant in (gray, Image.fromarray(gray), gray[..., None]):
        rgb = to_rgb_uint8(variant)
        assert rgb.shape == (*gray.shape, 3) and (rgb == gray[..., None]).all()


def test_normalisation_and_original_size(processor, image):
    flat = np.full((30, 50, 3), 255, np.uint8)
    inputs = processor(images=[flat, image])
    assert inputs["original_sizes"].tolist() == [[30, 50], [96, 160]]
    expected = (1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(inputs["pixel_values"][0, :, 5, 5], expected)


def test_video_resize_matches_the_official_video_loader(processor, image, tmp_path):
    """The official video predictor reads frames from JPEG files with its own loader."""
    misc = pytest.importorskip("sam2.utils.misc")
    path = tmp_path / "00000.jpg"
    Image.fromarray(image).save(path)
    official, height, width = misc._load_img_as_tensor(str(path), 1024)
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    official = (official.float() - mean) / std
    decoded = np.asarray(Image.open(path).convert("RGB"))
    ours = processor(images=decoded, resize_mode="video")["pixel_values"][0]
    assert (height, width) == image.shape[:2]
    assert torch.equal(ours, official)


def test_prompts_are_mapped_to_the_model_frame(processor, image):
    inputs = processor(images=image, input_points=[[[[80, 48]], [[0, 96], [160, 0]]]], input_labels=[[[1], [1, 0]]],
                       input_boxes=[[[16, 9.6, 160, 96], [0, 0, 80, 48]]])
    assert inputs["input_points"].shape == (1, 2, 2, 2)
    assert inputs["input_points"][0, 0, 0].tolist() == [512, 512]
    assert inputs["input_labels"].tolist() == [[[1, -1], [1, 0]]]  # the short object is padded
    assert inputs["input_points"][0, 1].tolist() == [[0, 1024], [1024, 0]]
    assert torch.allclose(inputs["input_boxes"][0, 0], torch.tensor([102.4, 102.4, 1024, 1024]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_points=[[[[161, 10]]]], input_labels=[[[1]]]), "outside image 0"),
        (dict(input_points=[[[[-1, 10]]]], input_labels=[[[1]]]), "outside image 0"),
        (dict(input_boxes=[[[0, 0, 50, 97]]]), "outside image 0"),
        (dict(input_boxes=[[[60, 0, 50, 40]]]), "x0 <= x1"),
        (dict(input_points=[[[[float("nan"), 10]]]], input_labels=[[[1]]]), "NaN"),
        (dict(input_points=[[[[10, 10]]]]), "given together"),
        (dict(input_points=[[[[10, 10], [20, 20]]]], input_labels=[[[1]]]), "one label"),
        (dict(input_points=[[[]]], input_labels=[[[]]]), "no point"),
        (dict(input_points=[[[[10, 10, 3]]]], input_labels=[[[1]]]), r"\[x, y\] pairs"),
        (dict(input_boxes=[[[0, 0, 50]]]), "x0, y0, x1, y1"),
    ],
)
def test_bad_prompts(processor, image, kwargs, message):
    with pytest.raises(ValueError, match=message):
        processor(images=image, **kwargs)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 10, 3), np.uint8), "shape"),
        (np.zeros((10, 10, 2), np.uint8), "shape"),
        (np.full((10, 10, 3), 2.0, np.float32), r"\[0, 1\]"),
        (np.full((10, 10, 3), np.nan, np.float32), "NaN"),
        ("not an image", "unsupported image type"),
    ],
)
def test_bad_images(processor, bad, message):
    with pytest.raises(ValueError, match=message):
        processor(images=bad)


def test_post_process_masks(processor):
    logits = torch.full((2, 3, 1, 256, 256), -5.0)
    logits[0, :, :, :128] = 5.0
    masks = processor.post_process_masks(logits, [[100, 200], [50, 60]])
    assert masks[0].shape == (3, 1, 100, 200) and masks[0].dtype == torch.bool
    assert masks[0][0, 0, :49].all() and not masks[0][0, 0, 51:].any()
    assert masks[1].shape == (3, 1, 50, 60) and not masks[1].any()
    soft = processor.post_process_masks(logits, torch.tensor([[100, 200], [50, 60]]), binarize=False)
    assert soft[0].dtype == torch.float32 and soft[0].max() == 5.0


def test_save_and_load(processor, tmp_path):
    processor.image_processor.image_size = 512
    processor.save_pretrained(tmp_path)
    assert Sam2Processor.from_pretrained(tmp_path).image_processor.image_size == 512


def test_image_resize_matches_the_official_image_transforms(processor):
    """The official image predictor resizes with torchvision. torchvision cannot be installed beside
    the CPU torch of CI, so this runs only where it imports (checked here with torch 2.14.1 +
    torchvision 0.29.1: identical on five image sizes)."""
    transforms = pytest.importorskip("torchvision.transforms")
    official = torch.nn.Sequential(
        transforms.Resize((1024, 1024)),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    )
    rng = np.random.default_rng(0)
    for shape in [(480, 640, 3), (300, 200, 3), (1500, 1100, 3)]:
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        expected = official(transforms.ToTensor()(image))
        assert torch.equal(processor(images=image)["pixel_values"][0], expected)
