"""Sam2MaskDecoderModel: the prompt encoder and mask decoder (SAM's heads) as a model of their own,
and the prompt decoding it shares with :class:`~sam2_hf.Sam2Model`."""

from __future__ import annotations

import torch
from torch import nn

from ..configuration import Sam2MaskDecoderConfig
from .mask_decoder import Sam2MaskDecoder
from .outputs import Sam2ImageFeatures, Sam2ImageSegmentationOutput
from .pretrained import Sam2PartModel
from .prompt_encoder import BOX_BOTTOM_RIGHT, BOX_TOP_LEFT, PADDING, Sam2PromptEncoder

_VALID_LABELS = (PADDING, 0, 1, BOX_TOP_LEFT, BOX_BOTTOM_RIGHT)


class PromptDecoding:
    """Image features + prompts -> masks, for any model holding ``prompt_encoder``,
    ``mask_decoder`` and ``no_memory_embedding`` (the decoder alone and the whole image model)."""

    prompt_encoder: Sam2PromptEncoder
    mask_decoder: Sam2MaskDecoder
    no_memory_embedding: nn.Parameter

    def image_features_from(self, feature_maps: list[torch.Tensor] | tuple[torch.Tensor, ...],
                            high_res_projected: bool = False) -> Sam2ImageFeatures:
        """What the heads read from the vision model's feature maps: the lowest-resolution level
        plus the no-memory embedding (single images get it in place of memory conditioning, as a
        video's first frame does) and the two high-resolution levels, projected once (already,
        with ``high_res_projected``: the image encoder applied the decoder's projections)."""
        feature_maps = [level.to(self.device, self.dtype) for level in feature_maps]
        image_embeddings = feature_maps[-1] + self.no_memory_embedding.reshape(1, -1, 1, 1)
        projections = self.mask_decoder.high_res_projections()
        high_res = (tuple(feature_maps[: len(projections)]) if high_res_projected
                    else tuple(self.mask_decoder.project_high_res_features(feature_maps)))
        return Sam2ImageFeatures(image_embeddings=image_embeddings, high_res_features=high_res)

    def decode_prompts(
        self,
        image_features: Sam2ImageFeatures,
        input_points: torch.Tensor | None,
        input_labels: torch.Tensor | None,
        input_boxes: torch.Tensor | None,
        input_masks: torch.Tensor | None,
        multimask_output: bool,
    ) -> Sam2ImageSegmentationOutput:
        """Masks of ``O`` objects in each of ``B`` images (see :meth:`Sam2Model.forward`)."""
        batch = image_features.image_embeddings.shape[0]
        coords, labels, masks, num_objects = self._prepare_prompts(batch, input_points, input_labels, input_boxes, input_masks)
        # One decoder row per (image, object); features are shared by the objects of an image.
        rows = torch.arange(batch, device=image_features.image_embeddings.device).repeat_interleave(num_objects)
        sparse, dense = self.prompt_encoder(coords, labels, masks, batch_size=batch * num_objects)
        decoded = self.mask_decoder(
            image_embeddings=image_features.image_embeddings[rows],
            image_pe=self.prompt_encoder.dense_position_encoding().to(self.dtype),
            sparse_embeddings=sparse,
            dense_embeddings=dense.to(self.dtype),
            multimask_output=multimask_output,
            high_res_features=[level[rows] for level in image_features.high_res_features],
        )
        return Sam2ImageSegmentationOutput(
            pred_masks=decoded.masks.unflatten(0, (batch, num_objects)),
            iou_scores=decoded.iou_scores.unflatten(0, (batch, num_objects)),
            object_score_logits=decoded.object_score_logits.unflatten(0, (batch, num_objects)),
            image_features=image_features,
        )

    def _prepare_prompts(
        self,
        batch: int,
        points: torch.Tensor | None,
        labels: torch.Tensor | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, int]:
        """Check the prompts and flatten them to one row per object; boxes become two labelled
        corner points placed before the clicks."""
        if points is None and boxes is None and masks is None:
            raise ValueError("no prompt given: pass input_points (with input_labels), input_boxes or input_masks")
        if (points is None) != (labels is None):
            raise ValueError("input_points and input_labels must be given together")
        num_objects = None
        device = self.no_memory_embedding.device
        coord_parts, label_parts = [], []
        if boxes is not None:
            boxes = torch.as_tensor(boxes, dtype=torch.float32, device=device)
            if boxes.ndim != 3 or boxes.shape[0] != batch or boxes.shape[-1] != 4:
                raise ValueError(f"input_boxes must have shape ({batch}, objects, 4), got {tuple(boxes.shape)}")
            _check_finite(boxes, "input_boxes")
            num_objects = boxes.shape[1]
            coord_parts.append(boxes.reshape(-1, 2, 2))
            label_parts.append(torch.tensor([[BOX_TOP_LEFT, BOX_BOTTOM_RIGHT]], device=device).expand(boxes.shape[0] * num_objects, 2))
        if points is not None:
            points = torch.as_tensor(points, dtype=torch.float32, device=device)
            labels = torch.as_tensor(labels, device=device).long()
            if points.ndim != 4 or points.shape[0] != batch or points.shape[-1] != 2:
                raise ValueError(f"input_points must have shape ({batch}, objects, points, 2), got {tuple(points.shape)}")
            if labels.shape != points.shape[:-1]:
                raise ValueError(f"input_labels must have shape {tuple(points.shape[:-1])}, got {tuple(labels.shape)}")
            _check_finite(points, "input_points")
            if not torch.isin(labels, torch.tensor(_VALID_LABELS, device=device)).all():
                raise ValueError(f"input_labels must be 1 (positive), 0 (negative) or -1 (padding); got {labels.unique().tolist()}")
            if num_objects is not None and points.shape[1] != num_objects:
                raise ValueError(f"{points.shape[1]} objects have points but {num_objects} have boxes")
            num_objects = points.shape[1]
            coord_parts.append(points.flatten(0, 1))
            label_parts.append(labels.flatten(0, 1))
        if masks is not None:
            size = self.prompt_encoder.mask_input_size
            masks = torch.as_tensor(masks, device=device)
            if masks.ndim != 4 or masks.shape[0] != batch or tuple(masks.shape[-2:]) != (size, size):
                raise ValueError(f"input_masks must have shape ({batch}, objects, {size}, {size}), got {tuple(masks.shape)}")
            _check_finite(masks, "input_masks")
            if num_objects is not None and masks.shape[1] != num_objects:
                raise ValueError(f"{masks.shape[1]} objects have masks but {num_objects} have points or boxes")
            num_objects = masks.shape[1]
            masks = masks.flatten(0, 1).unsqueeze(1).to(self.dtype)
        if num_objects == 0:
            raise ValueError("the prompts describe zero objects")
        coords = torch.cat(coord_parts, dim=1) if coord_parts else None
        labels = torch.cat(label_parts, dim=1) if label_parts else None
        return coords, labels, masks, num_objects


