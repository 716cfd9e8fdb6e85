"""What every model shares: networks, optimizers with their lr schedules, AMP and data parallel.

A model owns its networks, optimizers and training step; the Trainer only calls the methods
defined here, so a new model is a new subclass and one entry in ``MODELS``.
"""
from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Any, Callable, Iterable

import numpy as np
import paddle
import paddle.distributed as dist
import paddle.nn as nn

from ppugatit import shape_walk
from ppugatit.errors import CheckpointError, ConfigError
from ppugatit.kernels.cpu import backward_context


class LinearDecay(paddle.optimizer.lr.LRScheduler):
    """The official schedule: constant, then linearly to 0 over the second half of training.

    ``last_epoch`` is the iteration about to run (1-based), so lr(it) = base for it <= T/2 and
    base - (it - T/2) * base / (T/2) after, as the official trainer subtracts each step.
    """

    def __init__(self, learning_rate: float, total_iterations: int, decay: bool = True):
        self.total_iterations = total_iterations
        self.decay = decay
        super().__init__(learning_rate)

    def get_lr(self) -> float:
        half = self.total_iterations // 2
        if not self.decay or half == 0 or self.last_epoch <= half:
            return self.base_lr
        return max(self.base_lr - (self.last_epoch - half) * (self.base_lr / half), 0.0)


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def set_requires_grad(networks: Iterable[nn.Layer], flag: bool) -> None:
    """Freeze or unfreeze parameters; frozen ones get no weight gradient computed at all."""
    for net in networks:
        for p in net.parameters():
            p.stop_gradient = not flag


