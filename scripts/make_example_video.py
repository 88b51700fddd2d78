"""Writes examples/shapes.mp4, the clip the README's tracking command runs on: three seconds of
the synthetic videos the shipped model was trained on (`sam2_hf.data.example_clip`, seed 30:
two textured objects, one with a look-alike distractor, on a textured background), H.264, small
enough to commit. Prints a click inside each object on frame 0."""

from pathlib import Path

import av
import cv2
import numpy as np

from sam2_hf.data.example_clip import FPS, HEIGHT, WIDTH, render_example_clip


def make_example_video(path: Path) -> list[tuple[int, int]]:
    frames, masks = render_example_clip()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "18"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    clicks = []
    for mask in masks[0]:  # the pixel deepest inside each object on frame 0
        distance = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
        y, x = np.unravel_index(int(distance.argmax()), distance.shape)
        clicks.append((int(x), int(y)))
    return clicks


if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "examples" / "shapes.mp4"
    clicks = make_example_video(out)
    print(f"wrote {out}; clicks inside the objects on frame 0: {clicks}")
