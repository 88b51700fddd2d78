"""Automatic masks: prompt a grid of single clicks, keep the good, distinct masks.

This is the automatic stage of the paper's data engine (and SAM's "segment everything"): one
image encoding, one decoder pass per batch of grid points with three candidate masks each, then
filters on the predicted IoU and on the stability score (how little the mask changes when the
logit threshold moves by ``stability_score_offset``), and greedy box non-maximum suppression so
each object is kept once. Defaults are the reference automatic generator's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..modeling.sam2_model import Sam2Model
from ..processing.image_processor import ImageInput, to_rgb_uint8
from ..processing.processor import Sam2Processor


@dataclass
class AutomaticMask:
    """One object found by :class:`AutomaticMaskGenerator` (``segmentation`` at image size)."""

    segmentation: np.ndarray
    predicted_iou: float
    stability_score: float
    box: tuple[int, int, int, int]
    point: tuple[float, float]

    @property
    def area(self) -> int:
        return int(self.segmentation.sum())


def point_grid(points_per_side: int, height: int, width: int) -> torch.Tensor:
    """``(n*n, 2)`` click positions ``x, y`` at the centres of an ``n x n`` grid of cells."""
    offsets = (torch.arange(points_per_side, dtype=torch.float32) + 0.5) / points_per_side
    ys, xs = torch.meshgrid(offsets * height, offsets * width, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=-1)


def stability_score(logits: torch.Tensor, threshold: float, offset: float) -> torch.Tensor:
    """IoU between the masks thresholded at ``threshold + offset`` and ``threshold - offset``."""
    inner = (logits > threshold + offset).flatten(1).sum(-1).float()
    outer = (logits > threshold - offset).flatten(1).sum(-1).float()
    return torch.where(outer > 0, inner / outer.clamp(min=1), torch.zeros_like(outer))


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` bool -> ``(N, 4)`` boxes ``x0, y0, x1, y1`` (inclusive pixel bounds)."""
    boxes = torch.zeros(len(masks), 4)
    for i, mask in enumerate(masks):
        rows, cols = torch.nonzero(mask.any(1)).flatten(), torch.nonzero(mask.any(0)).flatten()
        if len(rows):
            boxes[i] = torch.tensor([cols[0], rows[0], cols[-1], rows[-1]], dtype=torch.float32)
    return boxes


def box_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = scores.argsort(descending=True).tolist()
    areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    kept: list[int] = []
    for index in order:
        if kept:
            others = boxes[kept]
            top_left = torch.maximum(others[:, :2], boxes[index, :2])
            bottom_right = torch.minimum(others[:, 2:], boxes[index, 2:])
            overlap = (bottom_right - top_left + 1).clamp(min=0).prod(-1)
            iou = overlap / (areas[kept] + areas[index] - overlap)
            if (iou > iou_threshold).any():
                continue
        kept.append(index)
    return kept


class AutomaticMaskGenerator:
    """Every object in an image from a grid of clicks.

    Args:
        model: any :class:`~sam2_hf.Sam2Model` (a video model works too).
        points_per_side: the grid is ``points_per_side x points_per_side`` clicks.
        points_per_batch: clicks decoded together (trades memory for speed).
        pred_iou_thresh: drop masks whose predicted IoU is lower.
        stability_score_thresh: drop masks whose stability score is lower.
        stability_score_offset: logit offset of the stability score.
        box_nms_thresh: box IoU above which the lower-scored of two masks is dropped.
        min_mask_area: drop masks with fewer pixels.
    """

    def __init__(
        self,
        model: Sam2Model,
        points_per_side: int = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.8,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        box_nms_thresh: float = 0.7,
        min_mask_area: int = 1,
    ) -> None:
        if points_per_side < 1 or points_per_batch < 1:
            raise ValueError("points_per_side and points_per_batch must be at least 1")
        self.model = model
        self.processor = Sam2Processor.from_config(model.config)
        self.points_per_side = points_per_side
        self.points_per_batch = points_per_batch
        self.pred_iou_thresh = pred_iou_thresh
        self.stability_score_thresh = stability_score_thresh
        self.stability_score_offset = stability_score_offset
        self.box_nms_thresh = box_nms_thresh
        self.min_mask_area = min_mask_area

    @torch.no_grad()
    def generate(self, image: ImageInput) -> list[AutomaticMask]:
        """The distinct, confident masks of ``image``, best predicted IoU first."""
        image = to_rgb_uint8(image)
        height, width = image.shape[:2]
        inputs = self.processor(images=image)
        features = self.model.get_image_features(inputs["pixel_values"])
        threshold = self.model.config.mask_threshold
        grid = point_grid(self.points_per_side, height, width)
        candidates: list[tuple[torch.Tensor, float, float, tuple[float, float]]] = []
        for batch in grid.split(self.points_per_batch):
            coords = self.processor.image_processor.map_coordinates(batch, (height, width))
            outputs = self.model(
                image_features=features,
                input_points=coords[None, :, None].to(self.model.device),
                input_labels=torch.ones(1, len(batch), 1, dtype=torch.long, device=self.model.device),
                multimask_output=True,
            )
            scores = outputs.iou_scores[0].float().cpu()  # (points, 3)
            logits = outputs.pred_masks[0].float().cpu()  # (points, 3, h, w)
            keep = scores > self.pred_iou_thresh
            if not keep.any():
                continue
            point_index, mask_index = torch.nonzero(keep, as_tuple=True)
            kept_logits = logits[point_index, mask_index]
            full = self.processor.post_process_masks([kept_logits], [(height, width)], binarize=False)[0]
            stability = stability_score(full, threshold, self.stability_score_offset)
            for row in torch.nonzero(stability >= self.stability_score_thresh).flatten().tolist():
                mask = full[row] > threshold
                if int(mask.sum()) >= self.min_mask_area:
                    point = batch[point_index[row]]
                    candidates.append((mask, float(scores[point_index[row], mask_index[row]]), float(stability[row]),
                                       (float(point[0]), float(point[1]))))
        if not candidates:
            return []
        masks = torch.stack([c[0] for c in candidates])
        boxes = mask_boxes(masks)
        kept = box_nms(boxes, torch.tensor([c[1] for c in candidates]), self.box_nms_thresh)
        return [
            AutomaticMask(
                segmentation=masks[i].numpy(),
                predicted_iou=candidates[i][1],
                stability_score=candidates[i][2],
                box=tuple(int(v) for v in boxes[i].tolist()),
                point=candidates[i][3],
            )
            for i in kept
        ]
