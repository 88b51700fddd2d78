"""Write the synthetic SA-V-format training and validation sets the shipped model uses.

    python scripts/make_synthetic_sav.py data/

gives data/synthetic_train (SA-V train layout: mp4 + *_manual.json), data/synthetic_val
(val layout: JPEG frames + per-object PNGs; other seeds, longer clips) and data/synthetic_val_mini
(4 more held-out videos of 48 frames, which the training recipe scores while it runs). Same
generator as the tests (`sam2_hf.data.write_sav_dataset`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sam2_hf.data import write_sav_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder to write synthetic_train/, synthetic_val/ and synthetic_val_mini/ into")
    parser.add_argument("--train-videos", type=int, default=200)
    parser.add_argument("--val-videos", type=int, default=20)
    parser.add_argument("--val-mini-videos", type=int, default=4)
    args = parser.parse_args()
    scene = {"height": 144, "width": 192, "num_objects": 3, "num_distractors": 2}
    write_sav_dataset(args.root / "synthetic_train", args.train_videos, layout="train", seed=1, num_frames=64, **scene)
    write_sav_dataset(args.root / "synthetic_val", args.val_videos, layout="val", seed=2, num_frames=96, **scene)
    write_sav_dataset(args.root / "synthetic_val_mini", args.val_mini_videos, layout="val", seed=3, num_frames=48, **scene)
    print(f"wrote {args.train_videos} training, {args.val_videos} validation and {args.val_mini_videos} "
          f"mini-validation videos under {args.root}")


if __name__ == "__main__":
    main()
