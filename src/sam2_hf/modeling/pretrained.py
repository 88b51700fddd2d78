"""The shared ``PreTrainedModel`` bases: weight init and loading of all three checkpoint layouts,
for the whole models and for their parts."""

from __future__ import annotations

import json
import math
import os
import pickle
import re
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import nn
from huggingface_hub import hf_hub_download
from safetensors.torch import load_file
from transformers import PreTrainedModel
from transformers import initialization as init

from ..configuration import MODEL_TYPE, Sam2Config, Sam2MemoryConfig
from ..convert import infer_config, official_to_ours, transformers_to_ours
from ..model_card import write_part_card
from .layers import LayerNorm2d
from .prompt_encoder import RandomFourierPositionEncoding

# model_type values of transformers' own SAM 2 checkpoints.
TRANSFORMERS_MODEL_TYPES = ("sam2", "sam2_video")
_HUB_KWARGS = ("cache_dir", "force_download", "proxies", "token", "revision", "local_files_only", "subfolder")


class Sam2PreTrainedModel(PreTrainedModel):
    config_class = Sam2Config
    base_model_prefix = "sam2"
    main_input_name = "pixel_values"
    _no_split_modules = ["HieraBlock", "TwoWayAttentionBlock", "MemoryAttentionLayer"]

    @torch.no_grad()
    def _init_weights(self, module: torch.nn.Module) -> None:
        """The official implementation's initialisation: PyTorch's defaults for layers and token
        embeddings, 0.02 truncated normals for the model's free embeddings.

        transformers' generic init (normal 0.02 for every layer and embedding) is not used: it
        shrinks the mask path (hypernetwork MLP times upscaled features) to logits of about 1e-4 and
        the output tokens to 1/50 of the prompt encodings, and a model trained from scratch then
        takes about twice the steps to start using its prompts.
        """
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            # torch.nn's own reset_parameters, through transformers' init functions, which leave
            # weights loaded from a checkpoint alone.
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                bound = 1 / math.sqrt(module.weight[0].numel())  # torch's fan-in, for convs and transposed convs alike
                init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, torch.nn.Embedding):
            init.normal_(module.weight, std=1.0)
        elif isinstance(module, (torch.nn.LayerNorm, LayerNorm2d)):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, RandomFourierPositionEncoding):
            init.normal_(module.gaussian_matrix, std=1.0)
        for name, param in module.named_parameters(recurse=False):
            if name in ("pos_embed", "pos_embed_window"):
                init.trunc_normal_(param, std=0.02)
            elif name == "layer_scale":
                memory = self.config if isinstance(self.config, Sam2MemoryConfig) else self.config.memory_config
                init.constant_(param, memory.layer_scale_init_value)
            elif param.ndim > 1 and not isinstance(module, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Embedding)):
                # Free embeddings of the model itself (no-memory embedding, temporal encodings...).
                init.trunc_normal_(param, std=0.02)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *model_args: Any, **kwargs: Any):
        """Load our own format, transformers' SAM 2 format, or an official ``.pt`` file.

        Args:
            pretrained_model_name_or_path: a folder or Hub id (our layout or transformers'), or the
                path of an official ``.pt`` checkpoint.
            config: overrides the config stored with (or inferred from) the checkpoint.
            dtype: dtype to load the weights in (``torch_dtype`` is accepted too).
            **kwargs: Hub options (``revision``, ``token``, ``cache_dir``...) and, for our own
                layout, anything ``PreTrainedModel.from_pretrained`` takes.

        Raises:
            ValueError: when the checkpoint does not fit the model, naming the missing, unexpected or
                wrongly shaped tensors.
        """
        source = str(pretrained_model_name_or_path)
        if Path(source).suffix in (".pt", ".pth"):
            if not Path(source).is_file():
                raise ValueError(f"checkpoint file not found: {source}")
            try:  # weights_only: a checkpoint from anywhere may carry pickled code; only tensors are read
                checkpoint = torch.load(source, map_location="cpu", weights_only=True)
            except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
                raise ValueError(f"{source} is not a checkpoint of tensors only (it is refused without running "
                                 f"anything it holds): {str(error).splitlines()[0]}") from None
            if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
                raise ValueError(f"{source} is not an official SAM 2 checkpoint (no top-level 'model' dict)")
            return cls._from_converted_state_dict(official_to_ours(checkpoint["model"]), **kwargs)

        hub_kwargs = {k: kwargs[k] for k in _HUB_KWARGS if k in kwargs}
        config_file = _resolve_file(source, "config.json", hub_kwargs)
        model_type = json.loads(Path(config_file).read_text()).get("model_type")
        if model_type in TRANSFORMERS_MODEL_TYPES:
            state_dict = _load_safetensors(source, hub_kwargs)
            return cls._from_converted_state_dict(transformers_to_ours(state_dict), **kwargs)
        own_type = cls.config_class.model_type
        if model_type == MODEL_TYPE and own_type != MODEL_TYPE:  # a part, from a whole model's folder
            state_dict = _load_safetensors(source, hub_kwargs)
            return cls._from_converted_state_dict(state_dict, Sam2Config.from_json_file(config_file), **kwargs)
        if model_type != own_type:
            raise ValueError(
                f"{source} holds a {model_type!r} model; {cls.__name__} loads {' / '.join(dict.fromkeys([own_type, MODEL_TYPE]))} "
                f"or transformers' {' / '.join(TRANSFORMERS_MODEL_TYPES)}"
            )
        kwargs.setdefault("dtype", kwargs.pop("torch_dtype", None) or "float32")
        try:
            model, info = super().from_pretrained(source, *model_args, output_loading_info=True, **kwargs)
        except RuntimeError as error:  # shape mismatches come back as RuntimeError
            raise ValueError(f"checkpoint {source} does not fit {cls.__name__}: {error}") from error
        _check_keys(cls, info["missing_keys"], info["unexpected_keys"], [], source)
        for mismatch in info.get("mismatched_keys", []):
            raise ValueError(f"checkpoint {source} does not fit {cls.__name__}: wrong shape of {mismatch}")
        return model

    @classmethod
    def _from_converted_state_dict(
        cls, state_dict: dict[str, torch.Tensor], config: Sam2Config | None = None, **kwargs: Any
    ):
        """Build the model for ``config`` (inferred from the tensors when ``None``) and load a state
        dict already in our key layout, strictly."""
        dtype = kwargs.get("dtype", kwargs.get("torch_dtype"))
        config = config if config is not None else infer_config(state_dict)
        if isinstance(config, Sam2Config):
            config = cls.config_from_whole(config)
        model = cls(config)
        expected = model.state_dict()
        if isinstance(model, Sam2PartModel):  # the rest of the whole model's tensors are not ours
            state_dict = {k: v for k, v in state_dict.items() if k in expected}
        ignored = [k for k in state_dict if k not in expected and cls._is_ignorable(k)]
        for key in ignored:
            state_dict.pop(key)
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        wrong_shape = [
            f"{k} (checkpoint {tuple(v.shape)}, model {tuple(expected[k].shape)})"
            for k, v in state_dict.items()
            if k in expected and v.shape != expected[k].shape
        ] + [
            f"{k} (checkpoint {v.dtype}, model {expected[k].dtype})"
            for k, v in state_dict.items()
            if k in expected and v.is_floating_point() != expected[k].is_floating_point()
        ]
        _check_keys(cls, missing, unexpected, wrong_shape, "the checkpoint")
        model.load_state_dict(state_dict, strict=True)
        if dtype is not None:
            model.to(getattr(torch, dtype) if isinstance(dtype, str) else dtype)
        return model.eval()

    @classmethod
    def _is_ignorable(cls, key: str) -> bool:
        return any(re.search(pattern, key) for pattern in cls._keys_to_ignore_on_load_unexpected or [])

    @classmethod
    def config_from_whole(cls, config: Sam2Config):
        """The config this class is built from, out of a whole model's (the same, for a whole model)."""
        return config


