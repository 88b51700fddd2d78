"""Turning masks into things people look at or store."""

from .overlay import object_colors, overlay_masks, palette
from .writers import IndexedPngWriter, OverlayVideoWriter, label_map

__all__ = ["IndexedPngWriter", "OverlayVideoWriter", "label_map", "object_colors", "overlay_masks", "palette"]
