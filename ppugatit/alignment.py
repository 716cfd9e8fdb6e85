"""Compare our numbers with a fixture made by an official implementation.

A fixture (``.npz``, format in ``tests/fixtures/README.md``) holds the official weights
(``before/``), inputs, forward outputs, one training step's losses and the weights after it.
The model named by the fixture's networks rebuilds all of it from ``before/`` through the same
converter users run (:meth:`GANModel.fixture_outputs`); this module only compares, by key,
with the tolerances the fixtures' README states, and reports one row per check.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ppugatit.config import build_config
from ppugatit.device import setup_device
from ppugatit.errors import DataError
from ppugatit.models import model_for_networks

FORWARD_TOL = 1e-4      # x max(1, max|ref|)
LOSS_RTOL = 1e-5
UV_TOL = 1e-5
UPDATE_TOL = 1e-5       # for at least UPDATE_SHARE of each tensor's elements
UPDATE_SHARE = 0.99
UPDATE_ALL_LR = 2.5     # every element within 2.5 x lr (Adam's first step moves by up to 2 lr)


@dataclass
class Row:
    name: str
    diff: float
    tol: float
    ok: bool
    note: str = ""


def _is_uv(key: str) -> bool:
    return key.endswith(("weight_u", "weight_v"))


def _compare(key: str, ref: np.ndarray, ours: np.ndarray | None, fixture: dict,
             lrs: dict[str, float], noise: str | None = None) -> Row:
    if ours is None:
        return Row(key, float("nan"), 0.0, False, "not produced")
    ref = np.asarray(ref, dtype=np.float64)
    ours = np.asarray(ours, dtype=np.float64)
    if ref.shape != ours.shape:
        return Row(key, float("nan"), 0.0, False, f"shape {ours.shape} != {ref.shape}")
    section = key.split("/")[0]
    if section == "step":
        tol = LOSS_RTOL * max(abs(float(ref)), 1e-12)
        diff = float(abs(ours - ref))
        return Row(key, diff, tol, diff <= tol)
    if _is_uv(key):
        diff = float(np.abs(ours - ref).max())
        return Row(key, diff, UV_TOL, diff <= UV_TOL)
    if section == "after":
        before = np.asarray(fixture["before/" + key[len("after/"):]], dtype=np.float64)
        err = np.abs((ours - before) - (ref - before))
        net = key.split("/")[1]
        tol_all = UPDATE_ALL_LR * lrs[net]
        share = float((err <= UPDATE_TOL).mean())
        diff = float(err.max())
        note = f"{100 * share:.2f}% within {UPDATE_TOL:g}"
        if noise:  # the reference's update is float32 noise: only Adam's bound can hold
            return Row(key, diff, tol_all, diff <= tol_all, f"{note}; float32 noise: {noise}")
        ok = share >= UPDATE_SHARE and diff <= tol_all
        return Row(key, diff, tol_all, ok, note)
    tol = FORWARD_TOL * max(1.0, float(np.abs(ref).max()))
    diff = float(np.abs(ours - ref).max())
    return Row(key, diff, tol, diff <= tol)


def check_fixture(fixture: dict, source: str = "fixture") -> list[Row]:
    """Rebuild everything the fixture records with our code; one row per recorded tensor."""
    setup_device("cpu")  # the fixtures are CPU float32 numbers; check the CPU path training runs
    cls = model_for_networks({k.split("/")[1] for k in fixture if k.startswith("before/")},
                             source)
    cfg = build_config(overrides=cls.fixture_config(fixture))
    model = cls(cfg)
    ours = model.fixture_outputs(fixture)
    lrs = model.network_lr()
    noise = model.fixture_float_noise(fixture)
    rows = []
    for key in fixture:
        if key.split("/")[0] in ("eval_forward", "train_forward", "step", "after"):
            rows.append(_compare(key, fixture[key], ours.get(key), fixture, lrs, noise.get(key)))
    return rows


def format_report(rows: list[Row], verbose: bool = False) -> str:
    """A reprod_log-style table: every failing row, the worst row per section, and a summary."""
    lines = [f"{'check':<58} {'max diff':>11} {'tolerance':>11}  result"]
    sections: dict[str, list[Row]] = {}
    for r in rows:
        sections.setdefault(r.name.split("/")[0], []).append(r)
    for section, items in sections.items():
        shown = items if verbose else [r for r in items if not r.ok] or [
            max(items, key=lambda r: r.diff / r.tol if r.tol else 0.0)]
        for r in shown:
            note = f"  ({r.note})" if r.note else ""
            lines.append(f"{r.name:<58} {r.diff:>11.3e} {r.tol:>11.3e}  "
                         f"{'pass' if r.ok else 'FAIL'}{note}")
        n_ok = sum(r.ok for r in items)
        lines.append(f"{'  ' + section + ': ' + str(n_ok) + '/' + str(len(items)) + ' pass':<58}")
    failed = sum(not r.ok for r in rows)
    lines.append(f"{len(rows) - failed}/{len(rows)} checks pass"
                 + ("" if not failed else f"; {failed} FAIL"))
    return "\n".join(lines)


def load_fixture(path: str) -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise DataError(f"{path}: fixture not found")
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not an .npz fixture ({e})") from None
