"""Every config key with its default: the sections all models share and each model's own.

Data only, so that the configuration code knows every key and type without importing a model
(the models read their ``DEFAULTS`` from here). A new model adds its section to
:data:`MODEL_DEFAULTS` and its class to ``ppugatit.models.MODELS`` under the same name.
"""
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


MODEL_DEFAULTS: dict[str, dict] = {
    "ugatit": {
        "output_dir": "output/ugatit",
        "model": {
            "name": "ugatit",
            "light": False,
            "ch": 64,
            "n_res": 4,
            "img_size": 256,
            "n_dis_global": 7,
            "n_dis_local": 5,
            "self_attention": False,
            # whose network: pytorch (the official code), tensorflow (the authors' TF code,
            # whose released checkpoints run here), paddlegan (PaddleGAN's port)
            "variant": "pytorch",
            "smoothing": False,  # the TF code's AdaLIN option (its checkpoints say _smoothing)
        },
        "loss": {
            "adv_weight": 1.0,
            "cycle_weight": 10.0,
            "identity_weight": 10.0,
            "cam_weight": 1000.0,
        },
    },
    "nicegan": {
        "output_dir": "output/nicegan",
        "model": {
            "name": "nicegan",
            "light": False,
            "ch": 64,
            "n_res": 6,
            "n_dis": 7,
            "img_size": 256,
        },
        "loss": {
            "adv_weight": 1.0,
            "cycle_weight": 10.0,
            "recon_weight": 10.0,
        },
    },
    "sagan": {
        "output_dir": "output/sagan",
        "model": {
            "name": "sagan",
            "img_size": 64,    # the reference code's architecture is fixed at 64 x 64
            "conv_dim": 64,
            "z_dim": 128,
        },
        "loss": {"adv_loss": "hinge"},
        "optimizer": {
            "lr": 1e-4,        # the generator's; the two time-scale update rule gives D 4x
            "d_lr": 4e-4,
            "beta1": 0.0,
            "beta2": 0.9,
            "weight_decay": 0.0,
            "decay_flag": False,
        },
    },
}
