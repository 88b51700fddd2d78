"""The SAM 2 networks, one component per module; the whole models are built from three parts that
are models of their own (vision model, mask decoder, memory)."""

from .mask_decoder_model import Sam2MaskDecoderModel
from .memory_model import Sam2MemoryModel
from .outputs import Sam2FrameFeatures, Sam2ImageFeatures, Sam2ImageSegmentationOutput, Sam2MemoryTokens, Sam2VisionOutput
from .sam2_model import Sam2Model
from .video_model import Sam2TrackStepOutput, Sam2VideoModel
from .vision_encoder import Sam2VisionModel

__all__ = [
    "Sam2FrameFeatures", "Sam2ImageFeatures", "Sam2ImageSegmentationOutput", "Sam2MaskDecoderModel", "Sam2MemoryModel",
    "Sam2MemoryTokens", "Sam2Model", "Sam2TrackStepOutput", "Sam2VideoModel", "Sam2VisionModel", "Sam2VisionOutput",
]
