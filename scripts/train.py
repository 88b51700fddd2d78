"""Train or fine-tune SAM 2 on SA-V-format data.

    accelerate launch scripts/train.py configs/shipped_model.yaml            # one process
    accelerate launch --num_processes 2 scripts/train.py CONFIG              # data-parallel
    python scripts/train.py CONFIG --steps 20 --output-dir runs/try          # overrides

Started again with the same output folder, a run resumes from its latest checkpoint.
"""

from __future__ import annotations

import sys

from sam2_hf.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