class Sam2PartModel(Sam2PreTrainedModel):
    """One part of SAM 2 (vision model, memory or mask decoder) as a model of its own.

    A part's tensors carry the names they have in the whole model, so a part loads from every
    checkpoint the whole model loads from (taking its own tensors), saves a folder that loads
    alone, and the whole models are built from the parts' components (:meth:`build_components`).
    """

    config_key: str  # where a Sam2Config keeps this part's config
    description: str  # what the part is, for its model card

    def __init__(self, config) -> None:
        super().__init__(config)
        for name, component in self.build_components(config).items():
            setattr(self, name, component)
        self.post_init()

    @staticmethod
    def build_components(config) -> dict[str, nn.Module | nn.Parameter]:
        """The part's modules and loose parameters, by the names they have in the whole model."""
        raise NotImplementedError

    @classmethod
    def config_from_whole(cls, config: Sam2Config):
        return getattr(config, cls.config_key)

    @classmethod
    def view_of(cls, model: Sam2PreTrainedModel) -> "Sam2PartModel":
        """This part of a whole model, sharing its tensors: train, save or count it on its own."""
        with torch.device("meta"):  # nothing allocated: every component is the whole model's
            part = cls(cls.config_from_whole(model.config))
        for name in part.component_names():
            setattr(part, name, getattr(model, name))
        return part.train(model.training)

    def component_names(self) -> list[str]:
        return [*self._modules, *self._parameters]

    def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
        """``PreTrainedModel.save_pretrained``, plus a model card naming the part."""
        super().save_pretrained(save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):
            write_part_card(save_directory, type(self).__name__, self.description, self.num_parameters())


