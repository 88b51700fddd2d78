"""Fine-tuning SAM 2 on SA-V-format data with Accelerate."""

from .config import TrainingConfig
from .trainer import train

__all__ = ["TrainingConfig", "train"]
