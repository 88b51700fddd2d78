"""Output dataclasses of the models."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


@dataclass
class Sam2VisionOutput(ModelOutput):
    """Output of :class:`~sam2_hf.Sam2VisionModel`: what the rest of SAM 2 needs from an image.

    Args:
        feature_maps: the FPN levels ``(B, C, h_i, w_i)``, highest resolution first (strides 4,
            8 and 16 for the released models); :class:`~sam2_hf.Sam2MaskDecoderModel` decodes
            prompts from them.
        position_encodings: the sine position encoding of each level ``(1, C, h_i, w_i)``.
    """

    feature_maps: tuple[torch.Tensor, ...] | None = None
    position_encodings: tuple[torch.Tensor, ...] | None = None


@dataclass
class Sam2ImageFeatures(ModelOutput):
    """Everything the heads need from one image, computed once and reusable for many prompts.

    Args:
        image_embeddings: lowest-resolution features ``(B, C, h, w)`` (64x64 at 1024 input).
        high_res_features: the stride-4 and stride-8 levels, already projected for the decoder.
    """

    image_embeddings: torch.Tensor | None = None
    high_res_features: tuple[torch.Tensor, ...] | None = None


@dataclass
class Sam2ImageSegmentationOutput(ModelOutput):
    """Output of :class:`~sam2_hf.Sam2Model` for ``B`` images with ``O`` objects (prompts) each.

    Args:
        pred_masks: low-resolution mask logits ``(B, O, M, 4h, 4w)`` (``M`` = 3 with multimask
            output, else 1); map them to the image with ``Sam2Processor.post_process_masks``.
        iou_scores: predicted IoU of each mask ``(B, O, M)``.
        object_score_logits: ``(B, O, 1)``; above 0 means the object is present.
        image_features: the features the masks were decoded from, to decode more prompts cheaply.
    """

    pred_masks: torch.Tensor | None = None
    iou_scores: torch.Tensor | None = None
    object_score_logits: torch.Tensor | None = None
    image_features: Sam2ImageFeatures | None = None


@dataclass
class Sam2FrameFeatures:
    """Image features of one video frame, repeated (as views) for each of ``N`` objects."""

    image_embeddings: torch.Tensor  # (N, C, h, w), without any memory conditioning
    high_res_features: tuple[torch.Tensor, ...]  # projected stride-4 and stride-8 levels
    position_encoding: torch.Tensor  # (1, C, h, w)

    def expand(self, num_objects: int) -> "Sam2FrameFeatures":
        return Sam2FrameFeatures(
            self.image_embeddings.expand(num_objects, -1, -1, -1),
            tuple(level.expand(num_objects, -1, -1, -1) for level in self.high_res_features),
            self.position_encoding,
        )


@dataclass
class Sam2MemoryTokens:
    """What a batch of objects attends to: spatial memories then object-pointer tokens."""

    tokens: torch.Tensor  # (N, M, D)
    position: torch.Tensor  # (N, M, D)
    num_pointer_tokens: int
