"""Turning masks into things people look at or store."""

from .overlay import overlay_masks, palette

__all__ = ["overlay_masks", "palette"]
