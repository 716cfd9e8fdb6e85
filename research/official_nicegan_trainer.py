"""Run the official NICE-GAN trainer itself (alpc91/NICE-GAN-pytorch's ``NICE.train()``) on a
task folder and keep its A->B translations of the test set for scoring, beside the official
U-GAT-IT run of research/official_trainer.py. Run with a Python that has torch and thop (the
official file imports thop to print parameter and FLOP counts); score with
``research/objects_bench.py``:

    /path/to/torch-env/bin/python research/official_nicegan_trainer.py --repo ../NICE-GAN-pytorch \\
        --data output/objects96 --iterations 3000 --every 500 --seed 0 --out nicegan_s0.npz

research/official_harness.py says what is changed around the official code (one in-memory
substitution, ``X_iter.next()`` -> ``next(X_iter)``, and nothing in its training step) and how
a run is seeded.

NICE-GAN has no encoder of its own: a picture is translated by the other domain's generator from
the features of its own domain's discriminator, ``gen2B(disA(real_A)[4])``, as its ``test()``
does. Its ``load()`` reads only ``<dataset>_params_latest.pt``, so each checkpoint that its
``save()`` wrote every ``--every`` iterations is linked under that name before ``load()``.
The loss weights are main.py's (adversarial 1, cycle 10, reconstruction 10; the CAM term
shares the adversarial weight); ``--adv-weight 0`` drops the adversarial terms. With its 7
discriminator layers the pictures must be at least 96 pixels.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from official_harness import (NEVER, arguments, load_official, parse,  # noqa: E402
                              save_translations, seed_all, to_picture, work_folder)

args = parse(arguments(__doc__.splitlines()[0], "alpc91/NICE-GAN-pytorch"))

official, patched = load_official(args.repo, "NICE.py", args.threads)
import torch  # noqa: E402  (after load_official, which prepares torchvision's import)

work = work_folder(args.data, "official-nicegan-", ("model", "img", "fakeA", "fakeB"))
options = argparse.Namespace(
    phase="train", light=bool(args.light), dataset="task", iteration=args.iterations,
    batch_size=1, print_freq=NEVER, save_freq=args.every or NEVER, decay_flag=True, lr=args.lr,
    weight_decay=1e-4, adv_weight=args.adv_weight, cycle_weight=10, recon_weight=10, ch=args.ch,
    n_res=args.n_res, n_dis=7, img_size=args.img_size, img_ch=3, result_dir="results",
    device="cpu", benchmark_flag=False, resume=False, gradient_penalty_weight=10.0,
    n_downsampling=2)
seed_all(args.seed)
gan = official.NICE(options)
gan.build_model()
gan.train()


def translate() -> np.ndarray:
    """Its A->B translations of the test set, as its test() makes them (eval mode, test
    transform, the generator fed by disA's features)."""
    for net in (gan.gen2B, gan.gen2A, gan.disA, gan.disB):
        net.eval()
    with torch.no_grad():
        return np.stack([to_picture(gan.gen2B(gan.disA(real_A)[4]))
                         for real_A, _ in gan.testA_loader])


final = translate()
at = {}
if args.every:
    latest = os.path.join(work, "results", "task_params_latest.pt")
    for step in range(args.every, args.iterations + 1, args.every):
        if os.path.lexists(latest):
            os.remove(latest)
        os.symlink(os.path.join(work, "results", "task", "model", "task_params_%07d.pt" % step),
                   latest)
        gan.load()  # its own checkpoint of this step
        at[f"fakes_{step}"] = translate()
save_translations(args, final, at, patched, work)
