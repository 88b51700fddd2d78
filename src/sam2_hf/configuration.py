"""Configuration of SAM 2: one top-level :class:`Sam2Config` with three documented sub-configs.

Every released checkpoint (SAM 2.0 and 2.1; tiny, small, base-plus, large) has a preset, see
:meth:`Sam2Config.from_preset`. The sizes differ only in the Hiera trunk; the 2.0 -> 2.1 change
touches only the memory side (object-pointer temporal encoding, the no-object spatial embedding).
"""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedConfig

MODEL_TYPE = "sam2_hf"
# Sizes a config may ask for: a config.json from anywhere is checked before any tensor is allocated.
MAX_WIDTH, MAX_LAYERS, MAX_IMAGE_SIZE = 8192, 256, 8192


def check_range(config: PreTrainedConfig, field: str, low: int, high: int) -> None:
    """Refuse ``config.field`` (an int or a list of them) outside ``low..high``, naming it."""
    value = getattr(config, field)
    values = value if isinstance(value, (list, tuple)) else [value]
    if not all(isinstance(v, (int, float)) and low <= v <= high for v in values):
        raise ValueError(f"{type(config).__name__}.{field} = {value!r} is outside the sizes a model may have "
                         f"({low} to {high})")


class Sam2VisionConfig(PreTrainedConfig):
    """Hiera trunk + FPN neck.

    Args:
        embed_dim: channels of the first Hiera stage; each later stage multiplies it by ``dim_mul``.
        num_heads: attention heads of the first stage; each later stage multiplies it by ``head_mul``.
        stages: number of blocks in each of the four stages.
        global_attention_blocks: indices of the blocks that attend globally instead of in windows.
        window_spec: attention window size of each stage (a stage's first block, which pools the
            query, still uses the previous stage's window).
        window_pos_embed_background_size: spatial size of the learned background position
            embedding, bicubically resized to the patch grid.
        num_query_pool_stages: how many stage transitions halve the resolution with query pooling.
        query_stride: pooling stride at those transitions.
        dim_mul, head_mul: channel and head multipliers at each stage transition.
        mlp_ratio: hidden width of the block MLPs relative to their input.
        patch_kernel_size, patch_stride, patch_padding: the convolutional patch embedding.
        fpn_hidden_size: channels of every FPN output level.
        fpn_top_down_levels: levels (0 = highest resolution) that receive the upsampled deeper level.
        fpn_interpolation: interpolation of the top-down path.
        num_feature_levels: FPN levels handed to the heads; the deepest ones beyond this are dropped
            (the reference's ``scalp``).
    """

    model_type = "sam2_hf_vision"
    base_config_key = "vision_config"

    def __init__(
        self,
        embed_dim: int = 96,
        num_heads: int = 1,
        stages: list[int] | tuple[int, ...] = (1, 2, 7, 2),
        global_attention_blocks: list[int] | tuple[int, ...] = (5, 7, 9),
        window_spec: list[int] | tuple[int, ...] = (8, 4, 14, 7),
        window_pos_embed_background_size: list[int] | tuple[int, int] = (7, 7),
        num_query_pool_stages: int = 3,
        query_stride: int = 2,
        dim_mul: float = 2.0,
        head_mul: float = 2.0,
        mlp_ratio: float = 4.0,
        patch_kernel_size: int = 7,
        patch_stride: int = 4,
        patch_padding: int = 3,
        fpn_hidden_size: int = 256,
        fpn_top_down_levels: list[int] | tuple[int, ...] = (2, 3),
        fpn_interpolation: str = "nearest",
        num_feature_levels: int = 3,
        **kwargs: Any,
    ) -> None:
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.stages = list(stages)
        self.global_attention_blocks = list(global_attention_blocks)
        self.window_spec = list(window_spec)
        self.window_pos_embed_background_size = list(window_pos_embed_background_size)
        self.num_query_pool_stages = num_query_pool_stages
        self.query_stride = query_stride
        self.dim_mul = dim_mul
        self.head_mul = head_mul
        self.mlp_ratio = mlp_ratio
        self.patch_kernel_size = patch_kernel_size
        self.patch_stride = patch_stride
        self.patch_padding = patch_padding
        self.fpn_hidden_size = fpn_hidden_size
        self.fpn_top_down_levels = list(fpn_top_down_levels)
        self.fpn_interpolation = fpn_interpolation
        self.num_feature_levels = num_feature_levels
        for field in ("embed_dim", "fpn_hidden_size"):
            check_range(self, field, 1, MAX_WIDTH)
        check_range(self, "num_heads", 1, 256)
        check_range(self, "stages", 0, MAX_LAYERS)
        check_range(self, "window_spec", 1, MAX_IMAGE_SIZE)
        check_range(self, "num_feature_levels", 1, 8)
        if sum(self.stages) > MAX_LAYERS:
            raise ValueError(f"Sam2VisionConfig.stages = {self.stages} adds up to more than {MAX_LAYERS} blocks")
        if len(self.stages) != len(self.window_spec):
            raise ValueError(
                f"`stages` ({self.stages}) and `window_spec` ({self.window_spec}) need one entry per stage"
            )
        super().__init__(**kwargs)

    @property
    def stage_dims(self) -> list[int]:
        """Channels of each stage, shallow to deep (96, 192, 384, 768 for tiny)."""
        return [int(self.embed_dim * self.dim_mul**i) for i in range(len(self.stages))]

    @property
    def total_stride(self) -> int:
        """Stride of the lowest-resolution level handed to the heads (16 for the released models)."""
        return self.patch_stride * self.query_stride ** (self.num_feature_levels - 1)


