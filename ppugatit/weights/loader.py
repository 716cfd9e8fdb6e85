"""One way in for weights: tell the format by the file's content and return a ready model.

Formats: ``ours`` (``weights.pdparams`` / a training ``.pdckpt``, configured by the run's
``config.yaml``), ``pytorch`` (the official code's ``.pt``), ``paddlegan`` (PaddleGAN's
trainer files) and ``tensorflow`` (the authors' checkpoint folders). Foreign files carry their
sizes in their tensor shapes; ``-c``/``-o`` set what they cannot tell (a light model's
img_size) and win over what is read.
"""
from __future__ import annotations

import os
from typing import Any, Iterable

import numpy as np

from ppugatit.errors import CheckpointError, ConfigError
from ppugatit.weights import paddle_pickle, paddlegan, tf_checkpoint

FORMATS = ("ours", "pytorch", "paddlegan", "tensorflow")
# what a pickled torch.save (the legacy format) starts with: PROTO 2, LONG1 10, torch's magic
_TORCH_LEGACY_HEAD = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def detect(path: str) -> str:
    """The format of ``path`` from its content (a folder: a TensorFlow checkpoint)."""
    if os.path.isdir(path) or (not os.path.exists(path) and tf_checkpoint.is_bundle(path)):
        return "tensorflow"
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: file not found")
    with open(path, "rb") as f:
        head = f.read(14)
        f.seek(max(os.path.getsize(path) - 8, 0))
        tail = f.read(8)
    if head[:4] == b"PK\x03\x04" or head == _TORCH_LEGACY_HEAD:
        return "pytorch"
    if len(tail) == 8 and int.from_bytes(tail, "little") == tf_checkpoint.TABLE_MAGIC \
            or tf_checkpoint.is_bundle(path):
        return "tensorflow"
    if paddle_pickle.is_pickle(path):
        return "paddle"
    raise CheckpointError(f"{path}: not a weights file ppugatit reads (ours or PaddleGAN's "
                          f".pdparams, the official PyTorch .pt, or the authors' TensorFlow "
                          f"checkpoint folder)")


def _paddle_file(path: str) -> tuple[str, Any]:
    state = paddle_pickle.load(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: holds a {type(state).__name__}, not the dict of "
                              f"networks a weights file holds")
    if "model" in state and "iteration" in state:  # our training checkpoint
        return "ours", state["model"]["networks"]
    if paddlegan.is_paddlegan(state):
        return "paddlegan", state
    other = paddlegan.other_model(state)
    if other:
        raise CheckpointError(f"{path}: a PaddleGAN {other} file, not U-GAT-IT; ppugatit runs "
                              f"U-GAT-IT (PaddleGAN's ugatit_light.pdparams), NICE-GAN and SAGAN")
    if not all(isinstance(v, dict) for v in state.values()):
        raise CheckpointError(f"{path}: a single network's tensors ({next(iter(state), '')}...), "
                              f"not the dict of networks that weights.pdparams holds")
    return "ours", state


def read(path: str) -> tuple[str, Any, dict]:
    """``(format, contents, config overrides read off it)``; nothing is converted yet."""
    fmt = detect(path)
    if fmt == "tensorflow":
        from ppugatit.weights.tensorflow import tensorflow_sizes
        prefix = tf_checkpoint.resolve_prefix(path)
        variables = tf_checkpoint.read_variables(prefix, lambda n: n.startswith("generator_"))
        return fmt, (prefix, variables), tensorflow_sizes(variables, prefix)
    if fmt == "pytorch":
        from ppugatit.weights import torch_pickle
        from ppugatit.weights.pytorch import config_from_official
        official = torch_pickle.load(path)
        if not isinstance(official, dict):
            raise CheckpointError(f"{path}: holds a {type(official).__name__}, not a dict")
        return fmt, official, config_from_official(official, path)
    fmt, state = _paddle_file(path)
    if fmt == "paddlegan":
        return fmt, state, paddlegan.paddlegan_sizes(state, path)
    return fmt, state, {}


def networks(fmt: str, contents: Any, model, source: str) -> dict[str, dict]:
    """The file's networks in our names and layouts, for ``model``."""
    if fmt == "tensorflow":
        from ppugatit.weights.tensorflow import tensorflow_to_ours
        prefix, variables = contents
        return tensorflow_to_ours(variables, prefix)
    if fmt == "pytorch":
        from ppugatit.weights.layout import convert_official
        return convert_official(model, contents, source)
    if fmt == "paddlegan":
        return paddlegan.paddlegan_to_ours(contents)
    return contents


