"""sam2_hf: SAM 2 (Segment Anything in Images and Videos) as a Hugging Face-style package.

Importing the package registers its config and models with transformers' Auto classes, so
``AutoModel.from_pretrained(folder)`` works on folders saved by this package, and its tasks with
``pipeline()``: ``pipeline("video-mask-generation", model=...)`` and ``"image-mask-generation"``.
"""

from pathlib import Path

from transformers import AutoConfig, AutoModel, AutoModelForMaskGeneration

from .configuration import PRESETS, Sam2Config, Sam2MaskDecoderConfig, Sam2MemoryConfig, Sam2VisionConfig
from .modeling import Sam2ImageFeatures, Sam2ImageSegmentationOutput, Sam2Model, Sam2VideoModel
from .processing import Sam2ImageProcessor, Sam2Processor
from .inference import FrameResult, VideoSession
from .pipelines import ImageMaskGenerationPipeline, VideoMaskGenerationPipeline, register_pipelines

__version__ = "0.1.0"

# The small model trained on synthetic SA-V-format data that ships inside the package (see its
# model card): what `sam2-hf track` and `pipeline("video-mask-generation")` use when no model is named.
DEFAULT_MODEL = str(Path(__file__).parent / "pretrained" / "sam2-hf-synthetic-small")

AutoConfig.register(Sam2Config.model_type, Sam2Config, exist_ok=True)
AutoModel.register(Sam2Config, Sam2Model, exist_ok=True)
AutoModelForMaskGeneration.register(Sam2Config, Sam2Model, exist_ok=True)
register_pipelines(DEFAULT_MODEL if Path(DEFAULT_MODEL, "config.json").is_file() else None)

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
    "Sam2MemoryConfig",
    "Sam2Model",
    "Sam2Processor",
    "Sam2VideoModel",
    "Sam2VisionConfig",
    "VideoMaskGenerationPipeline",
    "VideoSession",
]
