"""Image side of the processor: pixels in, model input out, and mask logits back to pixels.

Two resize conventions exist in the reference and both are needed for exact parity:
``"image"`` (the official image predictor: antialiased bilinear resize of the float image) and
``"video"`` (the official video predictor: PIL's default bicubic resize of the uint8 frame).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ImageInput = Union[Image.Image, np.ndarray, torch.Tensor]
ResizeMode = Literal["image", "video"]
CONFIG_NAME = "preprocessor_config.json"


def to_rgb_uint8(image: ImageInput) -> np.ndarray:
    """Any supported image as an ``(H, W, 3)`` uint8 array.

    Accepts PIL images (any mode), numpy arrays ``(H, W)``, ``(H, W, 1|3|4)`` (uint8, or float in
    ``[0, 1]``) and torch tensors ``(3, H, W)`` / ``(H, W)`` with the same value conventions.
    Alpha channels are dropped, grayscale is repeated to three channels.
    """
    if isinstance(image, Image.Image):
        return np.array(image.convert("RGB"))
    if isinstance(image, torch.Tensor):
        array = image.detach().cpu()
        if array.ndim == 3 and array.shape[0] in (1, 3, 4):
            array = array.permute(1, 2, 0)
        image = array.numpy()
    if not isinstance(image, np.ndarray):
        raise ValueError(f"unsupported image type {type(image).__name__}; use a PIL image, numpy array or torch tensor")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4) or min(image.shape[:2]) == 0:
        raise ValueError(f"an image must be (H, W), (H, W, 1|3|4) or (3, H, W) for tensors, got shape {image.shape}")
    if image.dtype != np.uint8:
        image = image.astype(np.float32)
        if not np.isfinite(image).all():
            raise ValueError("the image contains NaN or infinite values")
        if image.min() < 0 or image.max() > 1:
            raise ValueError("float images must hold values in [0, 1]")
        image = np.round(image * 255).astype(np.uint8)
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return np.array(image[..., :3])  # a writable copy that owns its memory


class Sam2ImageProcessor:
    """Resizes to the square model input (no padding, no aspect ratio kept), normalises, and
    maps coordinates and masks between the original image and the model frame."""

    def __init__(
        self,
        image_size: int = 1024,
        image_mean: Sequence[float] = (0.485, 0.456, 0.406),
        image_std: Sequence[float] = (0.229, 0.224, 0.225),
        mask_threshold: float = 0.0,
    ) -> None:
        self.image_size = image_size
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)
        self.mask_threshold = mask_threshold

    def to_dict(self) -> dict:
        return dict(image_size=self.image_size, image_mean=self.image_mean, image_std=self.image_std,
                    mask_threshold=self.mask_threshold)

    def save_pretrained(self, folder: str | Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / CONFIG_NAME).write_text(json.dumps(self.to_dict(), indent=2))

    def preprocess(self, image: ImageInput, resize_mode: ResizeMode = "image") -> tuple[torch.Tensor, tuple[int, int]]:
        """One image -> ``(pixel_values (3, S, S) float32, (height, width) of the original)``."""
        rgb = to_rgb_uint8(image)
        size = self.image_size
        if resize_mode == "image":
            pixels = torch.from_numpy(rgb).permute(2, 0, 1).float().div(255)
            pixels = F.interpolate(pixels[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]
        elif resize_mode == "video":
            resized = np.array(Image.fromarray(rgb).resize((size, size), Image.Resampling.BICUBIC))
            pixels = torch.from_numpy(resized).permute(2, 0, 1).float().div(255)
        else:
            raise ValueError(f"resize_mode must be 'image' or 'video', got {resize_mode!r}")
        mean = torch.tensor(self.image_mean).view(3, 1, 1)
        std = torch.tensor(self.image_std).view(3, 1, 1)
        return (pixels - mean) / std, rgb.shape[:2]

    def map_coordinates(self, coords: torch.Tensor, original_size: tuple[int, int]) -> torch.Tensor:
        """``(..., 2)`` pixel ``(x, y)`` of the original image -> model-input pixels."""
        height, width = original_size
        scale = torch.tensor([width, height], dtype=coords.dtype, device=coords.device)
        return coords / scale * self.image_size

    def post_process_masks(
        self,
        masks: torch.Tensor | Sequence[torch.Tensor],
        original_sizes: Sequence[Sequence[int]] | torch.Tensor,
        binarize: bool = True,
        mask_threshold: float | None = None,
    ) -> list[torch.Tensor]:
        """Low-res logits ``(B, ..., h, w)`` -> one tensor per image at its original size
        (bilinear, as the reference), thresholded when ``binarize``."""
        threshold = self.mask_threshold if mask_threshold is None else mask_threshold
        if isinstance(original_sizes, torch.Tensor):
            original_sizes = original_sizes.tolist()
        if len(masks) != len(original_sizes):
            raise ValueError(f"{len(masks)} mask sets but {len(original_sizes)} original sizes")
        results = []
        for image_masks, (height, width) in zip(masks, original_sizes):
            leading = image_masks.shape[:-2]
            flat = image_masks.reshape(-1, 1, *image_masks.shape[-2:]).float()
            resized = F.interpolate(flat, size=(int(height), int(width)), mode="bilinear", align_corners=False)
            resized = resized.reshape(*leading, int(height), int(width))
            results.append(resized > threshold if binarize else resized)
        return results