class Sam2MaskDecoderConfig(PreTrainedConfig):
    """Prompt encoder and mask decoder (the "SAM heads").

    Args:
        hidden_size: width of prompt tokens, image embeddings and the two-way transformer.
        mask_input_channels: hidden channels of the convolutional mask-prompt encoder.
        num_multimask_outputs: masks predicted for an ambiguous prompt (plus one single-mask output).
        num_layers, num_attention_heads, mlp_dim, attention_downsample_rate: the two-way transformer.
        iou_head_depth, iou_head_hidden_dim: the MLP predicting each mask's IoU.
        iou_prediction_use_sigmoid: squash predicted IoUs to [0, 1].
        predict_object_scores: predict whether the object is present at all (used for occlusion).
        use_high_res_features: add the stride-4 and stride-8 FPN levels while upscaling masks.
        use_multimask_token_for_object_pointer: take the object pointer from the chosen multimask
            token rather than the single-mask token.
        dynamic_multimask_via_stability: when one mask is asked for and it is unstable under a
            ``stability_delta`` change of threshold (stability below ``stability_threshold``), fall
            back to the best of the multimask outputs (inference only).
        image_size, image_embedding_size: the model input side and the side of the feature map the
            decoder reads (``image_size`` over the vision model's total stride), where clicks and
            boxes are placed. A :class:`Sam2Config` sets both from its own fields, so that the
            decoder saved alone (:class:`~sam2_hf.Sam2MaskDecoderModel`) knows them.
    """

    model_type = "sam2_hf_mask_decoder"
    base_config_key = "mask_decoder_config"

    def __init__(
        self,
        hidden_size: int = 256,
        mask_input_channels: int = 16,
        num_multimask_outputs: int = 3,
        num_layers: int = 2,
        num_attention_heads: int = 8,
        mlp_dim: int = 2048,
        attention_downsample_rate: int = 2,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
        iou_prediction_use_sigmoid: bool = True,
        predict_object_scores: bool = True,
        use_high_res_features: bool = True,
        use_multimask_token_for_object_pointer: bool = True,
        dynamic_multimask_via_stability: bool = True,
        stability_delta: float = 0.05,
        stability_threshold: float = 0.98,
        image_size: int = 1024,
        image_embedding_size: int = 64,
        **kwargs: Any,
    ) -> None:
        self.hidden_size = hidden_size
        self.mask_input_channels = mask_input_channels
        self.num_multimask_outputs = num_multimask_outputs
        self.num_layers = num_layers
        self.num_attention_heads = num_attention_heads
        self.mlp_dim = mlp_dim
        self.attention_downsample_rate = attention_downsample_rate
        self.iou_head_depth = iou_head_depth
        self.iou_head_hidden_dim = iou_head_hidden_dim
        self.iou_prediction_use_sigmoid = iou_prediction_use_sigmoid
        self.predict_object_scores = predict_object_scores
        self.use_high_res_features = use_high_res_features
        self.use_multimask_token_for_object_pointer = use_multimask_token_for_object_pointer
        self.dynamic_multimask_via_stability = dynamic_multimask_via_stability
        self.stability_delta = stability_delta
        self.stability_threshold = stability_threshold
        self.image_size = image_size
        self.image_embedding_size = image_embedding_size
        for field in ("hidden_size", "mlp_dim", "iou_head_hidden_dim", "mask_input_channels"):
            check_range(self, field, 1, MAX_WIDTH)
        for field in ("num_layers", "iou_head_depth", "num_multimask_outputs"):
            check_range(self, field, 1, MAX_LAYERS)
        check_range(self, "num_attention_heads", 1, 256)
        check_range(self, "image_size", 16, MAX_IMAGE_SIZE)
        check_range(self, "image_embedding_size", 1, MAX_IMAGE_SIZE)
        super().__init__(**kwargs)


