"""Score translations: KID x 100 (+- std) and FID, as the U-GAT-IT and NICE-GAN papers report.

    python tools/eval.py -c output/ugatit/config.yaml --weights output/ugatit/weights.pdparams \\
        --inception-weights pt_inception-2015-12-05-6726825d.pth
    python tools/eval.py --real data/selfie2anime/testB --fake output/test/A2B \\
        --inception-weights pt_inception-2015-12-05-6726825d.pth

With --weights, the model translates dataset.root's test sets both ways (testA -> A2B, scored
against testB; and back). With --real/--fake, two folders are compared; their Inception
features are cached next to each folder (<folder>.inception.npz).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ppugatit.cli import run  # noqa: E402
from ppugatit.errors import ConfigError  # noqa: E402
from ppugatit.metrics import FID_WEIGHTS_FILE, FID_WEIGHTS_URL  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("-c", "--config", help="the model's config (with --weights)")
parser.add_argument("--weights", help="our .pdparams or an official .pt: score this model")
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE",
                    help="e.g. dataset.root=data/selfie2anime (where testA, testB are)")
parser.add_argument("--num-images", type=int, default=0, help="per test set; 0: all")
parser.add_argument("--real", help="folder of real images (a test set)")
parser.add_argument("--fake", help="folder of translated images")
parser.add_argument("--inception-weights", metavar="PATH",
                    help=f"{FID_WEIGHTS_FILE} (from {FID_WEIGHTS_URL}); random:SEED gives "
                         f"meaningless numbers, for tests")
parser.add_argument("--batch-size", type=int, default=50)
parser.add_argument("--kid-subsets", type=int, default=50)
parser.add_argument("--kid-subset-size", type=int, default=1000,
                    help="capped at the smaller set's size")
parser.add_argument("--seed", type=int, default=0, help="seed of the KID subsets")
parser.add_argument("--no-cache", action="store_true", help="neither read nor write caches")
args = parser.parse_args()


def score_model() -> None:
    from ppugatit.engine.evaluator import Evaluator
    from ppugatit.inference import load_model

    model = load_model(args.weights, args.config, args.override)
    evaluator = Evaluator(model, model.cfg.dataset.root, args.inception_weights,
                          args.num_images, args.batch_size, args.kid_subsets, args.seed)
    scores = evaluator(model)
    if args.inception_weights.startswith("random:"):
        print(f"WARNING: random Inception weights ({args.inception_weights}): these numbers are "
              f"meaningless, for testing only")
    for tag in sorted({k.split("_")[-1] for k in scores}):
        print(f"{tag}: KID x 100 {scores['kid_' + tag]:.4f} +- {scores['kid_std_' + tag]:.4f}"
              f" | FID {scores['fid_' + tag]:.4f}")


def score_folders() -> None:
    from ppugatit.metrics.evaluate import evaluate, format_scores
    from ppugatit.metrics.features import image_files
    from ppugatit.metrics.inception import load_inception

    image_files(args.real), image_files(args.fake)  # fail on a wrong folder before the slow part
    model = load_inception(args.inception_weights)
    scores = evaluate(args.real, args.fake, model, args.batch_size, args.kid_subsets,
                      args.kid_subset_size, args.seed, cache=not args.no_cache)
    print(format_scores(scores))


def main() -> None:
    if not args.inception_weights:
        raise ConfigError(f"--inception-weights is required: the FID Inception weights "
                          f"{FID_WEIGHTS_FILE}, from {FID_WEIGHTS_URL}")
    if args.weights:
        score_model()
    elif args.real and args.fake:
        score_folders()
    else:
        raise ConfigError("give --weights (with -c) to score a model, or --real and --fake to "
                          "compare two folders")


run(main)
