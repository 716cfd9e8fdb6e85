"""Time the U-GAT-IT authors' TensorFlow generator (taki0112/UGATIT) on this machine.

Not run with ppugatit's venv: it needs TensorFlow, which ppugatit never depends on (the venv of
tests/fixtures/make_tf_fixtures.py). The authors' graph is built with random weights and one
picture is translated, as their test() does; the median of --repeat runs after --warmup is
printed with the JSON line tools/benchmark.py prints for ours (model.variant=tensorflow)::

    /tmp/tfvenv/bin/python research/bench_tensorflow.py /tmp/UGATIT --light --img-size 256
    python tools/benchmark.py -c configs/ugatit_light.yaml -o model.variant=tensorflow \\
        model.smoothing=true --skip train
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("ugatit_repo", help="a checkout of taki0112/UGATIT")
parser.add_argument("--light", action="store_true")
parser.add_argument("--ch", type=int, default=64)
parser.add_argument("--img-size", type=int, default=256)
parser.add_argument("--warmup", type=int, default=2)
parser.add_argument("--repeat", type=int, default=5)
parser.add_argument("--threads", type=int, default=0, help="0: TensorFlow's default")
args = parser.parse_args()

from make_tf_fixtures import install_tf1  # noqa: E402

import numpy as np  # noqa: E402

tf = install_tf1()
sys.path.insert(0, os.path.abspath(args.ugatit_repo))
import UGATIT as ugatit_module  # noqa: E402

options = argparse.Namespace(
    light=args.light, phase="test", checkpoint_dir="/tmp/ugatit_tf_bench", result_dir="/tmp",
    log_dir="/tmp", sample_dir="/tmp", dataset="selfie2anime", augment_flag=False, epoch=1,
    iteration=1, decay_flag=True, decay_epoch=1, gan_type="lsgan", batch_size=1, print_freq=1,
    save_freq=1, lr=1e-4, ch=args.ch, adv_weight=1, cycle_weight=10, identity_weight=10,
    cam_weight=1000, GP_ld=10, smoothing=True, n_res=4, n_dis=6, n_critic=1, sn=True,
    img_size=args.img_size, img_ch=3)
config = tf.ConfigProto(intra_op_parallelism_threads=args.threads,
                        inter_op_parallelism_threads=args.threads)
with tf.Session(config=config) as sess:
    gan = ugatit_module.UGATIT(sess, options)
    x = tf.placeholder(tf.float32, [1, args.img_size, args.img_size, 3])
    out = gan.generator(x, scope="generator_B")
    tf.global_variables_initializer().run()
    image = np.random.default_rng(0).uniform(-1, 1, (1, args.img_size, args.img_size, 3))
    times = []
    for i in range(args.warmup + args.repeat):
        start = time.perf_counter()
        sess.run(list(out), feed_dict={x: image.astype(np.float32)})
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
ms = 1000 * statistics.median(times)
print(f"authors' TF generator, {'light' if args.light else 'full'} ch {args.ch} at "
      f"{args.img_size} px, batch 1: {ms:.1f} ms (median of {args.repeat})")
print(json.dumps({"tensorflow_generator_ms": ms, "light": args.light, "ch": args.ch,
                  "img_size": args.img_size, "tensorflow": tf.__version__}))
