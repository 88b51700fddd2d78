"""Convert an official SAM 2 `.pt` or a transformers-format checkpoint to the sam2_hf format.

    python scripts/convert_checkpoint.py sam2.1_hiera_tiny.pt converted/sam2.1-hiera-tiny
    python scripts/convert_checkpoint.py facebook/sam2.1-hiera-tiny converted/sam2.1-hiera-tiny

Same as `sam2-hf convert`; see `--help`.
"""

import sys

from sam2_hf.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", *sys.argv[1:]]))
