"""Run by tests/test_distributed.py under paddle.distributed.launch: train, then every rank
saves its final weights to $DP_WEIGHTS_DIR/rank<N>.npz so the test can compare them."""
import os
import sys

import numpy as np

from ppugatit.config import build_config
from ppugatit.engine import Trainer

trainer = Trainer(build_config(sys.argv[1], sys.argv[2:]), resume="--resume" in os.environ.get(
    "DP_FLAGS", ""))
trainer.train()
weights = {f"{net}/{k}": v.numpy() for net, sd in trainer.model.weights().items()
           for k, v in sd.items()}
np.savez(os.path.join(os.environ["DP_WEIGHTS_DIR"], f"rank{trainer.rank}.npz"), **weights)
