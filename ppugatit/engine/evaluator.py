"""KID and FID of a model's outputs against the real test images, during training or after.

Translation models translate each source test set and are scored against the target domain's
test set (A2B: testA translated, against testB), as the U-GAT-IT and NICE-GAN papers do;
generation models are scored on samples from fixed noise against their training images.
"""
from __future__ import annotations

import numpy as np
import paddle

from ppugatit.data.dataset import domain_files, eval_transform
from ppugatit.data.image_io import read_image
from ppugatit.errors import ConfigError
from ppugatit.metrics import FID_WEIGHTS_FILE, FID_WEIGHTS_URL
from ppugatit.metrics.features import features
from ppugatit.metrics.fid_kid import fid, kid
from ppugatit.metrics.inception import load_inception
from ppugatit.visual import to_uint8


class Evaluator:
    """Scores ``model`` with the FID Inception at ``inception_weights``; real features are
    computed once, the model's outputs at every call."""

    def __init__(self, model, root: str, inception_weights: str | None, num_images: int = 0,
                 batch_size: int = 16, kid_subsets: int = 50, seed: int = 0):
        if not inception_weights:
            raise ConfigError(f"evaluation needs the FID Inception weights {FID_WEIGHTS_FILE} "
                              f"(from {FID_WEIGHTS_URL}): set train.inception_weights or "
                              f"--inception-weights")
        self.inception = load_inception(inception_weights)
        self.img_size = model.cfg.model.img_size
        self.batch_size, self.kid_subsets, self.seed = batch_size, kid_subsets, seed
        self.num_images = num_images
        folders = (model.test_folders if model.task == "translation" else model.train_folders)
        self.files = {d: self._limit(domain_files(root, f)) for d, f in folders.items()}
        self._real: dict = {}

    def _limit(self, files: list[str]) -> list[str]:
        return files[:self.num_images] if self.num_images else files

    def _real_features(self, domain: str) -> np.ndarray:
        if domain not in self._real:
            images = [to_uint8(eval_transform(read_image(f), self.img_size)[None])[0]
                      for f in self.files[domain]]
            self._real[domain] = features(images, self.inception, self.batch_size, False)
        return self._real[domain]

    @paddle.no_grad()
    def _outputs(self, model, direction: str | None) -> list[np.ndarray]:
        if direction is None:
            layer = model.sampler()
            n = len(next(iter(self.files.values())))
            from ppugatit.inference import z_dim
            z = np.random.default_rng(self.seed).standard_normal((n, z_dim(model)))
            inputs = z.astype("float32")
        else:
            layer = model.translator(direction)
            inputs = np.stack([eval_transform(read_image(f), self.img_size)
                               for f in self.files[direction[0]]])
        layer.eval()
        out = []
        for start in range(0, len(inputs), self.batch_size):
            result = layer(paddle.to_tensor(inputs[start:start + self.batch_size]))
            images = result[0] if isinstance(result, (tuple, list)) else result
            out.extend(to_uint8(images))
        return out

    def __call__(self, model) -> dict[str, float]:
        """``{"kid_A2B": KID x 100, "kid_std_A2B": ..., "fid_A2B": ..., ...}``."""
        was_training = next(iter(model.networks.values())).training
        model.eval()
        scores = {}
        try:
            jobs = ([(d, d[-1]) for d in model.directions] if model.task == "translation"
                    else [(None, next(iter(self.files)))])
            for direction, target in jobs:
                real = self._real_features(target)
                fake = features(self._outputs(model, direction), self.inception,
                                self.batch_size, False)
                k = kid(fake, real, self.kid_subsets, min(len(fake), len(real)), self.seed)
                tag = direction or "samples"
                scores[f"kid_{tag}"] = 100 * k.mean
                scores[f"kid_std_{tag}"] = 100 * k.std
                scores[f"fid_{tag}"] = fid(fake, real)
        finally:
            if was_training:
                model.train()
        return scores


def mean_kid(scores: dict[str, float]) -> float:
    """The number "best" weights are chosen by: KID x 100 averaged over directions."""
    values = [v for k, v in scores.items() if k.startswith("kid_") and not k.startswith("kid_std")]
    return float(np.mean(values))
