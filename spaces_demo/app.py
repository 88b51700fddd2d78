"""The Space's entry point: `python spaces_demo/app.py` serves the click-to-track app locally."""

import logging

from sam2_hf.demo import build_demo, launch

demo = build_demo()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    launch()
