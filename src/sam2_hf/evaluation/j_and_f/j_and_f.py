"""J&F video object segmentation metric (DAVIS / SA-V conventions), for `evaluate.load`.

    import evaluate
    from sam2_hf.evaluation import METRIC_PATH
    metric = evaluate.load(METRIC_PATH)
    metric.compute(predictions=[pred_labels], references=[gt_labels])  # (T, H, W) id maps per video

A thin wrapper: the arithmetic lives in `sam2_hf.evaluation`, shared with `sam2-hf evaluate`.
"""

import datasets
import evaluate
import numpy as np
from sam2_hf.evaluation.scoring import score_davis_video
from sam2_hf.evaluation.scoring import score_sav_object

_DESCRIPTION = """Region similarity J (mask IoU), boundary accuracy F (boundary F-measure within 0.008 of the
image diagonal) and their mean J&F, per object, averaged over all objects of all videos.
convention="davis": each example is a video's (T, H, W) map of object ids; objects are 1..max id of
the first ground-truth frame; the first and last frames are not scored.
convention="sav": each example is one object's (T, H, W) binary masks; first and last frames are
dropped and the object is scored from its first appearance in ground truth or prediction."""

_CITATION = """@article{ravi2024sam2, title={SAM 2: Segment Anything in Images and Videos},
author={Ravi, Nikhila and others}, journal={arXiv preprint arXiv:2408.00714}, year={2024}}
@article{pont2017davis, title={The 2017 DAVIS Challenge on Video Object Segmentation},
author={Pont-Tuset, Jordi and others}, journal={arXiv preprint arXiv:1704.00675}, year={2017}}"""

_INPUTS = """Args:
    predictions: list of (T, H, W) integer arrays, one per video (davis) or object (sav).
    references: list of (T, H, W) integer arrays of the same shapes.
    convention: "davis" (default) or "sav".
Returns:
    {"J": float, "F": float, "J&F": float}, fractions in [0, 1]."""

_VIDEO = datasets.Sequence(datasets.Sequence(datasets.Sequence(datasets.Value("uint8"))))


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class JAndF(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_INPUTS,
            features=datasets.Features({"predictions": _VIDEO, "references": _VIDEO}),
            reference_urls=["https://github.com/davisvideochallenge/davis2017-evaluation"],
        )

    def _compute(self, predictions, references, convention="davis"):
        scores = []
        for prediction, reference in zip(predictions, references):
            prediction, reference = np.asarray(prediction), np.asarray(reference)
            if convention == "davis":
                scores.extend(score_davis_video(reference, prediction).values())
            elif convention == "sav":
                score = score_sav_object(reference > 0, prediction > 0)
                if score is not None:
                    scores.append(score)
            else:
                raise ValueError(f"convention must be 'davis' or 'sav', got {convention!r}")
        if not scores:
            raise ValueError("no object to score")
        j = float(np.mean([s.J for s in scores]))
        f = float(np.mean([s.F for s in scores]))
        return {"J": j, "F": f, "J&F": (j + f) / 2}
