"""sam2_hf: SAM 2 (Segment Anything in Images and Videos) as a Hugging Face-style package.

Importing the package registers its config and models with transformers' Auto classes, so
``AutoModel.from_pretrained(folder)`` works on folders saved by this package, and its tasks with
``pipeline()``: ``pipeline("video-mask-generation", model=...)`` and ``"image-mask-generation"``.
"""

from transformers import AutoConfig, AutoModel, AutoModelForMaskGeneration

from .configuration import PRESETS, Sam2Config, Sam2MaskDecoderConfig, Sam2MemoryConfig, Sam2VisionConfig
from .modeling import (
    Sam2ImageFeatures,
    Sam2ImageSegmentationOutput,
    Sam2MaskDecoderModel,
    Sam2MemoryModel,
    Sam2Model,
    Sam2VideoModel,
    Sam2VisionModel,
    Sam2VisionOutput,
)
from .processing import Sam2ImageProcessor, Sam2Processor
from .inference import FrameResult, VideoSession
from .pipelines import ImageMaskGenerationPipeline, VideoMaskGenerationPipeline, register_pipelines

from .loading import DEFAULT_MODEL, default_model_shipped

__version__ = "0.1.0"

AutoConfig.register(Sam2Config.model_type, Sam2Config, exist_ok=True)
AutoModel.register(Sam2Config, Sam2Model, exist_ok=True)
AutoModelForMaskGeneration.register(Sam2Config, Sam2Model, exist_ok=True)
for _part in (Sam2VisionModel, Sam2MaskDecoderModel, Sam2MemoryModel):  # each part loads alone too
    AutoConfig.register(_part.config_class.model_type, _part.config_class, exist_ok=True)
    AutoModel.register(_part.config_class, _part, exist_ok=True)
register_pipelines(DEFAULT_MODEL if default_model_shipped() else None)

__all__ = [
    "DEFAULT_MODEL",
    "FrameResult",
    "ImageMaskGenerationPipeline",
    "PRESETS",
    "Sam2Config",
    "Sam2ImageFeatures",
    "Sam2ImageProcessor",
    "Sam2ImageSegmentationOutput",
    "Sam2MaskDecoderConfig",
    "Sam2MaskDecoderModel",
    "Sam2MemoryConfig",
    "Sam2MemoryModel",
    "Sam2Model",
    "Sam2Processor",
    "Sam2VideoModel",
    "Sam2VisionConfig",
    "Sam2VisionModel",
    "Sam2VisionOutput",
    "VideoMaskGenerationPipeline",
    "VideoSession",
]