class GANModel:
    """Base class of the models the Trainer drives.

    Subclasses read ``DEFAULTS`` (their config sections) from ``ppugatit.defaults``, set
    ``train_folders``/``test_folders`` (batch key -> folder under ``dataset.root``), build
    ``self.networks`` and
    ``self.optimizers`` and implement :meth:`train_step` and :meth:`visualize`.
    """

    DEFAULTS: dict = {}
    train_folders: dict = {"A": "trainA", "B": "trainB"}
    test_folders: dict = {"A": "testA", "B": "testB"}
    task: str = "translation"          # or "generation" (images from noise)
    directions: tuple = ("A2B", "B2A")  # translation models: what translator() accepts
    official_networks: tuple = ()      # the official checkpoints' network names
    onednn_inference: bool = True      # its export keeps its numbers under Paddle Inference's
                                       # oneDNN (tests/test_export.py checks each model)

    @classmethod
    def training_refusal(cls, cfg: Any) -> str | None:
        """Why this config cannot be trained (checked before a run folder is touched)."""
        return None

    @classmethod
    def probes(cls, m: Any) -> list[shape_walk.Probe]:
        """The networks of model settings ``m`` as the training step uses them (see
        :mod:`ppugatit.shape_walk`): what decides which settings are accepted."""
        return []

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        """Refuse, in one line, model settings the networks cannot run (checked before a run
        folder is touched, and again by the constructor for inference and export)."""
        shape_walk.check(cls.probes(cfg.model), cfg.model)

    def __init__(self, cfg: Any):
        type(self).check_config(cfg)
        self.cfg = cfg
        self.networks: dict[str, nn.Layer] = {}
        self.optimizers: dict[str, paddle.optimizer.Optimizer] = {}
        self.schedulers: dict[str, LinearDecay] = {}
        self.amp = bool(cfg.train.amp)
        self.amp_dtype = cfg.train.amp_dtype
        if self.amp_dtype not in ("float16", "bfloat16"):
            raise ConfigError(f"train.amp_dtype must be float16 or bfloat16, got "
                              f"'{self.amp_dtype}'")
        self.scalers: dict[str, paddle.amp.GradScaler] = {}
        self._network_lr: dict[str, float] = {}

    # construction helpers
    def make_optimizer(self, name: str, networks: Iterable[nn.Layer], lr: float,
                       betas: tuple[float, float], weight_decay: float) -> None:
        opt = self.cfg.optimizer
        sched = LinearDecay(lr, self.cfg.train.iterations, opt.decay_flag)
        networks = list(networks)
        params = [p for net in networks for p in net.parameters()]
        for net in networks:
            for key, value in self.networks.items():
                if value is net:
                    self._network_lr[key] = lr
        self.schedulers[name] = sched
        self.optimizers[name] = paddle.optimizer.Adam(
            learning_rate=sched, beta1=betas[0], beta2=betas[1], parameters=params,
            weight_decay=weight_decay or None)
        if self.amp and self.amp_dtype == "float16":
            self.scalers[name] = paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15)

    # training mechanics
    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision (O1) when ``train.amp`` is on; a no-op otherwise and on CPU."""
        if not self.amp:
            return contextlib.nullcontext()
        return paddle.amp.auto_cast(enable=True, level="O1", dtype=self.amp_dtype)

    def backward_and_step(self, loss: paddle.Tensor, name: str) -> None:
        """Backward, average gradients across ranks, step optimizer ``name`` and clear its grads."""
        opt = self.optimizers[name]
        scaler = self.scalers.get(name)
        with backward_context():  # the backward of the oneDNN convolutions, if on
            (scaler.scale(loss) if scaler is not None else loss).backward()
        self._allreduce_grads(opt)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.clear_grad()

    @staticmethod
    def _allreduce_grads(opt: paddle.optimizer.Optimizer) -> None:
        """Data parallel by hand: one coalesced all-reduce of the mean gradient.

        Each network runs several forwards per step and the G loss reaches D's parameters, which
        ``paddle.DataParallel``'s per-forward reducer does not model; averaging the gradients
        ourselves keeps every rank's update identical and exact.
        """
        n = world_size()
        if n == 1:
            return
        params = [p for p in opt._parameter_list if p.grad is not None]
        if not params:
            return
        flat = paddle.concat([p.grad.reshape([-1]) for p in params])
        dist.all_reduce(flat)
        flat = flat / n
        offset = 0
        for p in params:
            size = int(np.prod(p.grad.shape))
            p.grad.set_value(flat[offset:offset + size].reshape(p.grad.shape))
            offset += size

    def broadcast_parameters(self) -> None:
        """Start every rank from rank 0's weights and buffers."""
        if world_size() == 1:
            return
        for net in self.networks.values():
            for t in list(net.parameters()) + list(net.buffers()):
                dist.broadcast(t, src=0)

    def step_schedulers(self) -> None:
        for sched in self.schedulers.values():
            sched.step()

    # the training step, written once: a model writes its inputs, its updates' losses and
    # their order
    def step_inputs(self, batch: dict[str, paddle.Tensor]) -> SimpleNamespace:
        """What the updates of one step read: the batch, and any forward they share (run
        under mixed precision when it is on)."""
        return SimpleNamespace(**batch)

    def updates(self) -> list[tuple[str, Callable[[SimpleNamespace], dict], list[nn.Layer]]]:
        """The official update order: (optimizer, its losses, the networks frozen during it).
        A losses function returns its terms by name, the one to minimise as ``<optimizer>_loss``."""
        raise NotImplementedError

    def update(self, name: str, inputs: SimpleNamespace) -> dict[str, paddle.Tensor]:
        """One update: its losses, their gradient (none for the frozen networks, which the
        official code computes and discards), averaged across ranks, and the optimizer step."""
        _, losses_of, frozen = next(u for u in self.updates() if u[0] == name)
        set_requires_grad(frozen, False)
        try:
            with self.autocast():
                losses = losses_of(inputs)
            self.backward_and_step(losses[f"{name}_loss"], name)
        finally:
            set_requires_grad(frozen, True)
        return losses

    def after_step(self) -> dict[str, paddle.Tensor]:
        """What follows the updates (U-GAT-IT clips rho); extra values to log."""
        return {}

    def train_step(self, batch: dict[str, paddle.Tensor]) -> dict[str, paddle.Tensor]:
        """One iteration on ``batch`` (keys as ``train_folders``): the shared forwards, then
        each update in order; the losses as scalar tensors, ``D_loss`` and ``G_loss`` among
        them (the Trainer stops on a non-finite one)."""
        with self.autocast():
            inputs = self.step_inputs(batch)
        losses: dict[str, paddle.Tensor] = {}
        names = [name for name, _, _ in self.updates()]
        for name in names:
            losses.update(self.update(name, inputs))
        losses.update(self.after_step())
        totals = {f"{name}_loss": losses[f"{name}_loss"] for name in names}
        return {**totals, **losses}  # the totals first, as the log line shows them

    def train_iteration(self, batch: dict[str, paddle.Tensor]) -> dict[str, paddle.Tensor]:
        """One iteration as the Trainer runs it: the schedule advanced to this iteration's lr
        (the official loop decays before its step), then the step."""
        self.step_schedulers()
        return self.train_step(batch)

    def lr(self) -> dict[str, float]:
        return {name: sched() for name, sched in self.schedulers.items()}

    def network_lr(self) -> dict[str, float]:
        """Each network's base learning rate (the bound on Adam's first step)."""
        return dict(self._network_lr)

    def train(self) -> None:
        for net in self.networks.values():
            net.train()

    def eval(self) -> None:
        for net in self.networks.values():
            net.eval()

    # state
    def weights(self) -> dict[str, dict]:
        """Networks only: what inference loads."""
        return {name: net.state_dict() for name, net in self.networks.items()}

    def load_weights(self, weights: dict[str, dict], source: str = "weights",
                     partial: bool = False) -> None:
        """``partial``: load the networks ``weights`` has (a released file may hold only the
        generators), as long as it has one; else every network must be there."""
        from ppugatit.checkpoint import load_network_state
        if partial and not set(weights) & set(self.networks):
            raise CheckpointError(f"{source}: holds none of this model's networks "
                                  f"({', '.join(self.networks)}); it holds {sorted(weights)}")
        for name, net in self.networks.items():
            if partial and name not in weights:
                continue
            if name not in weights:
                raise CheckpointError(f"{source}: has no '{name}' network (it holds "
                                 f"{sorted(weights)}); was it saved by another model?")
            load_network_state(net, weights[name], f"{source}:{name}")

    def _structural_names(self) -> dict[str, str]:
        """Paddle's generated parameter names -> ``"genA2B.DownBlock.1.weight"``."""
        return {p.name: f"{net}.{key}" for net, layer in self.networks.items()
                for key, p in layer.named_parameters()}

    def _optimizer_state(self, opt: paddle.optimizer.Optimizer) -> dict:
        """Adam's moments keyed by structural names: Paddle keys them by generated names
        (``linear_40.w_0_moment1_0``) that change with the order layers were created in."""
        names = self._structural_names()
        prefixes = sorted(((p.name + "_", names[p.name]) for p in opt._parameter_list),
                          key=lambda t: -len(t[0]))
        out = {}
        for key, value in opt.state_dict().items():
            if key == "LR_Scheduler":
                continue
            prefix, struct = next(((pre, st) for pre, st in prefixes if key.startswith(pre)),
                                  (None, None))
            if prefix is None:
                raise CheckpointError(f"optimizer state '{key}' belongs to no parameter")
            out[f"{struct}::{key[len(prefix):]}"] = value
        return out

    def _load_optimizer_state(self, opt: paddle.optimizer.Optimizer, state: dict,
                              source: str) -> None:
        by_struct = {v: k for k, v in self._structural_names().items()}
        converted = {}
        for key, value in state.items():
            struct, _, suffix = key.partition("::")
            if struct not in by_struct:
                raise CheckpointError(f"{source}: optimizer state for '{struct}', which this "
                                      f"model does not have; it was saved for another model")
            converted[f"{by_struct[struct]}_{suffix}"] = value
        converted["LR_Scheduler"] = opt._learning_rate.state_dict()
        opt.set_state_dict(converted)

    def state_dict(self) -> dict:
        state: dict = {"networks": self.weights(),
                       "optimizers": {k: self._optimizer_state(o)
                                      for k, o in self.optimizers.items()},
                       "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()}}
        if self.scalers:
            state["scalers"] = {k: s.state_dict() for k, s in self.scalers.items()}
        return state

    def set_state_dict(self, state: dict, source: str = "checkpoint") -> None:
        self.load_weights(state["networks"], source)
        for k, s in self.schedulers.items():
            s.set_state_dict(state["schedulers"][k])
        for k, o in self.optimizers.items():
            self._load_optimizer_state(o, state["optimizers"][k], source)
        for k, s in self.scalers.items():
            if k in state.get("scalers", {}):
                s.load_state_dict(state["scalers"][k])

    # to implement
    def visualize(self, batch: dict[str, paddle.Tensor]) -> dict[str, np.ndarray]:
        """Named RGB uint8 HWC grids for PNGs and VisualDL."""
        raise NotImplementedError

    def translator(self, direction: str) -> nn.Layer:
        """Translation models: a layer mapping NCHW images in [-1, 1] to
        ``(images in [-1, 1], heatmap N1hw)``, for inference and export."""
        raise NotImplementedError

    def sampler(self) -> nn.Layer:
        """Generation models: a layer mapping noise ``[N, z_dim]`` to images in [-1, 1]."""
        raise NotImplementedError
