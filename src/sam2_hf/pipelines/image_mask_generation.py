"""``pipeline("image-mask-generation")``: clicks or a box in, masks and scores out.

transformers' own ``mask-generation`` task is SAM's automatic generator written against SAM's
image processor; this entry serves both uses for SAM 2: with ``points`` / ``box`` it segments
the prompted object, with neither it finds every object (``points_per_side`` grid).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..inference.automatic import AutomaticMaskGenerator
from ..processing.image_processor import to_rgb_uint8
from ..processing.processor import Sam2Processor
from .base import AUTOMATIC_OPTIONS, Sam2Pipeline


def load_image(image: Any) -> np.ndarray:
    """A path, PIL image, array or tensor -> ``(H, W, 3)`` uint8, with a one-line error."""
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise ValueError(f"image not found: {path}")
        try:
            image = Image.open(path)
            image.load()
        except OSError as error:
            raise ValueError(f"cannot read {path} as an image: {error}") from None
    return to_rgb_uint8(image)


class ImageMaskGenerationPipeline(Sam2Pipeline):
    """Segment an image: ``pipe(image, points=[[x, y]], labels=[1])``, ``pipe(image, box=[x0, y0,
    x1, y1])`` or ``pipe(image)`` for every object.

    Returns ``{"masks": bool (K, H, W), "scores": (K,)}`` at the image's size, best first;
    ``scores`` are the model's predicted IoU. A single click gives three candidate masks
    (``multimask_output`` overrides); with no prompt, the options of
    :class:`~sam2_hf.inference.automatic.AutomaticMaskGenerator` apply.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sam_processor = Sam2Processor.from_config(self.model.config)

    def _sanitize_parameters(self, points=None, labels=None, box=None, multimask_output=None, **automatic):
        unknown = set(automatic) - AUTOMATIC_OPTIONS
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)} for image-mask-generation")
        preprocess = {k: v for k, v in {"points": points, "labels": labels, "box": box}.items() if v is not None}
        forward = {"automatic": automatic} if automatic else {}
        if multimask_output is not None:
            forward["multimask_output"] = multimask_output
        return preprocess, forward, {}

    def preprocess(self, image: Any, points=None, labels=None, box=None) -> dict:
        image = load_image(image)
        prompts: dict[str, Any] = {}
        if points is not None:
            points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
            labels = np.ones(len(points), np.int64) if labels is None else np.asarray(labels).reshape(-1)
            if len(labels) != len(points):
                raise ValueError(f"{len(points)} points but {len(labels)} labels")
            prompts["input_points"] = [[points.tolist()]]
            prompts["input_labels"] = [[labels.tolist()]]
        if box is not None:
            prompts["input_boxes"] = [[np.asarray(box, dtype=np.float64).reshape(4).tolist()]]
        inputs = self.sam_processor(images=image, **prompts) if prompts else {}
        return {"image": image, "num_points": 0 if points is None else len(points), "has_box": box is not None, **inputs}

    def _forward(self, inputs: dict, multimask_output: bool | None = None, automatic: dict | None = None) -> dict:
        image = inputs["image"]
        if "pixel_values" not in inputs:
            found = AutomaticMaskGenerator(self.model, **(automatic or {})).generate(image)
            masks = np.stack([m.segmentation for m in found]) if found else np.zeros((0, *image.shape[:2]), bool)
            return {"masks": masks, "scores": np.array([m.predicted_iou for m in found], np.float32)}
        if multimask_output is None:
            # One click is ambiguous: ask for three masks, as the reference does.
            multimask_output = inputs["num_points"] <= 1 and not inputs["has_box"]
        model_inputs = {k: inputs[k] for k in ("pixel_values", "input_points", "input_labels", "input_boxes") if k in inputs}
        outputs = self.model(**model_inputs, multimask_output=multimask_output)
        masks = self.sam_processor.post_process_masks(outputs.pred_masks, inputs["original_sizes"])[0][0]
        return {"masks": masks.cpu().numpy(), "scores": outputs.iou_scores[0, 0].float().cpu().numpy()}

    def postprocess(self, outputs: dict) -> dict:
        order = np.argsort(-outputs["scores"], kind="stable")
        return {"masks": outputs["masks"][order], "scores": outputs["scores"][order]}