def find_config(weights: str) -> str | None:
    """The ``config.yaml`` a training run wrote beside its weights (or above checkpoints/)."""
    folder = os.path.dirname(os.path.abspath(weights))
    for candidate in (folder, os.path.dirname(folder)):
        path = os.path.join(candidate, "config.yaml")
        if os.path.isfile(path):
            return path
    return None


def open_weights(path: str, config: str | None = None, overrides: Iterable[str] = ()):
    """The model of any weights ppugatit reads, loaded, in eval mode; ``model.weights_format``
    says which format it was (the inference pipeline follows ``model.variant``)."""
    from ppugatit.config import build_config, parse_overrides
    from ppugatit.models.table import MODELS

    fmt, contents, sizes = read(path)
    if fmt == "ours":
        config = config or find_config(path)
        if config is None:
            raise CheckpointError(
                f"{path}: no config.yaml beside it; pass -c CONFIG (the config.yaml of the run "
                f"that wrote it, or a configs/*.yaml with the same model settings)")
        cfg = build_config(config, list(overrides), for_training=False)
    else:
        over = dict(sizes)
        over.update(parse_overrides(list(overrides)))
        cfg = build_config(config, over, for_training=False)
    model = MODELS[cfg.model.name](cfg)
    model.load_weights(networks(fmt, contents, model, path), path,
                       partial=fmt in ("tensorflow", "paddlegan"))
    model.weights_format = fmt
    model.eval()
    return model


def convert_file(src: str, dst: str, config: str | None = None,
                 overrides: Iterable[str] = ()) -> str:
    """``tools/convert_weights.py``: any weights -> our ``dst`` (.pdparams) and the
    ``config.yaml`` beside it that inference finds; returns a summary line."""
    from ppugatit import checkpoint
    from ppugatit.config import load_yaml, save_config

    model = open_weights(src, config, overrides)
    cfg_path = os.path.join(os.path.dirname(os.path.abspath(dst)), "config.yaml")
    if os.path.isfile(cfg_path):
        with open(cfg_path, encoding="utf-8") as f:
            if (load_yaml(f) or {}).get("model") != dict(_plain(model.cfg.model)):
                raise CheckpointError(f"{cfg_path}: another model's config is there; give "
                                      f"--dst in a folder of its own")
    weights = model.weights()
    checkpoint.save(weights, dst)
    save_config(model.cfg, cfg_path)
    n = sum(int(np.prod(v.shape)) for sd in weights.values() for v in sd.values())
    m = model.cfg.model
    return (f"{dst} (+ config.yaml): {model.weights_format} weights, {len(weights)} networks "
            f"({', '.join(weights)}), {n / 1e6:.2f}M values; model.name={m.name}"
            + (f" variant={m.variant} light={m.light} ch={m.ch} img_size={m.img_size}"
               if m.name == "ugatit" else ""))


def _plain(d: Any) -> Any:
    return {k: _plain(v) for k, v in d.items()} if isinstance(d, dict) else d


def read_for_training(cfg, path: str) -> tuple[str, Any, dict]:
    """``train.init_weights``: read the file and check it fits the config being trained, before
    the run folder is touched."""
    fmt, contents, sizes = read(path)
    variant = cfg.model.get("variant")
    if fmt == "tensorflow":
        raise ConfigError(f"train.init_weights={path}: the authors' TensorFlow checkpoints run "
                          f"for inference only (their discriminators and trainer are not "
                          f"ported); start from PyTorch, PaddleGAN or ppugatit weights")
    if fmt == "paddlegan" and variant != "paddlegan":
        raise ConfigError(f"train.init_weights={path} is PaddleGAN's: set -o model.variant="
                          f"paddlegan (its generators' instance norms have a scale and shift)")
    for key, value in sizes.items():
        have = cfg.model.get(key.split(".", 1)[1])
        if key.startswith("model.") and have != value:
            raise ConfigError(f"train.init_weights={path} has {key}={value}, this config "
                              f"{have}; set -o {key}={value}")
    return fmt, contents, sizes


def init_weights(model, path: str, read_result: tuple[str, Any, dict]) -> str:
    """Fine-tuning: load the networks read by :func:`read_for_training` into a model being
    trained (its optimizers stay fresh; networks the file lacks keep their initialisation)."""
    fmt, contents, _ = read_result
    model.load_weights(networks(fmt, contents, model, path), path, partial=True)
    return fmt
