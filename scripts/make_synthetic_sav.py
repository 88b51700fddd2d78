"""Write the synthetic SA-V-format training and validation sets the shipped model uses.

    python scripts/make_synthetic_sav.py data/

gives data/synthetic_train (SA-V train layout: mp4 + *_manual.json, but masks on every frame, not
every 4th: the training recipe takes clips of consecutive frames, the motion the tracker sees at
24 fps, and of every 4th, SA-V's 6 fps), data/synthetic_train_chasing (as many more training
videos, other seeds, in which half of the distractors follow their target's path: hard
negatives), data/synthetic_train_variety (as many more, half of the distractors chasing, with
the wider backgrounds, shapes and textures of `variety=True`), data/synthetic_train_emerging
(short videos of 16 frames whose distractors start hidden behind their target and come out from
behind it: the README example's hard moment, on the first frame of nearly every clip drawn from
them), data/synthetic_val
(val layout: JPEG frames + per-object PNGs; other seeds, longer clips), data/synthetic_val_mini
(4 more held-out videos of 48 frames, which the training recipe scores while it runs) and
data/synthetic_val_twins (held-out videos whose distractors are exact copies of their targets:
the hard subset the model card reports apart), data/synthetic_val_variety (held-out videos
in the wider look) and data/synthetic_val_emerging (held-out videos whose distractors start
hidden behind their target). Same generator as the tests
(`sam2_hf.data.write_sav_dataset`); the files do not depend on --workers.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sam2_hf.data import write_sav_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder to write synthetic_train/, synthetic_train_chasing/, "
                        "synthetic_train_variety/, synthetic_train_emerging/, synthetic_val/, synthetic_val_mini/, synthetic_val_twins/, "
                        "synthetic_val_variety/ and synthetic_val_emerging/ into")
    parser.add_argument("--train-videos", type=int, default=400)
    parser.add_argument("--chasing-probability", type=float, default=0.5,
                        help="share of the distractors of synthetic_train_chasing that follow their target")
    parser.add_argument("--val-videos", type=int, default=20)
    parser.add_argument("--val-mini-videos", type=int, default=4)
    parser.add_argument("--twin-videos", type=int, default=8)
    parser.add_argument("--emerging-videos", type=int, default=8,
                        help="held-out videos whose distractors start hidden behind their target")
    parser.add_argument("--train-annotation-stride", type=int, default=1,
                        help="training masks every this many frames (SA-V's own files: 4)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    scene = {"height": 144, "width": 192, "num_objects": 3, "num_distractors": 2, "workers": args.workers}
    write_sav_dataset(args.root / "synthetic_train", args.train_videos, layout="train", seed=1, num_frames=64,
                      annotation_stride=args.train_annotation_stride, **scene)
    write_sav_dataset(args.root / "synthetic_train_chasing", args.train_videos, layout="train", seed=5, num_frames=64,
                      annotation_stride=args.train_annotation_stride, chasing_probability=args.chasing_probability,
                      **scene)
    write_sav_dataset(args.root / "synthetic_train_variety", args.train_videos, layout="train", seed=6, num_frames=64,
                      annotation_stride=args.train_annotation_stride, chasing_probability=args.chasing_probability,
                      variety=True, **scene)
    write_sav_dataset(args.root / "synthetic_train_emerging", args.train_videos, layout="train", seed=9, num_frames=16,
                      annotation_stride=args.train_annotation_stride, emerging_probability=1.0, **scene)
    write_sav_dataset(args.root / "synthetic_val", args.val_videos, layout="val", seed=2, num_frames=96, **scene)
    write_sav_dataset(args.root / "synthetic_val_mini", args.val_mini_videos, layout="val", seed=3, num_frames=48, **scene)
    write_sav_dataset(args.root / "synthetic_val_twins", args.twin_videos, layout="val", seed=4, num_frames=96,
                      twins=True, **scene)
    write_sav_dataset(args.root / "synthetic_val_variety", args.val_videos, layout="val", seed=8, num_frames=96,
                      variety=True, **scene)
    write_sav_dataset(args.root / "synthetic_val_emerging", args.emerging_videos, layout="val", seed=10, num_frames=48,
                      emerging_probability=1.0, **scene)
    print(f"wrote 4 x {args.train_videos} training, {args.val_videos} validation, {args.val_mini_videos} mini-validation "
          f"and {args.twin_videos} twin-distractor videos, and {args.val_videos} validation videos in the wider look "
          f"and {args.emerging_videos} with emerging distractors under {args.root}")


if __name__ == "__main__":
    main()
