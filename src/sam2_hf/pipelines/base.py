"""What our pipelines share: they build their own processing from the model's config, so
``pipeline()`` loads no tokenizer or processor, and the model runs in eval mode."""

from __future__ import annotations

from typing import Any

from transformers import Pipeline

# Options of AutomaticMaskGenerator that the pipelines pass through.
AUTOMATIC_OPTIONS = {"points_per_side", "points_per_batch", "pred_iou_thresh", "stability_score_thresh",
                     "stability_score_offset", "box_nms_thresh", "min_mask_area"}


class Sam2Pipeline(Pipeline):
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model.eval()
