"""Writes examples/shapes.png, the picture the README's image example segments."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def make_example_image(path: Path) -> None:
    y, x = np.mgrid[0:360, 0:480]
    background = np.stack([60 + x // 8, 80 + y // 6, 120 + (x + y) // 16], axis=-1)
    background = np.clip(background, 0, 255).astype(np.uint8)
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    draw.ellipse((90, 80, 230, 220), fill=(230, 70, 50))
    draw.rectangle((280, 150, 420, 300), fill=(240, 220, 60))
    image.save(path)


if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "examples" / "shapes.png"
    make_example_image(out)
    print(f"wrote {out}")
