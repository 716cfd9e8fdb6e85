"""An export folder's files and what they say: the names every exporter writes and every
predictor reads.

An exported model is a folder: ``inference.json`` (Paddle 3's PIR program; older Paddle writes
``inference.pdmodel``), ``inference.pdiparams`` and ``inference.yml``, which records what
deploy needs to know without the training config (task, direction, img_size or z_dim, outputs);
and/or ``inference.onnx``, which carries the same description in its metadata.
"""
from __future__ import annotations

import json
import os

import yaml

from ppugatit.errors import UserError

PREFIX = "inference"


META = PREFIX + ".yml"


ONNX_FILE = "inference.onnx"


ONNX_META_KEY = "ppugatit"


class ExportError(UserError):
    pass


class RuntimeChoiceError(UserError):
    pass


def model_files(model_dir: str) -> tuple[str, str]:
    """``(program, params)`` of an exported model: PIR ``.json`` or legacy ``.pdmodel``."""
    params = os.path.join(model_dir, PREFIX + ".pdiparams")
    for ext in (".json", ".pdmodel"):
        program = os.path.join(model_dir, PREFIX + ext)
        if os.path.isfile(program) and os.path.isfile(params):
            return program, params
    raise ExportError(f"--model_dir {model_dir}: no {PREFIX}.json/.pdmodel with "
                      f"{PREFIX}.pdiparams; write one with tools/export_model.py")


def read_meta(model_dir: str) -> dict:
    path = os.path.join(model_dir, META)
    if not os.path.isfile(path):
        raise ExportError(f"{path}: not found; export with tools/export_model.py, which "
                          f"writes it beside the model")
    with open(path, encoding="utf-8") as f:
        meta = yaml.safe_load(f)
    if not isinstance(meta, dict) or "task" not in meta or "outputs" not in meta:
        raise ExportError(f"{path}: not an export description (task, outputs missing)")
    return meta


def onnx_path(model: str) -> str | None:
    """The ONNX file ``model`` names: the file itself or ``inference.onnx`` in the folder."""
    if model.lower().endswith(".onnx"):
        return model if os.path.isfile(model) else None
    path = os.path.join(model, ONNX_FILE)
    return path if os.path.isfile(path) else None


def has_paddle_model(model: str) -> bool:
    return os.path.isdir(model) and any(
        os.path.isfile(os.path.join(model, "inference" + ext)) for ext in (".json", ".pdmodel"))


def read_onnx_meta(path: str) -> dict:
    """The export description stored in the ONNX file's metadata by ``export_onnx``."""
    import onnx

    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as e:  # onnx raises DecodeError and others for a damaged file
        raise RuntimeChoiceError(f"{path}: not a readable ONNX model ({type(e).__name__})"
                                 ) from None
    props = {p.key: p.value for p in model.metadata_props}
    if ONNX_META_KEY not in props:
        raise RuntimeChoiceError(f"{path}: no ppugatit description in its metadata; export it "
                                 f"with tools/export_model.py --format onnx")
    return json.loads(props[ONNX_META_KEY])
