"""Writes examples/shapes.mp4: two seconds of two objects moving over a textured background,
the clip the README's tracking command runs on (H.264, small enough to commit)."""

from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT, FPS, SECONDS = 320, 240, 10, 2


def frame(t: int) -> np.ndarray:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    image = np.stack([70 + (x // 16 % 2) * 30, 90 + (y // 16 % 2) * 30, np.full_like(x, 140)], -1)
    cx, cy = 60 + 8 * t, 110 + 30 * np.sin(t / 4)
    image[(x - cx) ** 2 + (y - cy) ** 2 < 28**2] = [230, 70, 50]  # a disc moving right
    top = 40 + 5 * t
    image[top : top + 50, 220:270] = [240, 220, 60]  # a square moving down
    return image.astype(np.uint8)


def make_example_video(path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "28"}
        for t in range(FPS * SECONDS):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame(t), format="rgb24")))
        container.mux(stream.encode())


if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "examples" / "shapes.mp4"
    make_example_video(out)
    print(f"wrote {out}")
