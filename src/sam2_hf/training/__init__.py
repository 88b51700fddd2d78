"""Fine-tuning SAM 2 on SA-V-format data with Accelerate."""

from .config import TrainingConfig
from .trainer import evaluate_clicks, train

__all__ = ["TrainingConfig", "evaluate_clicks", "train"]
