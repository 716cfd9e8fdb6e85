"""What research/official_trainer.py (U-GAT-IT) and research/official_nicegan_trainer.py
(NICE-GAN) do alike around an official trainer: the same options, the same in-memory patch,
the same work folder, the same seeding and the same output file. Only building the official
options and translating the test set are each model's own.

Two things are changed around the official code, and nothing in its training step:
- ``trainA_iter.next()`` (and the other loaders' ``.next()``) becomes ``next(trainA_iter)``:
  Python 3 iterators, and so torch 2.x's data loader iterators, have no ``next`` method. The
  official file is read, patched in memory by that one substitution and executed as a module.
- torchvision's compiled detection operators cannot load beside a CPU-only torch here; its
  fake-tensor registrations of them are skipped so that its pure-Python ``transforms``, the
  only part the official code uses, import.

Seeds: Python's, numpy's and torch's generators are seeded before the networks are built, so
a run is repeatable. print_freq is never reached by the options the scripts pass: its sample
drawing takes pictures from the loaders and would change the run.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import types

import numpy as np

NEVER = 10 ** 9  # an iteration count no run reaches (print_freq, save_freq without --every)


def arguments(description: str, repo: str) -> argparse.ArgumentParser:
    """The options both official runs take; a script adds its model's own."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repo", required=True, help=f"a checkout of {repo}")
    p.add_argument("--data", required=True, help="a task folder: trainA, trainB, testA, testB")
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--light", type=int, default=1)
    p.add_argument("--ch", type=int, default=8)
    p.add_argument("--n_res", type=int, default=2)
    p.add_argument("--img_size", type=int, default=96)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--adv-weight", type=float, default=1)
    p.add_argument("--every", type=int, default=0, help="also translate with the official "
                   "checkpoints it saves every this many iterations (its save_freq; 0: the end "
                   "only)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    p.add_argument("--out", required=True, help=".npz file for the translations")
    return p


def parse(p: argparse.ArgumentParser) -> argparse.Namespace:
    """The options with every path made absolute: the run works in its own folder, so a
    relative ``--out`` would otherwise land there and be removed with it."""
    args = p.parse_args()
    for key in ("repo", "data", "out"):
        setattr(args, key, os.path.abspath(getattr(args, key)))
    return args


def load_official(repo: str, filename: str, threads: int = 0) -> tuple[types.ModuleType, int]:
    """The official file executed as a module with its ``.next()`` calls patched; returns the
    module and how many calls were patched."""
    sys.modules["torchvision._meta_registrations"] = types.ModuleType(
        "torchvision._meta_registrations")
    import torch

    if threads:
        torch.set_num_threads(threads)
    repo = os.path.abspath(repo)
    sys.path.insert(0, repo)
    source_path = os.path.join(repo, filename)
    with open(source_path, encoding="utf-8") as f:
        source, patched = re.subn(r"\b(\w+_iter)\.next\(\)", r"next(\1)", f.read())
    module = types.ModuleType(os.path.splitext(filename)[0])
    module.__file__ = source_path
    exec(compile(source, source_path, "exec"), module.__dict__)  # the official file, patched
    return module, patched


def work_folder(data: str, prefix: str, subfolders: tuple[str, ...]) -> str:
    """A fresh folder laid out as the official main.py expects (dataset/task linking to the
    task folder, results/task/<sub>), made the current directory."""
    data = os.path.abspath(data)
    work = tempfile.mkdtemp(prefix=prefix)
    os.makedirs(os.path.join(work, "dataset"))
    os.symlink(data, os.path.join(work, "dataset", "task"))
    for sub in subfolders:
        os.makedirs(os.path.join(work, "results", "task", sub))
    os.chdir(work)
    return work


def seed_all(seed: int) -> None:
    """Every generator the official code draws from."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def to_picture(fake) -> np.ndarray:
    """One generator output in [-1, 1] (1, 3, H, W) as the uint8 picture (H, W, 3)."""
    picture = (fake[0].permute(1, 2, 0).numpy() + 1) / 2
    return np.clip(np.round(picture * 255), 0, 255).astype(np.uint8)


def save_translations(args: argparse.Namespace, final: np.ndarray, at: dict, patched: int,
                      work: str) -> None:
    """The translations at the end and at each checkpoint, written whole (tmp, then rename);
    then the work folder with the official checkpoints, already read, is removed."""
    np.savez_compressed(args.out + ".tmp.npz", fakes=final, seed=args.seed,
                        iterations=args.iterations, patched_next_calls=patched,
                        settings=json.dumps(vars(args)), **at)
    os.replace(args.out + ".tmp.npz", args.out)
    shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {len(final)} A->B translations ({len(at)} checkpoints besides the end) to "
          f"{args.out} ({patched} .next() calls patched)")
