"""The SAM 2 networks, one component per module."""

from .outputs import Sam2ImageFeatures, Sam2ImageSegmentationOutput
from .sam2_model import Sam2Model
from .video_model import Sam2VideoModel

__all__ = ["Sam2ImageFeatures", "Sam2ImageSegmentationOutput", "Sam2Model", "Sam2VideoModel"]
