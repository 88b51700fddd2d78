"""Which model a command runs when the user names one, or none: shared by the command line, the
demo and the package's pipelines (so none of them imports another)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from .configuration import Sam2Config
from .modeling import Sam2Model

logger = logging.getLogger("sam2_hf")

# The small model trained on synthetic SA-V-format data that ships inside the package (see its
# model card): what `sam2-hf track` and `pipeline("video-mask-generation")` use when no model is named.
DEFAULT_MODEL = str(Path(__file__).parent / "pretrained" / "sam2-hf-synthetic-small")


def default_model_shipped() -> bool:
    return Path(DEFAULT_MODEL, "config.json").is_file()


def load_model(source: str | None, model_class: type[Sam2Model] = Sam2Model, preset: str = "sam2.1-hiera-tiny") -> Sam2Model:
    """A model from a folder, Hub id or official ``.pt``; with no source, the shipped default
    model (:data:`DEFAULT_MODEL`), or random weights of ``preset`` when the package has none
    (useful only to try the plumbing: the masks mean nothing)."""
    if source is None and default_model_shipped():
        source = DEFAULT_MODEL
    if source is None:
        logger.warning("no --model given and no default model shipped: using RANDOM weights of %s; the masks "
                       "will be meaningless", preset)
        torch.manual_seed(0)
        return model_class(Sam2Config.from_preset(preset)).eval()
    return model_class.from_pretrained(source).eval()
