"""Turning masks into things people look at or store."""

from .folders import replace_folder, restore_interrupted_replace, staging_folder
from .masklets import MaskletJsonWriter
from .overlay import draw_prompts, object_colors, overlay_masks, palette
from .rle import decode_rle, encode_rle
from .writers import IndexedPngWriter, OverlayVideoWriter, PerObjectPngWriter, in_frame_order, label_map, write_video_outputs

__all__ = [
    "IndexedPngWriter",
    "MaskletJsonWriter",
    "OverlayVideoWriter",
    "PerObjectPngWriter",
    "decode_rle",
    "draw_prompts",
    "encode_rle",
    "in_frame_order",
    "label_map",
    "object_colors",
    "overlay_masks",
    "palette",
    "replace_folder",
    "restore_interrupted_replace",
    "staging_folder",
    "write_video_outputs",
]
