"""Model cards for folders written by `sam2-hf convert` (and later by training)."""

from __future__ import annotations

from pathlib import Path

from .configuration import Sam2Config

_TEMPLATE = """---
library_name: sam2_hf
license: apache-2.0
pipeline_tag: mask-generation
tags:
- sam2
- segment-anything
- video-segmentation
---

# {title}

SAM 2 {version} with a Hiera trunk of {embed_dim} channels and {depth} blocks ({params:,} tensors' values),
in the `sam2_hf` format. {origin}

## Usage

```python
import sam2_hf
from sam2_hf import {model_class}, Sam2Processor

model = {model_class}.from_pretrained("{repo}")
processor = Sam2Processor.from_pretrained("{repo}")
inputs = processor(images=image, input_points=[[[[x, y]]]], input_labels=[[[1]]])
outputs = model(**inputs)
masks = processor.post_process_masks(outputs.pred_masks, inputs["original_sizes"])
```

{details}SAM 2: Ravi et al., "SAM 2: Segment Anything in Images and Videos", 2024.
"""


def write_model_card(folder: str | Path, config: Sam2Config, model_class: str, num_values: int, origin: str,
                     details: str = "", name: str | None = None) -> Path:
    """Write ``README.md`` into a saved model folder and return its path; ``details`` (markdown)
    goes before the citation (training data, metrics...). ``name`` is the model's (default: the
    folder's; a folder being staged is not named as the model will be)."""
    folder = Path(folder)
    name = name or folder.name
    text = _TEMPLATE.format(
        title=name, version=config.version, embed_dim=config.vision_config.embed_dim,
        depth=sum(config.vision_config.stages), params=num_values, origin=origin,
        model_class=model_class, repo=name, details=f"{details.strip()}\n\n" if details.strip() else "",
    )
    path = folder / "README.md"
    path.write_text(text)
    return path


_PART_TEMPLATE = """---
library_name: sam2_hf
license: apache-2.0
tags:
- sam2
- segment-anything
---

# {title}

{description} of SAM 2 ({params:,} parameters), saved alone by `sam2_hf`: `{model_class}`.

```python
from sam2_hf import {model_class}

part = {model_class}.from_pretrained("{repo}")
```

Its tensors have the names they have in the whole model, so it also loads from a whole
`sam2_hf` folder, transformers' `facebook/sam2.1-hiera-*` repos and official `.pt` files;
`Sam2Model.from_parts(...)` / `Sam2VideoModel.from_parts(...)` put parts together again.

SAM 2: Ravi et al., "SAM 2: Segment Anything in Images and Videos", 2024.
"""


def write_part_card(folder: str | Path, model_class: str, description: str, num_parameters: int) -> Path:
    """Write ``README.md`` into a folder holding one part of SAM 2 (its vision model, memory or decoder)."""
    folder = Path(folder)
    path = folder / "README.md"
    path.write_text(_PART_TEMPLATE.format(title=folder.name, description=description, params=num_parameters,
                                          model_class=model_class, repo=folder.name))
    return path
