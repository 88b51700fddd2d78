"""J&F evaluation as the DAVIS and SA-V evaluators compute it, and the interactive click simulation."""

from pathlib import Path

from .clicks import Click, next_click
from .metrics import boundary_f_measure, boundary_map, boundary_radius, region_similarity
from .protocols import interactive, semi_supervised, simulate_clicks
from .readers import Layout, detect_layout
from .scoring import EvaluationResult, ObjectScore, VideoScore, evaluate_folders, evaluate_video, score_davis_video, score_sav_object

METRIC_PATH = str(Path(__file__).parent / "j_and_f" / "j_and_f.py")
"""Path of the `evaluate` metric script: ``evaluate.load(METRIC_PATH)``."""

__all__ = [
    "METRIC_PATH", "Click", "EvaluationResult", "Layout", "ObjectScore", "VideoScore", "boundary_f_measure",
    "boundary_map", "boundary_radius", "detect_layout", "evaluate_folders", "evaluate_video", "interactive", "next_click",
    "region_similarity", "score_davis_video", "score_sav_object", "semi_supervised", "simulate_clicks",
]
