"""Sam2Model: promptable segmentation of single images."""

from __future__ import annotations

import torch
from torch import nn

from ..configuration import Sam2Config
from .mask_decoder import Sam2MaskDecoder
from .outputs import Sam2ImageFeatures, Sam2ImageSegmentationOutput
from .pretrained import Sam2PreTrainedModel
from .prompt_encoder import BOX_BOTTOM_RIGHT, BOX_TOP_LEFT, PADDING, Sam2PromptEncoder
from .vision_encoder import Sam2VisionEncoder

_VALID_LABELS = (PADDING, 0, 1, BOX_TOP_LEFT, BOX_BOTTOM_RIGHT)


class Sam2Model(Sam2PreTrainedModel):
    """Image encoder + prompt encoder + mask decoder.

    Loading a video checkpoint into this class keeps the image part and skips the memory modules.
    """

    # Tensors of the video model that the image model does not use.
    _keys_to_ignore_on_load_unexpected = [
        r"^memory_attention\.", r"^memory_encoder\.", r"^mask_prompt_downsample\.", r"^object_pointer_proj\.",
        r"^object_pointer_tpos_proj\.", r"^memory_temporal_encoding$", r"^no_memory_pos_enc$",
        r"^no_object_pointer$", r"^no_object_spatial_embedding$",
    ]

    def __init__(self, config: Sam2Config) -> None:
        super().__init__(config)
        hidden = config.mask_decoder_config.hidden_size
        if config.vision_config.fpn_hidden_size != hidden:
            raise ValueError("the FPN width must equal the mask decoder width")
        self.vision_encoder = Sam2VisionEncoder(config.vision_config)
        self.prompt_encoder = Sam2PromptEncoder(config.mask_decoder_config, config.image_size, config.image_embedding_size)
        self.mask_decoder = Sam2MaskDecoder(config.mask_decoder_config)
        # Added to single-image features in place of memory conditioning (as for a video's first frame).
        self.no_memory_embedding = nn.Parameter(torch.zeros(1, 1, hidden))
        self.post_init()

    def get_image_features(self, pixel_values: torch.Tensor) -> Sam2ImageFeatures:
        """Encode preprocessed images ``(B, 3, S, S)`` once; decode any number of prompts from it."""
        expected = (3, self.config.image_size, self.config.image_size)
        if pixel_values.ndim != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise ValueError(f"pixel_values must have shape (batch, {', '.join(map(str, expected))}), got {tuple(pixel_values.shape)}")
        levels = self.vision_encoder(pixel_values.to(self.device, self.dtype))
        image_embeddings = levels[-1] + self.no_memory_embedding.reshape(1, -1, 1, 1)
        high_res = tuple(self.mask_decoder.project_high_res_features(levels))
        return Sam2ImageFeatures(image_embeddings=image_embeddings, high_res_features=high_res)

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        input_points: torch.Tensor | None = None,
        input_labels: torch.Tensor | None = None,
        input_boxes: torch.Tensor | None = None,
        input_masks: torch.Tensor | None = None,
        image_features: Sam2ImageFeatures | None = None,
        multimask_output: bool = True,
        **kwargs,
    ) -> Sam2ImageSegmentationOutput:
        """Segment ``O`` objects in each of ``B`` images.

        Args:
            pixel_values: ``(B, 3, S, S)`` from :class:`~sam2_hf.Sam2Processor`; or give
                ``image_features`` from :meth:`get_image_features` instead.
            input_points: ``(B, O, P, 2)`` click coordinates in model-input pixels (``x, y``).
            input_labels: ``(B, O, P)``: 1 positive, 0 negative, -1 padding.
            input_boxes: ``(B, O, 4)`` boxes ``x0, y0, x1, y1`` in model-input pixels.
            input_masks: ``(B, O, 4h, 4w)`` mask logits (e.g. an earlier ``pred_masks``).
            multimask_output: return three candidate masks instead of one.
        """
        if image_features is None:
            if pixel_values is None:
                raise ValueError("give pixel_values or image_features")
            image_features = self.get_image_features(pixel_values)
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


def _check_finite(tensor: torch.Tensor, name: str) -> None:
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or infinite values")
