"""Turning images and prompts into model inputs, and model outputs into masks."""

from .image_processor import Sam2ImageProcessor, to_rgb_uint8
from .processor import Sam2Processor

__all__ = ["Sam2ImageProcessor", "Sam2Processor", "to_rgb_uint8"]
