"""The SAM 2 networks, one component per module."""

from .outputs import Sam2ImageFeatures, Sam2ImageSegmentationOutput
from .sam2_model import Sam2Model
from .video_model import Sam2FrameFeatures, Sam2MemoryTokens, Sam2TrackStepOutput, Sam2VideoModel

__all__ = [
    "Sam2FrameFeatures", "Sam2ImageFeatures", "Sam2ImageSegmentationOutput", "Sam2MemoryTokens", "Sam2Model",
    "Sam2TrackStepOutput", "Sam2VideoModel",
]