class Sam2MemoryConfig(PreTrainedConfig):
    """Memory attention, memory encoder and the tracking rules of the video model.

    Args:
        num_maskmem: memory slots a frame attends to (1 for prompted frames + 6 recent frames).
        memory_dim: channels of encoded memories (and of object-pointer tokens).
        num_layers, num_attention_heads, feed_forward_dim, dropout: the memory-attention stack.
        rope_theta: base of the 2-D axial rotary encoding of memory attention (its grid is the
            image embedding grid, 64x64 at 1024 input).
        fuser_num_layers, fuser_kernel_size, fuser_intermediate_dim, layer_scale_init_value: the
            ConvNeXt blocks fusing mask and image features in the memory encoder.
        mask_downsampler_kernel_size, mask_downsampler_stride, mask_downsampler_total_stride: the
            strided convolutions bringing a full-resolution mask to the feature grid.
        sigmoid_scale, sigmoid_bias: mask probabilities are mapped to ``p * scale + bias`` before
            being encoded into memory.
        max_object_pointers: object pointers from other frames a frame may attend to.
        add_temporal_encoding_to_object_pointers: add a temporal encoding to object pointers.
        project_temporal_encoding_to_object_pointers: project that encoding with a linear layer
            (SAM 2.1; SAM 2.0 uses no projection).
        signed_temporal_encoding: encode the signed frame distance (SAM 2.1).
        use_no_object_spatial_embedding: add a learned embedding to memories of frames where the
            object is absent (SAM 2.1).
        multimask_output_in_sam, multimask_min_points, multimask_max_points: ask for three masks
            when a frame has between min and max clicks (0 and 1: the first click).
        multimask_output_for_tracking: also ask for three masks on frames without prompts.
        binarize_mask_from_points: encode the thresholded mask (not its sigmoid) on clicked frames.
        hidden_size: width of the image embeddings and object pointers the memory works with (the
            mask decoder's ``hidden_size``; a :class:`Sam2Config` sets it from its decoder config,
            so that the memory saved alone, :class:`~sam2_hf.Sam2MemoryModel`, knows it).
    """

    model_type = "sam2_hf_memory"
    base_config_key = "memory_config"

    def __init__(
        self,
        num_maskmem: int = 7,
        memory_dim: int = 64,
        num_layers: int = 4,
        num_attention_heads: int = 1,
        feed_forward_dim: int = 2048,
        dropout: float = 0.1,
        rope_theta: float = 10000.0,
        fuser_num_layers: int = 2,
        fuser_kernel_size: int = 7,
        fuser_intermediate_dim: int = 1024,
        layer_scale_init_value: float = 1e-6,
        mask_downsampler_kernel_size: int = 3,
        mask_downsampler_stride: int = 2,
        mask_downsampler_total_stride: int = 16,
        sigmoid_scale: float = 20.0,
        sigmoid_bias: float = -10.0,
        max_object_pointers: int = 16,
        add_temporal_encoding_to_object_pointers: bool = True,
        project_temporal_encoding_to_object_pointers: bool = True,
        signed_temporal_encoding: bool = True,
        use_no_object_spatial_embedding: bool = True,
        multimask_output_in_sam: bool = True,
        multimask_min_points: int = 0,
        multimask_max_points: int = 1,
        multimask_output_for_tracking: bool = True,
        binarize_mask_from_points: bool = True,
        hidden_size: int = 256,
        **kwargs: Any,
    ) -> None:
        self.num_maskmem = num_maskmem
        self.memory_dim = memory_dim
        self.num_layers = num_layers
        self.num_attention_heads = num_attention_heads
        self.feed_forward_dim = feed_forward_dim
        self.dropout = dropout
        self.rope_theta = rope_theta
        self.fuser_num_layers = fuser_num_layers
        self.fuser_kernel_size = fuser_kernel_size
        self.fuser_intermediate_dim = fuser_intermediate_dim
        self.layer_scale_init_value = layer_scale_init_value
        self.mask_downsampler_kernel_size = mask_downsampler_kernel_size
        self.mask_downsampler_stride = mask_downsampler_stride
        self.mask_downsampler_total_stride = mask_downsampler_total_stride
        self.sigmoid_scale = sigmoid_scale
        self.sigmoid_bias = sigmoid_bias
        self.max_object_pointers = max_object_pointers
        self.add_temporal_encoding_to_object_pointers = add_temporal_encoding_to_object_pointers
        self.project_temporal_encoding_to_object_pointers = project_temporal_encoding_to_object_pointers
        self.signed_temporal_encoding = signed_temporal_encoding
        self.use_no_object_spatial_embedding = use_no_object_spatial_embedding
        self.multimask_output_in_sam = multimask_output_in_sam
        self.multimask_min_points = multimask_min_points
        self.multimask_max_points = multimask_max_points
        self.multimask_output_for_tracking = multimask_output_for_tracking
        self.binarize_mask_from_points = binarize_mask_from_points
        self.hidden_size = hidden_size
        for field in ("memory_dim", "feed_forward_dim", "fuser_intermediate_dim", "hidden_size"):
            check_range(self, field, 1, MAX_WIDTH)
        for field in ("num_layers", "fuser_num_layers"):
            check_range(self, field, 0, MAX_LAYERS)
        check_range(self, "num_maskmem", 1, MAX_LAYERS)
        check_range(self, "num_attention_heads", 1, 256)
        check_range(self, "max_object_pointers", 0, 4096)
        super().__init__(**kwargs)

    def multimask_output(self, num_points: int, from_memory: bool = False) -> bool:
        """Whether a frame is decoded into three candidate masks (the best one kept): when it has
        between ``multimask_min_points`` and ``multimask_max_points`` clicks and, for a frame that
        also reads the memory (``from_memory``: tracked, or corrected after tracking), only with
        ``multimask_output_for_tracking``. One rule for the session and for training."""
        return (
            self.multimask_output_in_sam
            and (not from_memory or self.multimask_output_for_tracking)
            and self.multimask_min_points <= num_points <= self.multimask_max_points
        )