def adopt_components(model: nn.Module, parts: list[Sam2PartModel]) -> None:
    """Make the parts' components the model's own, under the same names (no copy)."""
    for part in parts:
        for name in part.component_names():
            setattr(model, name, getattr(part, name))


def _check_keys(cls: type, missing, unexpected, wrong_shape: list[str], source: str) -> None:
    """Raise naming what does not fit; transformers hands over sets, listed here in order."""
    missing, unexpected, problems = sorted(missing), sorted(unexpected), []
    if missing:
        problems.append(f"missing keys: {_describe_keys(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_describe_keys(unexpected)}")
    if wrong_shape:
        problems.append(f"wrong shapes or dtypes (a checkpoint of another size?): {_describe_keys(wrong_shape)}")
    prefix = _common_prefix_hiding(missing, unexpected)
    if prefix:
        problems.append(f"every key of the checkpoint carries the prefix {prefix!r} (a training checkpoint? "
                        "load the run's saved model folder, or strip the prefix)")
    if problems:
        raise ValueError(f"{source} does not fit {cls.__name__}; " + "; ".join(problems))


def _describe_keys(keys: list[str], shown: int = 12) -> str:
    """All the keys when few; else how many under each top-level module and the first ``shown``:
    a whole model's worth of names helps nobody read the error."""
    if len(keys) <= shown:
        return ", ".join(keys)
    modules = Counter(key.split(".", 1)[0] for key in keys)  # in the keys' order
    counts = ", ".join(f"{module}.* ({count})" for module, count in modules.items())
    return f"{len(keys)} under {counts}; the first: {', '.join(keys[:shown])}, ..."


def _common_prefix_hiding(missing: list[str], unexpected: list[str]) -> str | None:
    """The prefix (like ``'model.'``) that, stripped from the unexpected keys, gives the missing ones."""
    prefixes = {key.split(".", 1)[0] + "." for key in unexpected if "." in key}
    if not missing or len(prefixes) != 1:
        return None
    prefix = prefixes.pop()
    return prefix if set(missing) <= {key[len(prefix):] for key in unexpected} else None


def _resolve_file(source: str, filename: str, hub_kwargs: dict[str, Any]) -> str:
    """A file of a local folder, or downloaded (and cached) from a Hub repo."""
    local = Path(source) / hub_kwargs.get("subfolder", "") / filename
    if Path(source).is_dir():
        if not local.is_file():
            raise ValueError(f"{source} has no {filename}")
        return str(local)
    return hf_hub_download(source, filename, **hub_kwargs)


def _load_safetensors(source: str, hub_kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """``model.safetensors`` of a folder or repo, or all shards listed in its index."""
    try:
        return load_file(_resolve_file(source, "model.safetensors", hub_kwargs))
    except (ValueError, OSError):
        index_file = _resolve_file(source, "model.safetensors.index.json", hub_kwargs)
    shards = sorted(set(json.loads(Path(index_file).read_text())["weight_map"].values()))
    state_dict: dict[str, torch.Tensor] = {}
    for shard in shards:
        state_dict.update(load_file(_resolve_file(source, shard, hub_kwargs)))
    return state_dict
