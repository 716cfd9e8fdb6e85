"""The one Trainer: data, the model's training step, logs, VisualDL, samples and checkpoints.

It knows models only through :class:`ppugatit.models.base.GANModel`; it runs unchanged under
``paddle.distributed.launch``, where rank 0 alone logs and saves.
"""
from __future__ import annotations

import logging
import logging.handlers
import math
import os
import random
import signal
import tempfile
import time
import warnings

import numpy as np
import paddle
import paddle.distributed as dist

from ppugatit import checkpoint, run_dir
from ppugatit.config import save_config
from ppugatit.data.dataset import domain_files, load_test_images, train_loader
from ppugatit.data.demo import ensure_demo_dataset
from ppugatit.data.image_io import write_image
from ppugatit.device import Runtime
from ppugatit.errors import CheckpointError, ConfigError, UserError
from ppugatit.logger import format_eta, setup_logger
from ppugatit.models.table import MODELS
from ppugatit.utils import seed_everything
from ppugatit.weights import loader


class TrainingStopped(UserError):
    """Training cannot go on (a loss became NaN or inf); the last good checkpoint is kept."""


def init_distributed() -> tuple[int, int]:
    """``(rank, world size)``; joins the process group when started by paddle.distributed.launch."""
    world = int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_parallel_env()
    return (dist.get_rank(), dist.get_world_size()) if world > 1 else (0, 1)


