"""YAML configs with ``-o key=value`` overrides, checked against the defaults of each model.

The valid keys and their types are those of ``ppugatit.defaults``: the common sections plus
the chosen model's; anything else is refused with the nearest valid key suggested, and a number
outside its range (:data:`AT_LEAST`) with the range named.

``output_dir: .`` in a YAML file means the file's own folder: a run's saved config.yaml holds
it, so ``-c <copy of a run>/config.yaml --resume`` continues the copy, never the original.
"""
from __future__ import annotations

import copy
import difflib
import os
import re
from typing import Any, Iterable

import yaml

from ppugatit.defaults import AT_LEAST, COMMON, NULLABLE
from ppugatit.errors import ConfigError
from ppugatit.models.descriptions import DESCRIPTIONS


class AttrDict(dict):
    """A dict whose keys read as attributes (``cfg.model.ch``)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as e:
            raise AttributeError(key) from e

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __deepcopy__(self, memo: dict) -> "AttrDict":
        return AttrDict({k: copy.deepcopy(v, memo) for k, v in self.items()})


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-4`` as a string; this loader reads it as the float users mean."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def load_yaml(text):
    return yaml.load(text, Loader=_Loader)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = prefix + k
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _merge(base: dict, update: dict) -> dict:
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base


def _to_attr(d: Any) -> Any:
    if isinstance(d, dict):
        return AttrDict({k: _to_attr(v) for k, v in d.items()})
    return d


def _nearest(key: str, valid: Iterable[str]) -> str:
    valid = list(valid)
    match = difflib.get_close_matches(key, valid, n=1, cutoff=0.0)
    leaf = difflib.get_close_matches(key.split(".")[-1], [v.split(".")[-1] for v in valid], n=1)
    if leaf:
        candidates = [v for v in valid if v.split(".")[-1] == leaf[0]]
        if candidates:
            return difflib.get_close_matches(key, candidates, n=1, cutoff=0.0)[0]
    return match[0] if match else ""


def _check_type(key: str, value: Any, default: Any, origin: str) -> Any:
    if value is None and (default is None or key in NULLABLE):
        return None
    if default is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(value, type(default)):
        return value
    raise ConfigError(f"{origin}: '{key}' must be {type(default).__name__} "
                      f"(like {default!r}), got {type(value).__name__} {value!r}")


def _check_range(key: str, value: Any, default: Any, origin: str) -> None:
    if key not in AT_LEAST or value is None:
        return
    bound, strict = AT_LEAST[key]
    if value < bound or (strict and value == bound):
        raise ConfigError(f"{origin}: '{key}' must be {'>' if strict else '>='} {bound}, got "
                          f"{value!r}; set it like -o {key}={default!r}")


def parse_overrides(items: Iterable[str]) -> dict:
    """``["a.b=1", "c=[1, 2]"]`` -> ``{"a.b": 1, "c": [1, 2]}``; values are parsed as YAML."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like key=value (e.g. model.light=true)")
        key, raw = item.split("=", 1)
        key = key.strip()
        try:
            out[key] = load_yaml(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key] = raw
    return out


def model_defaults(name: str) -> dict:
    if name not in DESCRIPTIONS:
        near = difflib.get_close_matches(name, list(DESCRIPTIONS), n=1, cutoff=0.0)
        raise ConfigError(f"model.name '{name}' is unknown; choose one of "
                          f"{sorted(DESCRIPTIONS)}" + (f" (did you mean '{near[0]}'?)"
                                                        if near else ""))
    return DESCRIPTIONS[name].defaults


def build_config(path: str | None = None, overrides: Iterable[str] | dict = (), *,
                 for_training: bool = True) -> AttrDict:
    """Defaults, then the YAML file, then the overrides; every key and type checked.

    ``for_training`` False (inference reads a run's sizes, writes nothing there) skips the
    refusal of a run's config.yaml whose output_dir names another folder."""
    user: dict = {}
    if path is not None:
        if not os.path.isfile(path):
            raise ConfigError(f"config file '{path}' not found; configs live in configs/*.yaml")
        with open(path, encoding="utf-8") as f:
            try:
                user = load_yaml(f) or {}
            except yaml.YAMLError as e:
                mark = getattr(e, "problem_mark", None)
                where = f" line {mark.line + 1}" if mark is not None else ""
                raise ConfigError(f"{path}:{where} is not valid YAML: "
                                  f"{getattr(e, 'problem', e)}") from None
        if not isinstance(user, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
    flat_over = overrides if isinstance(overrides, dict) else parse_overrides(overrides)

    name = flat_over.get("model.name", (user.get("model") or {}).get("name", "ugatit"))
    defaults = _merge(copy.deepcopy(COMMON), copy.deepcopy(model_defaults(name)))
    valid = _flatten(defaults)

    origin = path or "config"
    flat_user = _flatten(user)
    for source, items in ((origin, flat_user), ("-o", flat_over)):
        for key, value in items.items():
            if key not in valid:
                near = _nearest(key, valid)
                hint = f"; did you mean '{near}'?" if near else ""
                raise ConfigError(f"{source}: unknown key '{key}'{hint}")
            default = _flatten(defaults)[key]
            valid[key] = _check_type(key, value, default, source)
            _check_range(key, valid[key], default, source)
            if (key == "output_dir" and path and source == origin
                    and os.path.normpath(valid[key]) == "."):
                valid[key] = os.path.dirname(path) or "."  # a run's config: its own folder

    here = os.path.dirname(os.path.abspath(path)) if path else ""
    if (for_training and "output_dir" in flat_user and "output_dir" not in flat_over
            and os.path.abspath(valid["output_dir"]) != here
            and os.path.isdir(os.path.join(here, "checkpoints"))):
        raise ConfigError(f"{path} sits in a run's folder but its output_dir names "
                          f"'{valid['output_dir']}' (a copied run?); set -o output_dir="
                          f"{os.path.dirname(path) or '.'} to use this one, or -o output_dir="
                          f"{valid['output_dir']} for that one")

    cfg: dict = {}
    for key, value in valid.items():
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return _to_attr(cfg)


def save_config(cfg: dict, path: str) -> None:
    """Write the final config (atomically) so a run can be reproduced from its output folder.

    An ``output_dir`` that is the file's own folder is written as ``.``: a copy of the folder
    then names itself, never the run it was copied from."""
    from ppugatit.utils import atomic_write_text

    def plain(d: Any) -> Any:
        return {k: plain(v) for k, v in d.items()} if isinstance(d, dict) else d

    out = plain(cfg)
    if os.path.abspath(str(out.get("output_dir"))) == os.path.dirname(os.path.abspath(path)):
        out["output_dir"] = "."
    atomic_write_text(path, yaml.safe_dump(out, sort_keys=False))
