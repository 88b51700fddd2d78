"""Datasets: SA-V and DAVIS-layout readers, and a synthetic SA-V-format generator."""

from .sav import decode_masks, detect_layout, iter_videos, load_sav, read_frames
from .synthetic import render_video, write_sav_dataset, write_val_video

__all__ = ["decode_masks", "detect_layout", "iter_videos", "load_sav", "read_frames", "render_video", "write_sav_dataset", "write_val_video"]
