"""The config keys all models share, with their defaults, types and bounds. Each model's own
sections are in its description (``ppugatit/models/<name>/__init__.py``)."""
from __future__ import annotations

COMMON: dict = {
    "output_dir": "output/ugatit",
    "model": {"name": "ugatit"},
    "dataset": {
        "root": "data/selfie2anime",
        "demo": False,       # generate the built-in demo set at ``root`` when it is missing
        "num_workers": 2,
        "flip": True,
        "paired_test": False,  # testA/x and testB/x show one scene: eval adds L1, SSIM
    },
    "optimizer": {
        "lr": 1e-4,
        "beta1": 0.5,
        "beta2": 0.999,
        "weight_decay": 1e-4,
        "decay_flag": True,  # linear decay to 0 over the second half, as the official trainer
    },
    "train": {
        "iterations": 1000000,
        "batch_size": 1,
        "seed": 0,
        "device": "auto",    # auto: the GPU when Paddle sees one
        "cpu_threads": 0,    # 0: the machine's cores, shared among local processes
        "cpu_onednn": True,  # CPU convolutions through oneDNN: much faster, about 2x memory
        "cpu_keep_memory": True,  # reuse freed memory (ppugatit/kernels/malloc.py): faster
        "cpu_kernels": True,  # the faster kernels of ppugatit/kernels; off: reference code only
        "log_interval": 100,
        "sample_interval": 1000,
        "sample_num": 4,
        "save_interval": 10000,
        "keep_checkpoints": 3,
        "amp": False,        # mixed precision (O1) on GPU
        "amp_dtype": "float16",  # or bfloat16 (no loss scaling needed)
        "eval_interval": 0,
        "eval_num_images": 100,
        "inception_weights": None,
        "init_weights": None,  # start from these networks (fine-tuning): optimizers fresh
    },
}

# Keys whose value may be null as well as their default's type.
NULLABLE = {"train.inception_weights", "train.init_weights"}

# Lower bounds: (bound, strict). A key a model lacks is skipped.
AT_LEAST: dict[str, tuple[float, bool]] = {
    **{k: (0, True) for k in ("train.iterations", "train.batch_size", "train.log_interval",
                              "train.sample_interval", "train.save_interval", "train.sample_num",
                              "optimizer.lr", "optimizer.d_lr", "model.img_size", "model.ch",
                              "model.conv_dim", "model.z_dim")},
    **{k: (0, False) for k in ("dataset.num_workers", "train.keep_checkpoints",
                               "train.eval_interval", "train.eval_num_images", "train.cpu_threads",
                               "optimizer.weight_decay")},
}
