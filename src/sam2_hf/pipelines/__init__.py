"""Our tasks in transformers' ``pipeline()``: registered when ``sam2_hf`` is imported."""

from transformers.pipelines import PIPELINE_REGISTRY

from ..modeling import Sam2Model, Sam2VideoModel
from .image_mask_generation import ImageMaskGenerationPipeline
from .video_mask_generation import VideoMaskGenerationPipeline, apply_prompts, group_prompts


def register_pipelines(default_model: str | None = None) -> None:
    """Make ``pipeline("video-mask-generation")`` and ``pipeline("image-mask-generation")`` work;
    ``default_model`` is what they load when no model is named."""
    default = {"model": (default_model, "main")} if default_model else None
    PIPELINE_REGISTRY.register_pipeline("video-mask-generation", pipeline_class=VideoMaskGenerationPipeline,
                                        pt_model=Sam2VideoModel, default=default, type="multimodal")
    PIPELINE_REGISTRY.register_pipeline("image-mask-generation", pipeline_class=ImageMaskGenerationPipeline,
                                        pt_model=Sam2Model, default=default, type="image")


__all__ = ["ImageMaskGenerationPipeline", "VideoMaskGenerationPipeline", "apply_prompts", "group_prompts", "register_pipelines"]