class Trainer:
    """Iteration-based training of ``MODELS[cfg.model.name]``."""

    def __init__(self, cfg, resume: bool = False, fresh: bool = False):
        """``resume``: continue the run in ``cfg.output_dir``; ``fresh``: move a run there aside
        first. Without either, a folder that holds a run is refused."""
        self.cfg = cfg
        self.rank, self.world = init_distributed()
        self.out = cfg.output_dir
        self.ckpt_dir = os.path.join(self.out, "checkpoints")
        self.logger = setup_logger(None, self.rank)
        early = logging.handlers.BufferingHandler(capacity=1 << 20)
        self.logger.addHandler(early)  # for train.log, once the set-up has passed every check
        try:
            self._set_up(resume, fresh, early)
        finally:
            self.logger.removeHandler(early)

    def _set_up(self, resume: bool, fresh: bool, early: logging.Handler) -> None:
        cfg = self.cfg
        model_cls = MODELS[cfg.model.name]
        refusal = model_cls.training_refusal(cfg)
        if refusal:
            raise ConfigError(refusal)
        model_cls.check_config(cfg)
        init = None
        if cfg.train.init_weights and not resume:
            init = loader.read_for_training(cfg, cfg.train.init_weights)
        earlier = run_dir.claim(self.out, resume, fresh) if self.rank == 0 or not fresh else []
        # the device, threads, allocator and kernels: entered around each public step, so
        # that nothing the run set outlives it in this process
        self.runtime = Runtime.for_training(cfg.train, self.world)
        self.device = self.runtime.device
        with self.runtime:
            self._build(model_cls, init, earlier, resume, early)

    def _build(self, model_cls, init, earlier: list, resume: bool,
               early: logging.Handler) -> None:
        cfg = self.cfg
        if cfg.train.amp and self.device == "cpu":
            self.logger.warning("train.amp: mixed precision needs a GPU; on CPU Paddle's "
                                "auto_cast leaves the step in float32")
            # Paddle repeats this for every auto_cast block; once (above) is enough
            warnings.filterwarnings("ignore", message="amp_guard can only be enabled")
        seed_everything(cfg.train.seed)

        root = cfg.dataset.root
        if cfg.dataset.demo and self.rank == 0:
            ensure_demo_dataset(root)
        if self.world > 1:
            dist.barrier()
        self.train_files = {d: domain_files(root, folder)
                            for d, folder in model_cls.train_folders.items()}
        self.sample_batch = self._sample_batch(model_cls, root)

        self.model = model_cls(cfg)
        if init is not None:
            fmt = loader.init_weights(self.model, cfg.train.init_weights, init)
            self.logger.info("train.init_weights: networks from %s (%s weights); optimizers "
                             "fresh, iteration 0", cfg.train.init_weights, fmt)
        self.iteration = 0
        self.best_kid = float("inf")
        if resume:
            self._resume()
        self.model.broadcast_parameters()

        self.evaluator = None
        if cfg.train.eval_interval > 0 and self.rank == 0:
            from ppugatit.engine.evaluator import Evaluator
            self.evaluator = Evaluator(self.model, root, cfg.train.inception_weights,
                                       cfg.train.eval_num_images, seed=cfg.train.seed,
                                       paired=cfg.dataset.paired_test)

        self.writer = None
        if self.rank == 0:
            if earlier:
                self.logger.warning("--fresh: moved the earlier run in %s to %s", self.out,
                                    run_dir.move_aside(self.out, earlier))
            records = list(early.buffer)
            self.logger = setup_logger(os.path.join(self.out, "train.log"), self.rank)
            for handler in self.logger.handlers:
                if isinstance(handler, logging.FileHandler):
                    for record in records:
                        handler.handle(record)
            save_config(cfg, os.path.join(self.out, "config.yaml"))
            from visualdl import LogWriter
            self.writer = LogWriter(logdir=os.path.join(self.out, "vdl"))
        self._stop_requested = False
        self._write_failed: set = set()

    # set-up helpers
    def _sample_batch(self, model_cls, root: str) -> dict[str, paddle.Tensor]:
        """A fixed batch for the sample grids: test images when there are any, else train."""
        n = self.cfg.train.sample_num
        batch = {}
        for d, folder in model_cls.test_folders.items():
            path = os.path.join(root, folder)
            files = (domain_files(root, folder) if os.path.isdir(path)
                     else self.train_files[d])[:n]
            batch[d] = paddle.to_tensor(load_test_images(files, self.cfg.model.img_size))
        return batch

    def _resume(self) -> None:
        """Load latest.pdckpt, or, when it cannot be read, the newest periodic checkpoint that
        can (an unreadable file is renamed ``*.unreadable``, kept for a look, not overwritten)."""
        latest = os.path.join(self.ckpt_dir, "latest.pdckpt")
        candidates = [p for p in [latest] + [p for _, p in reversed(
            checkpoint.checkpoint_paths(self.ckpt_dir))] if os.path.isfile(p)]
        if not candidates:
            raise UserError(f"--resume: no checkpoint in {self.ckpt_dir}; train without "
                            f"--resume first or check output_dir")
        unreadable = []
        for path in candidates:
            try:
                state = checkpoint.load(path)
                if not isinstance(state, dict) or "model" not in state or "iteration" not in state:
                    raise CheckpointError(f"{path}: not a training checkpoint of ppugatit")
                break
            except CheckpointError as e:
                unreadable.append((path, e))
        else:
            raise CheckpointError(f"--resume: none of the {len(candidates)} checkpoint(s) in "
                                  f"{self.ckpt_dir} can be read; the newest: {unreadable[0][1]}")
        self.model.set_state_dict(state["model"], path)
        self.iteration = int(state["iteration"])
        self.best_kid = float(state.get("best_kid", float("inf")))
        rng = state.get("rng", {})
        if "python" in rng:
            random.setstate(rng["python"])
        if "numpy" in rng:
            np.random.set_state(rng["numpy"])
        for bad, error in unreadable:
            kept = "left in place"
            if self.rank == 0:
                try:
                    os.replace(bad, bad + ".unreadable")
                    kept = f"kept as {os.path.basename(bad)}.unreadable"
                except OSError:
                    pass
            self.logger.warning("--resume: %s; %s, resuming from %s instead", error, kept, path)
        self.logger.info("resumed from %s at iteration %d", path, self.iteration)

    # saving
    def _try_write(self, what: str, write) -> bool:
        """Run ``write()``; an OSError (a folder made read-only, a full disk) is reported once
        per ``what`` and training goes on; a later write that works says so."""
        try:
            write()
        except OSError as e:
            if what not in self._write_failed:
                self.logger.error("cannot write %s (%s: %s); training goes on and tries again "
                                  "next time: make it writable", what, e.strerror,
                                  e.filename or what)
            self._write_failed.add(what)
            return False
        if what in self._write_failed:
            self._write_failed.discard(what)
            self.logger.info("%s can be written again", what)
        return True

    def save(self, final: bool = False) -> None:
        """A periodic checkpoint, latest.pdckpt and weights.pdparams. When the final save (end
        of training or a stop) cannot be written, the checkpoint goes to the temporary folder
        instead and :class:`UserError` says where: the run stops cleanly and loses nothing."""
        if self.rank != 0:
            return
        state = {"iteration": self.iteration, "model": self.model.state_dict(),
                 "best_kid": self.best_kid,
                 "rng": {"python": random.getstate(), "numpy": np.random.get_state()}}
        path = os.path.join(self.ckpt_dir, f"iter_{self.iteration:07d}.pdckpt")

        def write_checkpoint() -> None:
            checkpoint.save(state, path)
            checkpoint.link_or_copy(path, os.path.join(self.ckpt_dir, "latest.pdckpt"))
            checkpoint.rotate(self.ckpt_dir, self.cfg.train.keep_checkpoints)
        saved = self._try_write(f"checkpoints to {self.ckpt_dir}", write_checkpoint)
        weights = os.path.join(self.out, "weights.pdparams")
        if self._try_write(weights, lambda: checkpoint.save(self.model.weights(), weights)) \
                and saved:
            self.logger.info("saved %s and weights.pdparams", path)
        if final and not saved:
            rescue = os.path.join(tempfile.gettempdir(),
                                  f"ppugatit-{os.getpid()}-{os.path.basename(path)}")
            try:
                checkpoint.save(state, rescue)
            except OSError as e:
                raise UserError(f"cannot save iteration {self.iteration} to {self.ckpt_dir} nor "
                                f"to {rescue} ({e.strerror}); the newest checkpoint saved is in "
                                f"{self.ckpt_dir}") from None
            raise UserError(f"cannot save iteration {self.iteration} to {self.ckpt_dir}; saved "
                            f"it to {rescue} instead: copy it to {self.ckpt_dir}/latest.pdckpt "
                            f"and --resume")

    def write_samples(self) -> None:
        if self.rank != 0:
            return
        with self.runtime:
            grids = self.model.visualize(self.sample_batch)
        for name, grid in grids.items():
            path = os.path.join(self.out, "samples", f"{name}_{self.iteration:07d}.png")
            self._try_write("the sample grids", lambda: write_image(path, grid))
            self.writer.add_image(f"vis/{name}", grid, self.iteration, dataformats="HWC")

    def evaluate(self) -> dict[str, float]:
        """KID/FID (and paired L1/SSIM) on the test sets; the best weights so far (by KID
        averaged over directions, else L1) go to best.pdparams."""
        from ppugatit.engine.evaluator import selection_score
        tic = time.perf_counter()
        with self.runtime:
            scores = self.evaluator(self.model)
        for k, v in scores.items():
            self.writer.add_scalar(f"eval/{k}", v, self.iteration)
        score = selection_score(scores)
        note = ""
        if score < self.best_kid:
            self.best_kid = score
            best = os.path.join(self.out, "best.pdparams")
            if self._try_write(best, lambda: checkpoint.save(self.model.weights(), best)):
                note = " | new best: saved best.pdparams"
        self.logger.info("eval at iter %d | %s | %.1f s%s", self.iteration,
                         " | ".join(f"{k} {v:.4f}" for k, v in scores.items()),
                         time.perf_counter() - tic, note)
        return scores

    # the loop
    def request_stop(self, signum: int = signal.SIGINT, frame=None) -> None:
        """What Ctrl-C does (the signal handler during :meth:`train`): the first finishes the
        iteration under way, saves and stops; the second stops at once."""
        if os.getpid() != self._main_pid:
            return  # a data loader worker: the main process decides
        if self._stop_requested:
            raise KeyboardInterrupt
        self._stop_requested = True
        if self.rank == 0:
            self.logger.warning("interrupted: saving after the current iteration, then stopping "
                                "(interrupt again to stop without saving)")

    def train(self) -> None:
        with self.runtime:
            self._train()

    def _train(self) -> None:
        cfg = self.cfg.train
        total = cfg.iterations
        if self.iteration >= total:
            self.logger.info("already at iteration %d of %d; nothing to do", self.iteration, total)
            return
        loader = train_loader(self.train_files, self.cfg.model.img_size, cfg.seed,
                              self.cfg.dataset.flip, self.iteration, total, cfg.batch_size,
                              self.cfg.dataset.num_workers, self.rank, self.world)
        self._main_pid = os.getpid()
        previous = {s: signal.signal(s, self.request_stop)
                    for s in (signal.SIGINT, signal.SIGTERM)}
        self.logger.info("training %s on %s from iteration %d to %d, batch %d x %d rank(s), "
                         "output in %s", self.cfg.model.name, self.device, self.iteration + 1,
                         total, cfg.batch_size, self.world, os.path.abspath(self.out))
        self.model.train()
        sums: dict = {}
        reader_cost = batch_cost = 0.0
        window = 0
        tic = time.perf_counter()
        try:
            for batch in loader:
                reader_cost += time.perf_counter() - tic
                self.iteration += 1
                losses = self.model.train_iteration(batch)
                self._check_finite(losses)
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + v.detach()
                batch_cost += time.perf_counter() - tic
                window += 1

                it = self.iteration
                if it % cfg.log_interval == 0 or it == total:
                    self._log(sums, window, reader_cost, batch_cost, total)
                    sums, reader_cost, batch_cost, window = {}, 0.0, 0.0, 0
                if it % cfg.sample_interval == 0 or it == total or self._stop_requested:
                    self.write_samples()
                if self.evaluator is not None and (it % cfg.eval_interval == 0 or it == total):
                    self.evaluate()
                if it % cfg.save_interval == 0 or it == total or self._stop_requested:
                    self.save(final=it == total or self._stop_requested)
                if self._stop_requested:
                    self.logger.warning("stopped at iteration %d; --resume carries on", it)
                    break
                tic = time.perf_counter()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            if self.writer is not None:
                self.writer.flush()
        if self._stop_requested:
            raise KeyboardInterrupt

    def _check_finite(self, losses: dict) -> None:
        for name in ("D_loss", "G_loss"):
            if name not in losses:  # no D update: U-GAT-IT without its adversarial term
                continue
            value = float(losses[name])
            if not math.isfinite(value):
                latest = os.path.join(self.ckpt_dir, "latest.pdckpt")
                kept = (f"the last good checkpoint is {latest}" if os.path.isfile(latest)
                        else "no checkpoint was saved yet")
                raise TrainingStopped(
                    f"iteration {self.iteration}: {name} is {value}; stopping ({kept}; lower "
                    f"optimizer.lr or check the data, then --resume)")

    def _log(self, sums: dict, n: int, reader_cost: float, batch_cost: float, total: int) -> None:
        if self.rank != 0:
            return
        it = self.iteration
        losses = {k: float(v) / n for k, v in sums.items()}
        lrs = self.model.lr()
        avg_batch = batch_cost / n
        ips = self.cfg.train.batch_size * self.world / avg_batch if avg_batch > 0 else 0.0
        parts = [f"iter {it}/{total}"] + [f"{k} {v:.4f}" for k, v in losses.items()]
        parts += [f"lr_{k} {v:.3e}" for k, v in lrs.items()]
        parts += [f"avg_reader_cost {reader_cost / n:.4f} s", f"avg_batch_cost {avg_batch:.4f} s",
                  f"ips {ips:.2f} img/s", f"eta {format_eta(avg_batch * (total - it))}"]
        self.logger.info(" | ".join(parts))
        for k, v in losses.items():
            self.writer.add_scalar(f"train/{k}", v, it)
        for k, v in lrs.items():
            self.writer.add_scalar(f"train/lr_{k}", v, it)
        self.writer.add_scalar("train/avg_reader_cost", reader_cost / n, it)
        self.writer.add_scalar("train/avg_batch_cost", avg_batch, it)
        self.writer.add_scalar("train/ips", ips, it)
