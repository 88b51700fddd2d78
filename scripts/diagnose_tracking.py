"""Where a tracker loses its objects: IoU over time and what goes wrong in the second half.

    python scripts/diagnose_tracking.py data/synthetic_val --models src/sam2_hf/pretrained/sam2-hf-synthetic-small runs/next/shipped_model/model

Each object is tracked from its first-frame mask (the semi-supervised protocol, so clicks are out
of the picture) and compared with the ground truth on every annotated frame. Printed per model:
the mean IoU in equal spans of the videos (a tracker that drifts falls from span to span), and the
object-frames of the videos' second halves where the object is visible, sorted into ``ok`` (IoU >
0.5), ``empty`` (no mask at all), ``elsewhere`` (a mask that barely touches the object: on
something else), ``partial`` (the rest), each split by whether the object had left view earlier;
and ``false alarms``, second-half frames where the object is out of view and a mask is drawn.
J&F alone says none of this: a model that loses objects and one that swaps them score alike.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from sam2_hf import Sam2VideoModel
from sam2_hf.evaluation.model_evaluation import annotated_video, load_videos
from sam2_hf.evaluation.protocols import semi_supervised

ELSEWHERE_OVERLAP = 0.1  # a mask with less than this share of its pixels on the object is on something else


def categorise(predicted: np.ndarray, truth: np.ndarray) -> str:
    """One object-frame with the object in view: ok, empty, elsewhere or partial."""
    if not predicted.any():
        return "empty"
    overlap = (predicted & truth).sum()
    if overlap / (predicted | truth).sum() > 0.5:
        return "ok"
    return "elsewhere" if overlap < ELSEWHERE_OVERLAP * predicted.sum() else "partial"


def diagnose(model: Sam2VideoModel, val_data: Path, max_videos: int, spans: int) -> dict:
    span_ious: list[list[float]] = [[] for _ in range(spans)]
    second_half: Counter = Counter()
    for row in load_videos(val_data, max_videos):
        video = annotated_video(row)
        truth = video.truth
        predicted = semi_supervised(model, video.frames, video.first_frame_labels)[video.annotated]  # (A, H, W) ids
        for obj in range(truth.shape[1]):
            if not truth[0, obj].any():
                continue
            left_view = False
            for a, t in enumerate(row["frame_indices"]):
                gt, mask = truth[a, obj], predicted[a] == obj + 1
                left_view |= not gt.any()
                if gt.any():
                    span_ious[min(spans - 1, t * spans // row["num_frames"])].append((gt & mask).sum() / (gt | mask).sum())
                if t < row["num_frames"] // 2:
                    continue
                if gt.any():
                    second_half[f"{categorise(mask, gt)} ({'after an exit' if left_view else 'never left'})"] += 1
                elif mask.any():
                    second_half["false alarms"] += 1
    return {"span_iou": [round(float(np.mean(v)), 3) if v else None for v in span_ious],
            "second_half": dict(sorted(second_half.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("val", type=Path, help="val/test-layout folder (e.g. data/synthetic_val)")
    parser.add_argument("--models", nargs="+", required=True, help="model folders to compare")
    parser.add_argument("--max-videos", type=int, default=8)
    parser.add_argument("--spans", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    results = {name: diagnose(Sam2VideoModel.from_pretrained(name), args.val, args.max_videos, args.spans)
               for name in args.models}
    for name, result in results.items():
        print(f"## {name}\nIoU per span of the videos: {result['span_iou']}\nsecond half:")
        for category, count in result["second_half"].items():
            print(f"  {category}: {count}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