class Sam2MaskDecoderModel(PromptDecoding, Sam2PartModel):
    """SAM 2's prompt encoder and mask decoder alone: prompts + image features -> masks.

    Takes the feature maps of :class:`~sam2_hf.Sam2VisionModel` (computed once per image, and
    storable) and gives exactly the masks :class:`~sam2_hf.Sam2Model` gives for the same image.
    """

    config_class = Sam2MaskDecoderConfig
    config_key = "mask_decoder_config"
    description = "The prompt encoder and mask decoder"

    @staticmethod
    def build_components(config: Sam2MaskDecoderConfig) -> dict[str, nn.Module | nn.Parameter]:
        return {
            "prompt_encoder": Sam2PromptEncoder(config, config.image_size, config.image_embedding_size),
            "mask_decoder": Sam2MaskDecoder(config),
            # Added to single-image features in place of memory conditioning (as for a video's first frame).
            "no_memory_embedding": nn.Parameter(torch.zeros(1, 1, config.hidden_size)),
        }

    def forward(
        self,
        feature_maps: list[torch.Tensor] | tuple[torch.Tensor, ...] | None = None,
        input_points: torch.Tensor | None = None,
        input_labels: torch.Tensor | None = None,
        input_boxes: torch.Tensor | None = None,
        input_masks: torch.Tensor | None = None,
        image_features: Sam2ImageFeatures | None = None,
        multimask_output: bool = True,
        **kwargs,
    ) -> Sam2ImageSegmentationOutput:
        """Segment ``O`` objects in each of ``B`` images from their features.

        Args:
            feature_maps: :attr:`Sam2VisionOutput.feature_maps` of the images; or give
                ``image_features`` (from :meth:`image_features_from` or an earlier output) instead.
            input_points, input_labels, input_boxes, input_masks, multimask_output: as for
                :meth:`Sam2Model.forward`.
        """
        if image_features is None:
            if feature_maps is None:
                raise ValueError("give feature_maps (from Sam2VisionModel) or image_features")
            image_features = self.image_features_from(feature_maps)
        return self.decode_prompts(image_features, input_points, input_labels, input_boxes, input_masks, multimask_output)


def _check_finite(tensor: torch.Tensor, name: str) -> None:
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or infinite values")
