"""Scores of a model's outputs on the test sets, during training or after.

Translation models translate each source test set. With Inception weights each direction is
scored against the target domain's test set (A2B: testA translated, against testB) by KID
and FID, as the U-GAT-IT and NICE-GAN papers do, and by the U-GAT-IT authors' ``mean_KID``
(docs/metrics.md). When the test sets are paired (testA/x.png and testB/x.png draw the same
scene, as the quality task's: docs/quality.md), each translation is also compared with its
true picture: L1 on 0..255, SSIM and detail (:mod:`ppugatit.metrics.paired`). Generation models are scored
on samples from fixed noise against their training images.
"""
from __future__ import annotations

import os

import numpy as np
import paddle

from ppugatit.data.dataset import domain_files
from ppugatit.data.image_io import read_image
from ppugatit.errors import ConfigError, DataError
from ppugatit.metrics import FID_WEIGHTS_FILE, FID_WEIGHTS_URL
from ppugatit.metrics.features import features
from ppugatit.metrics.fid_kid import fid, kid, mean_kid
from ppugatit.metrics.paired import scores as paired_scores
from ppugatit.pipelines import pipeline_for


def check_paired(files: dict[str, list[str]], root: str) -> None:
    """Paired test sets hold the same file names (one per scene) in testA and testB."""
    names = {d: [os.path.relpath(f, os.path.join(root, "test" + d)) for f in fs]
             for d, fs in files.items()}
    if names["A"] != names["B"]:
        odd = sorted(set(names["A"]) ^ set(names["B"])) or names["A"]
        raise DataError(f"{root}: testA and testB are not paired (they must hold one picture "
                        f"per scene under the same names; '{odd[0]}' is not in both); set "
                        f"dataset.paired_test: false")


class Evaluator:
    """Scores ``model``: KID/FID with the FID Inception at ``inception_weights`` (real features
    computed once, the model's outputs at every call), and with ``paired`` the L1 and SSIM of
    each translation against its true picture. One of the two is needed. The latest
    translations are kept in ``last_outputs``."""

    def __init__(self, model, root: str, inception_weights: str | None, num_images: int = 0,
                 batch_size: int = 16, kid_subsets: int = 50, seed: int = 0,
                 paired: bool = False):
        if not inception_weights and not paired:
            raise ConfigError(f"evaluation needs the FID Inception weights {FID_WEIGHTS_FILE} "
                              f"(from {FID_WEIGHTS_URL}): set train.inception_weights or "
                              f"--inception-weights")
        if paired and model.task != "translation":
            raise ConfigError("dataset.paired_test: only translation models have paired test "
                              "sets; set it to false")
        self.inception = None
        if inception_weights:
            from ppugatit.metrics.inception import load_inception
            self.inception = load_inception(inception_weights)
        self.img_size = model.cfg.model.img_size
        self.pipeline = pipeline_for(model.cfg)  # the authors' resize and rounding for theirs
        self.batch_size, self.kid_subsets, self.seed = batch_size, kid_subsets, seed
        self.num_images = num_images
        self.paired = paired
        folders = (model.test_folders if model.task == "translation" else model.train_folders)
        self.files = {d: self._limit(domain_files(root, f)) for d, f in folders.items()}
        if paired:
            check_paired(self.files, root)
        self._real: dict = {}
        self._images: dict = {}
        self.last_outputs: dict[str, np.ndarray] = {}  # the latest call's, uint8 NHWC
        self.last_features: dict[str, np.ndarray] = {}  # and their Inception features

    def _limit(self, files: list[str]) -> list[str]:
        return files[:self.num_images] if self.num_images else files

    def _real_images(self, domain: str) -> np.ndarray:
        """A domain's test pictures as the model sees them, back in uint8."""
        if domain not in self._images:
            self._images[domain] = self.pipeline.to_uint8(np.stack(
                [self.pipeline.prepare(read_image(f), self.img_size)
                 for f in self.files[domain]]))
        return self._images[domain]

    def real_features(self, domain: str) -> np.ndarray:
        """A domain's test pictures' Inception features, computed once."""
        if domain not in self._real:
            self._real[domain] = features(list(self._real_images(domain)), self.inception,
                                          self.batch_size, False)
        return self._real[domain]

    @paddle.no_grad()
    def outputs(self, model, direction: str | None) -> list[np.ndarray]:
        if direction is None:
            layer = model.sampler()
            n = len(next(iter(self.files.values())))
            from ppugatit.inference import z_dim
            z = np.random.default_rng(self.seed).standard_normal((n, z_dim(model)))
            inputs = z.astype("float32")
        else:
            layer = model.translator(direction)
            inputs = np.stack([self.pipeline.prepare(read_image(f), self.img_size)
                               for f in self.files[direction[0]]])
        layer.eval()
        out = []
        for start in range(0, len(inputs), self.batch_size):
            result = layer(paddle.to_tensor(inputs[start:start + self.batch_size]))
            images = result[0] if isinstance(result, (tuple, list)) else result
            out.extend(self.pipeline.to_uint8(images.numpy()))
        return out

    def _kid(self, fake: np.ndarray, domain: str):
        real = self.real_features(domain)
        return kid(fake, real, self.kid_subsets, min(len(fake), len(real)), self.seed)

    def __call__(self, model) -> dict[str, float]:
        """``{"kid_A2B": KID x 100, "kid_std_A2B", "mean_kid_A2B", "mean_kid_std_A2B",
        "fid_A2B", "l1_A2B", "ssim_A2B", "detail_A2B", ...}`` (KID keys with Inception weights,
        L1, SSIM and detail with paired test sets)."""
        was_training = next(iter(model.networks.values())).training
        model.eval()
        scores = {}
        try:
            jobs = ([(d, d[-1]) for d in model.directions] if model.task == "translation"
                    else [(None, next(iter(self.files)))])
            for direction, target in jobs:
                outputs = self.outputs(model, direction)
                tag = direction or "samples"
                self.last_outputs[tag] = np.stack(outputs)
                if self.paired:
                    for k, v in paired_scores(np.stack(outputs),
                                              self._real_images(target)).items():
                        scores[f"{k}_{tag}"] = v
                if self.inception is None:
                    continue
                fake = features(outputs, self.inception, self.batch_size, False)
                self.last_features[tag] = fake
                k = self._kid(fake, target)
                scores[f"kid_{tag}"] = 100 * k.mean
                scores[f"kid_std_{tag}"] = 100 * k.std
                if direction is not None:
                    m = mean_kid(k, self._kid(fake, direction[0]))
                    scores[f"mean_kid_{tag}"] = 100 * m.mean
                    scores[f"mean_kid_std_{tag}"] = 100 * m.std
                scores[f"fid_{tag}"] = fid(fake, self.real_features(target))
        finally:
            if was_training:
                model.train()
        return scores


def selection_score(scores: dict[str, float]) -> float:
    """The number "best" weights are chosen by (lower is better): the standard KID x 100
    averaged over directions, or without KID the paired L1 averaged over directions."""
    for prefix in ("kid_", "l1_"):
        values = [v for k, v in scores.items() if k.startswith(prefix)
                  and not k.startswith("kid_std")]
        if values:
            return float(np.mean(values))
    raise ValueError(f"no score to select by in {sorted(scores)}")