# Hiera sizes of the released checkpoints (identical for SAM 2.0 and 2.1).
_TRUNKS: dict[str, dict[str, Any]] = {
    "tiny": dict(embed_dim=96, num_heads=1, stages=(1, 2, 7, 2), global_attention_blocks=(5, 7, 9),
                 window_spec=(8, 4, 14, 7), window_pos_embed_background_size=(7, 7)),
    "small": dict(embed_dim=96, num_heads=1, stages=(1, 2, 11, 2), global_attention_blocks=(7, 10, 13),
                  window_spec=(8, 4, 14, 7), window_pos_embed_background_size=(7, 7)),
    "base-plus": dict(embed_dim=112, num_heads=2, stages=(2, 3, 16, 3), global_attention_blocks=(12, 16, 20),
                      window_spec=(8, 4, 14, 7), window_pos_embed_background_size=(14, 14)),
    "large": dict(embed_dim=144, num_heads=2, stages=(2, 6, 36, 4), global_attention_blocks=(23, 33, 43),
                  window_spec=(8, 4, 16, 8), window_pos_embed_background_size=(7, 7)),
}

# What SAM 2.0 does differently from 2.1 (all on the memory side).
_SAM20_MEMORY = dict(
    add_temporal_encoding_to_object_pointers=False,
    project_temporal_encoding_to_object_pointers=False,
    signed_temporal_encoding=False,
    use_no_object_spatial_embedding=False,
)

PRESETS: tuple[str, ...] = tuple(
    f"{version}-hiera-{size}" for version in ("sam2.1", "sam2") for size in _TRUNKS
)


