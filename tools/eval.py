"""Score translations: KID x 100 (+- std), mean_KID and FID, as the U-GAT-IT and NICE-GAN
papers report them.

    python tools/eval.py -c output/ugatit/config.yaml --weights output/ugatit/weights.pdparams \\
        --inception-weights pt_inception-2015-12-05-6726825d.pth
    python tools/eval.py --real data/selfie2anime/testB --fake output/test/A2B \\
        --inception-weights pt_inception-2015-12-05-6726825d.pth

With --weights, the model translates dataset.root's test sets both ways (testA -> A2B, scored
against testB; and back); with dataset.paired_test=true also by L1 and SSIM against the true
pictures (then Inception weights are optional). With --real/--fake, two folders are compared
(--source, the folder the fakes were translated from, adds mean_KID); their Inception features
are cached next to each folder (<folder>.inception.npz). Standard KID is KID(real, fake);
mean_KID, the U-GAT-IT authors' number, averages it with KID(source, fake): docs/metrics.md.
"""
import argparse

from ppugatit.cli import run
from ppugatit.errors import ConfigError
from ppugatit.metrics import FID_WEIGHTS_FILE, FID_WEIGHTS_URL

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("-c", "--config", help="the model's config (with --weights)")
parser.add_argument("--weights", help="our .pdparams or an official .pt: score this model")
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE",
                    help="e.g. dataset.root=data/selfie2anime (where testA, testB are)")
parser.add_argument("--num-images", type=int, default=0, help="per test set; 0: all")
parser.add_argument("--real", help="folder of real images (a test set)")
parser.add_argument("--fake", help="folder of translated images")
parser.add_argument("--source", help="folder the fakes were translated from: adds mean_KID")
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
    paired = bool(model.cfg.dataset.paired_test)
    if not args.inception_weights and not paired:
        raise ConfigError(f"--inception-weights is required: the FID Inception weights "
                          f"{FID_WEIGHTS_FILE}, from {FID_WEIGHTS_URL}")
    evaluator = Evaluator(model, model.cfg.dataset.root, args.inception_weights,
                          args.num_images, args.batch_size, args.kid_subsets, args.seed, paired)
    scores = evaluator(model)
    if (args.inception_weights or "").startswith("random:"):
        print(f"WARNING: random Inception weights ({args.inception_weights}): these numbers are "
              f"meaningless, for testing only")
    for tag in model.directions:
        parts = []
        if f"kid_{tag}" in scores:
            parts += [f"KID x 100 {scores['kid_' + tag]:.4f} +- {scores['kid_std_' + tag]:.4f}",
                      f"mean_KID x 100 {scores['mean_kid_' + tag]:.4f} +- "
                      f"{scores['mean_kid_std_' + tag]:.4f}", f"FID {scores['fid_' + tag]:.4f}"]
        if f"l1_{tag}" in scores:
            parts += [f"L1 {scores['l1_' + tag]:.4f}", f"SSIM {scores['ssim_' + tag]:.4f}"]
        print(f"{tag}: " + " | ".join(parts))


def score_folders() -> None:
    from ppugatit.metrics.evaluate import evaluate, format_scores
    from ppugatit.metrics.features import image_files
    from ppugatit.metrics.inception import load_inception

    for folder in (args.real, args.fake, args.source):
        if folder:
            image_files(folder)  # fail on a wrong folder before the slow part
    model = load_inception(args.inception_weights)
    scores = evaluate(args.real, args.fake, model, args.batch_size, args.kid_subsets,
                      args.kid_subset_size, args.seed, cache=not args.no_cache,
                      source=args.source)
    print(format_scores(scores))


def main() -> None:
    if args.weights:
        score_model()
        return
    if not args.inception_weights:
        raise ConfigError(f"--inception-weights is required: the FID Inception weights "
                          f"{FID_WEIGHTS_FILE}, from {FID_WEIGHTS_URL}")
    if args.real and args.fake:
        score_folders()
    else:
        raise ConfigError("give --weights (with -c) to score a model, or --real and --fake to "
                          "compare two folders")


run(main)
