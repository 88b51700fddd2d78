"""Sam2Processor: images + prompts in original pixels -> model inputs, following transformers'
SAM 2 conventions (nesting image -> object -> point -> coordinate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import BatchFeature

from ..configuration import Sam2Config
from .image_processor import CONFIG_NAME, ImageInput, ResizeMode, Sam2ImageProcessor

PAD_LABEL = -1


class Sam2Processor:
    """Prepares images and prompts for :class:`~sam2_hf.Sam2Model` and maps its masks back.

    Example::

        inputs = processor(images=image, input_points=[[[[450, 600]]]], input_labels=[[[1]]])
        outputs = model(**inputs)
        masks = processor.post_process_masks(outputs.pred_masks, inputs["original_sizes"])
    """

    def __init__(self, image_processor: Sam2ImageProcessor | None = None) -> None:
        self.image_processor = image_processor or Sam2ImageProcessor()

    @classmethod
    def from_config(cls, config: Sam2Config) -> "Sam2Processor":
        """The processor matching a model config (input size, normalisation, threshold)."""
        return cls(Sam2ImageProcessor(config.image_size, config.image_mean, config.image_std, config.mask_threshold))

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "Sam2Processor":
        """Read ``preprocessor_config.json`` of a folder written by :meth:`save_pretrained`; a
        folder without one (e.g. a bare model) gets the SAM 2 defaults."""
        path = Path(folder) / CONFIG_NAME
        if not path.is_file():
            return cls()
        return cls(Sam2ImageProcessor(**json.loads(path.read_text())))

    def save_pretrained(self, folder: str | Path) -> None:
        self.image_processor.save_pretrained(folder)

    def __call__(
        self,
        images: ImageInput | Sequence[ImageInput],
        input_points: Sequence | torch.Tensor | None = None,
        input_labels: Sequence | torch.Tensor | None = None,
        input_boxes: Sequence | torch.Tensor | None = None,
        resize_mode: ResizeMode = "image",
        return_tensors: str = "pt",
        **kwargs: Any,
    ) -> BatchFeature:
        """Args:
            images: one image or a list (PIL, numpy HWC / HW, torch CHW).
            input_points: ``[image][object][point] = [x, y]`` in original pixels.
            input_labels: ``[image][object][point]``: 1 positive, 0 negative. Objects with fewer
                points are padded with label -1.
            input_boxes: ``[image][object] = [x0, y0, x1, y1]`` in original pixels.
            resize_mode: ``"image"`` (image predictor) or ``"video"`` (video predictor) resizing.

        Returns ``pixel_values``, ``original_sizes`` and the prompts mapped to the model frame.
        """
        if return_tensors != "pt":
            raise ValueError("only return_tensors='pt' is supported")
        if isinstance(images, (list, tuple)):
            image_list = list(images)
        else:
            image_list = [images]
        if not image_list:
            raise ValueError("no image given")
        processed = [self.image_processor.preprocess(image, resize_mode) for image in image_list]
        sizes = [size for _, size in processed]
        data: dict[str, torch.Tensor] = {
            "pixel_values": torch.stack([pixels for pixels, _ in processed]),
            "original_sizes": torch.tensor(sizes),
        }
        if (input_points is None) != (input_labels is None):
            raise ValueError("input_points and input_labels must be given together")
        if input_points is not None:
            points, labels = _pad_points(input_points, input_labels, len(image_list))
            _check_inside(points, labels != PAD_LABEL, sizes, "point")
            data["input_points"] = self._map(points, sizes)
            data["input_labels"] = labels
        if input_boxes is not None:
            boxes = _as_float_tensor(input_boxes, "input_boxes")
            if boxes.ndim != 3 or boxes.shape[0] != len(image_list) or boxes.shape[-1] != 4:
                raise ValueError(f"input_boxes must be nested [image][object][x0, y0, x1, y1], got shape {tuple(boxes.shape)}")
            corners = boxes.reshape(boxes.shape[0], boxes.shape[1], 2, 2)
            _check_inside(corners, torch.ones(corners.shape[:-1], dtype=torch.bool), sizes, "box corner")
            if (boxes[..., 2] < boxes[..., 0]).any() or (boxes[..., 3] < boxes[..., 1]).any():
                raise ValueError("boxes must be [x0, y0, x1, y1] with x0 <= x1 and y0 <= y1")
            data["input_boxes"] = self._map(corners, sizes).reshape(boxes.shape)
        return BatchFeature(data=data, tensor_type="pt")

    def _map(self, coords: torch.Tensor, sizes: list[tuple[int, int]]) -> torch.Tensor:
        return torch.stack([self.image_processor.map_coordinates(c, size) for c, size in zip(coords, sizes)])

    def post_process_masks(self, masks, original_sizes, binarize: bool = True, mask_threshold: float | None = None):
        """See :meth:`Sam2ImageProcessor.post_process_masks`."""
        return self.image_processor.post_process_masks(masks, original_sizes, binarize, mask_threshold)


def _as_float_tensor(value: Sequence | torch.Tensor, name: str) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(value, dtype=torch.float32)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} must be a regular nested list of numbers: {error}") from None
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return tensor


def _pad_points(points: Sequence | torch.Tensor, labels: Sequence | torch.Tensor, num_images: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nested lists -> ``(B, O, P, 2)`` points and ``(B, O, P)`` labels, padding short objects."""
    if isinstance(points, torch.Tensor):
        return _as_float_tensor(points, "input_points"), torch.as_tensor(labels).long()
    if len(points) != num_images or len(labels) != num_images:
        raise ValueError(f"input_points / input_labels need one entry per image ({num_images})")
    num_objects = {len(objects) for objects in points}
    if len(num_objects) != 1:
        raise ValueError("every image needs the same number of objects")
    longest = max((len(obj) for objects in points for obj in objects), default=0)
    if longest == 0:
        raise ValueError("input_points holds no point")
    padded_points, padded_labels = [], []
    for objects, object_labels in zip(points, labels):
        if len(objects) != len(object_labels):
            raise ValueError("input_points and input_labels disagree on the number of objects")
        for obj, obj_labels in zip(objects, object_labels):
            if len(obj) != len(obj_labels):
                raise ValueError("every point needs exactly one label")
            missing = longest - len(obj)
            padded_points.append(list(obj) + [[0.0, 0.0]] * missing)
            padded_labels.append(list(obj_labels) + [PAD_LABEL] * missing)
    point_tensor = _as_float_tensor(padded_points, "input_points")
    if point_tensor.shape[-1] != 2:
        raise ValueError(f"points must be [x, y] pairs, got shape {tuple(point_tensor.shape)}")
    shape = (num_images, num_objects.pop(), longest)
    return point_tensor.reshape(*shape, 2), torch.as_tensor(padded_labels).long().reshape(shape)


def _check_inside(coords: torch.Tensor, valid: torch.Tensor, sizes: list[tuple[int, int]], what: str) -> None:
    """Raise for any valid ``(x, y)`` outside ``[0, W] x [0, H]`` of its image."""
    for image_index, (height, width) in enumerate(sizes):
        xy = coords[image_index][valid[image_index]]
        outside = (xy[:, 0] < 0) | (xy[:, 0] > width) | (xy[:, 1] < 0) | (xy[:, 1] > height)
        if outside.any():
            x, y = xy[outside][0].tolist()
            raise ValueError(f"{what} ({x:g}, {y:g}) lies outside image {image_index} of size {width}x{height} (WxH)")
