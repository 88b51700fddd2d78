"""Sam2Model: promptable segmentation of single images."""

from __future__ import annotations

import torch

from ..configuration import Sam2Config
from .mask_decoder_model import PromptDecoding, Sam2MaskDecoderModel
from .outputs import Sam2ImageFeatures, Sam2ImageSegmentationOutput
from .pretrained import Sam2PreTrainedModel, adopt_components
from .vision_encoder import Sam2VisionModel


class Sam2Model(PromptDecoding, Sam2PreTrainedModel):
    """Image encoder + prompt encoder + mask decoder, built from :class:`~sam2_hf.Sam2VisionModel`
    and :class:`~sam2_hf.Sam2MaskDecoderModel` (their tensors keep their names here).

    Loading a video checkpoint into this class keeps the image part and skips the memory modules.
    """

    part_classes: tuple[type, ...] = (Sam2VisionModel, Sam2MaskDecoderModel)
    # Tensors of the video model that the image model does not use.
    _keys_to_ignore_on_load_unexpected = [
        r"^memory_attention\.", r"^memory_encoder\.", r"^mask_prompt_downsample\.", r"^object_pointer_proj\.",
        r"^object_pointer_tpos_proj\.", r"^memory_temporal_encoding$", r"^no_memory_pos_enc$",
        r"^no_object_pointer$", r"^no_object_spatial_embedding$",
    ]

    def __init__(self, config: Sam2Config) -> None:
        super().__init__(config)
        for part in self.part_classes:
            for name, component in part.build_components(part.config_from_whole(config)).items():
                setattr(self, name, component)
        self.post_init()

    @classmethod
    def from_parts(cls, *parts):
        """The whole model from one of each of its parts (``Sam2VisionModel``,
        ``Sam2MaskDecoderModel`` and, for the video model, ``Sam2MemoryModel``), sharing their
        tensors: e.g. a decoder fine-tuned elsewhere on the vision model of a checkpoint.

        Raises:
            ValueError: when a part is missing or the parts are of different sizes (naming both).
        """
        by_class = {type(part): part for part in parts}
        wanted = [part_class.__name__ for part_class in cls.part_classes]
        if len(parts) != len(cls.part_classes) or set(by_class) != set(cls.part_classes):
            raise ValueError(f"{cls.__name__}.from_parts takes one each of {', '.join(wanted)}; "
                             f"got {', '.join(type(part).__name__ for part in parts)}")
        config = Sam2Config.from_parts(**{part_class.config_key: by_class[part_class].config for part_class in cls.part_classes})
        with torch.device("meta"):  # nothing allocated: every component comes from the parts
            model = cls(config)
        adopt_components(model, [by_class[part_class] for part_class in cls.part_classes])
        return model.train(by_class[cls.part_classes[0]].training)

    @property
    def vision_model(self) -> Sam2VisionModel:
        """The image encoder as a :class:`~sam2_hf.Sam2VisionModel` sharing this model's tensors."""
        return Sam2VisionModel.view_of(self)

    @property
    def mask_decoder_model(self) -> Sam2MaskDecoderModel:
        """Prompt encoder + mask decoder as a :class:`~sam2_hf.Sam2MaskDecoderModel` sharing this model's tensors."""
        return Sam2MaskDecoderModel.view_of(self)

    def get_image_features(self, pixel_values: torch.Tensor) -> Sam2ImageFeatures:
        """Encode preprocessed images ``(B, 3, S, S)`` once; decode any number of prompts from it."""
        expected = (3, self.config.image_size, self.config.image_size)
        if pixel_values.ndim != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise ValueError(f"pixel_values must have shape (batch, {', '.join(map(str, expected))}), got {tuple(pixel_values.shape)}")
        levels = self.vision_encoder(pixel_values.to(self.device, self.dtype), self.mask_decoder.high_res_projections())
        return self.image_features_from(levels, high_res_projected=True)

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
        return self.decode_prompts(image_features, input_points, input_labels, input_boxes, input_masks, multimask_output)
