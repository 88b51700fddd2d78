"""Per-video state: the streaming session, the memory bank and post-processing."""

from .session import FrameResult, VideoSession

__all__ = ["FrameResult", "VideoSession"]