class Sam2Config(PreTrainedConfig):
    """Configuration of :class:`~sam2_hf.Sam2Model` and :class:`~sam2_hf.Sam2VideoModel`.

    Args:
        vision_config: the Hiera trunk and FPN neck (:class:`Sam2VisionConfig`).
        mask_decoder_config: prompt encoder and mask decoder (:class:`Sam2MaskDecoderConfig`).
        memory_config: memory attention / encoder and tracking rules (:class:`Sam2MemoryConfig`).
        image_size: side of the square model input; images are squashed to it without padding.
        image_mean, image_std: per-channel normalisation of ``[0, 1]`` pixels.
        mask_threshold: logit above which a pixel belongs to the mask.
        version: ``"2.1"`` or ``"2.0"``, for information (the behaviour lives in ``memory_config``).
    """

    model_type = MODEL_TYPE
    sub_configs = {
        "vision_config": Sam2VisionConfig,
        "mask_decoder_config": Sam2MaskDecoderConfig,
        "memory_config": Sam2MemoryConfig,
    }

    def __init__(
        self,
        vision_config: Sam2VisionConfig | dict | None = None,
        mask_decoder_config: Sam2MaskDecoderConfig | dict | None = None,
        memory_config: Sam2MemoryConfig | dict | None = None,
        image_size: int = 1024,
        image_mean: list[float] | tuple[float, ...] = (0.485, 0.456, 0.406),
        image_std: list[float] | tuple[float, ...] = (0.229, 0.224, 0.225),
        mask_threshold: float = 0.0,
        version: str = "2.1",
        **kwargs: Any,
    ) -> None:
        self.vision_config = _as_config(Sam2VisionConfig, vision_config)
        self.mask_decoder_config = _as_config(Sam2MaskDecoderConfig, mask_decoder_config)
        self.memory_config = _as_config(Sam2MemoryConfig, memory_config)
        self.image_size = image_size
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)
        self.mask_threshold = mask_threshold
        self.version = version
        check_range(self, "image_size", 16, MAX_IMAGE_SIZE)
        _check_widths(self.vision_config, self.mask_decoder_config)
        # The parts saved alone must know what they share with the others.
        self.mask_decoder_config.image_size = image_size
        self.mask_decoder_config.image_embedding_size = self.image_embedding_size
        self.memory_config.hidden_size = self.mask_decoder_config.hidden_size
        super().__init__(**kwargs)

    @property
    def image_embedding_size(self) -> int:
        """Side of the lowest-resolution feature map (64 at 1024 input)."""
        return self.image_size // self.vision_config.total_stride

    @classmethod
    def from_parts(cls, vision_config: Sam2VisionConfig, mask_decoder_config: Sam2MaskDecoderConfig,
                   memory_config: Sam2MemoryConfig | None = None) -> "Sam2Config":
        """The whole model's config from its parts' configs (copies; the parts' are left alone).

        Raises:
            ValueError: when the parts do not fit together, naming both sizes.
        """
        vision, decoder = vision_config, mask_decoder_config  # their widths are checked by the constructor
        if decoder.image_size // vision.total_stride != decoder.image_embedding_size:
            raise ValueError(f"the vision model makes {decoder.image_size // vision.total_stride}-cell feature maps of "
                             f"{decoder.image_size}-pixel images (total stride {vision.total_stride}) but the mask decoder "
                             f"reads {decoder.image_embedding_size}-cell maps: parts of different sizes")
        if memory_config is not None and memory_config.hidden_size != decoder.hidden_size:
            raise ValueError(f"the memory works on {memory_config.hidden_size}-channel embeddings (hidden_size) but the "
                             f"mask decoder's are {decoder.hidden_size}: parts of different sizes")
        copies = [None if c is None else type(c).from_dict(c.to_dict()) for c in (vision, decoder, memory_config)]
        return cls(vision_config=copies[0], mask_decoder_config=copies[1], memory_config=copies[2],
                   image_size=decoder.image_size)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "Sam2Config":
        """Config of a released checkpoint, e.g. ``"sam2.1-hiera-tiny"`` or ``"sam2-hiera-large"``.

        ``overrides`` set top-level fields (``image_size=512``, ...).
        """
        name = name.split("/")[-1].replace("_", "-").replace("b+", "base-plus")
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        version, _, size = name.split("-", 2)
        memory = {} if version == "sam2.1" else dict(_SAM20_MEMORY)
        return cls(
            vision_config=Sam2VisionConfig(**_TRUNKS[size]),
            memory_config=Sam2MemoryConfig(**memory),
            version="2.1" if version == "sam2.1" else "2.0",
            **overrides,
        )


def _check_widths(vision: Sam2VisionConfig, decoder: Sam2MaskDecoderConfig) -> None:
    if vision.fpn_hidden_size != decoder.hidden_size:
        raise ValueError(f"the vision model gives {vision.fpn_hidden_size}-channel features (fpn_hidden_size) but "
                         f"the mask decoder takes {decoder.hidden_size} (hidden_size): parts of different sizes")


def _as_config(config_class: type[PreTrainedConfig], value: PreTrainedConfig | dict | None) -> PreTrainedConfig:
    if value is None:
        return config_class()
    if isinstance(value, dict):
        return config_class(**value)
    return value
