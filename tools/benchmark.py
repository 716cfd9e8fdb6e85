"""Benchmark a config: training step; inference under dygraph, Paddle Inference and ONNX
Runtime; optionally the official PyTorch step and eager generator, all taken in turns. Prints
a table and one JSON line.

    python tools/benchmark.py -c configs/ugatit_light.yaml -o model.ch=16 model.img_size=128
    python tools/benchmark.py -c configs/ugatit_light.yaml --official-repo ../UGATIT-pytorch \\
        --official-python ../torch-env/bin/python --skip train
"""
import argparse
import json
import os
import sys
import tempfile

from ppugatit.cli import run

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("-c", "--config", required=True)
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE")
parser.add_argument("--warmup", type=int, default=2)
parser.add_argument("--repeat", type=int, default=5, help="timed runs; the median is reported")
parser.add_argument("--skip", nargs="*", default=[],
                    choices=["train", "dygraph", "paddle", "exported", "onnxruntime", "int8",
                             "bf16"],
                    help="parts not to time (exported: the same as paddle)")
parser.add_argument("--weights", help="time and gate these weights instead of random ones "
                    "(the reduced forms' gate means something only for a trained model)")
parser.add_argument("--calibrate", metavar="DIR", help="int8 calibration and gate pictures "
                    "(default: the built-in demo's testA, resized)")
parser.add_argument("--infer-batch", type=int, default=1, help="pictures per inference call "
                    "(the official side always runs one; compare speed-ups at 1)")
parser.add_argument("--mkldnn", choices=["auto", "on", "off"], default="auto",
                    help="oneDNN for Paddle Inference on CPU (auto: as the export records)")
parser.add_argument("--ort-optimization", choices=["none", "basic", "extended", "all"],
                    default="all", help="ONNX Runtime's graph optimisation level")
parser.add_argument("--official-repo", help="a checkout of the official UGATIT-pytorch")
parser.add_argument("--official-python", default="python", help="a Python that has torch")
parser.add_argument("--profile", action="store_true",
                    help="after the timing, ONNX Runtime's time by operator type, and the "
                         "generator's FLOPs (docs/benchmarks.md, where the time goes)")
parser.add_argument("--sequential", action="store_true",
                    help="time the official code after ours instead of in turns with it (one "
                         "process at a time: for configs whose two processes do not fit in memory)")
parser.add_argument("--official-keep-memory", action="store_true",
                    help="give the official process our train.cpu_keep_memory allocator setting")
args = parser.parse_args()


def main() -> None:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "research"))
    from ppugatit.config import build_config
    from ppugatit.device import Runtime

    cfg = build_config(args.config, args.override)
    with Runtime.for_training(cfg.train) as runtime:
        measure(cfg, runtime.device)


def measure(cfg, device: str) -> None:
    import timing as bm
    from ppugatit.kernels.malloc import release_freed_memory
    from ppugatit.models.table import MODELS
    from ppugatit.kernels.cpuinfo import cpu_features

    m, b = cfg.model, cfg.train.batch_size
    if args.weights:
        from ppugatit.inference import load_model
        model = load_model(args.weights, args.config, args.override)
        cfg = model.cfg
        m = cfg.model
    else:
        model = MODELS[m.name](cfg)
    result = {"config": args.config, "overrides": args.override, "model": m.name,
              "device": device, "machine": bm.machine(), "batch_size": b,
              "img_size": m.img_size}
    rows = []
    threads = cfg.train.cpu_threads or cpu_features()["cores"]
    runner = None
    if args.official_repo:
        if args.infer_batch != 1:
            raise SystemExit("--infer-batch: the official generator runs one picture a call; "
                             "leave --infer-batch at 1 with --official-repo")
        if m.name != "ugatit":
            raise SystemExit("--official-repo: only the official U-GAT-IT is supported")
        if not args.sequential:
            runner = bm.OfficialRunner(args.official_python, args.official_repo, m, b, threads,
                                       args.official_keep_memory)
    theirs = {job: (lambda job=job: runner(job)) if runner else None for job in ("train", "infer")}
    official_times = {}
    if "train" not in args.skip:
        r = bm.bench_train(model, b, m.img_size, args.warmup, args.repeat, device,
                           theirs["train"])
        official_times["s_per_step"] = r.pop("theirs_s")
        result["train"] = r
        rows.append(("training step", f"{r['s_per_step']:.3f} s/step", f"{r['images_per_s']:.2f}"))
    skip = set(args.skip) | ({"paddle"} if "exported" in args.skip else set())
    runtimes = [r for r in bm.RUNTIMES if r not in skip]
    if runtimes:
        mkldnn = {"auto": None, "on": True, "off": False}[args.mkldnn]
        with tempfile.TemporaryDirectory() as folder:
            runners, info = bm.inference_runners(model, args.infer_batch, m.img_size, device, folder, runtimes,
                                                 mkldnn, threads, args.ort_optimization,
                                                 args.calibrate)
            times = bm.in_turns(runners, theirs["infer"], args.warmup, args.repeat, device)
            if args.profile and "onnxruntime" in runners:
                from ppugatit.export.files import ONNX_FILE
                _, x = bm._inference_input(model, 1, m.img_size)
                result["profile"] = bm.onnx_profile(os.path.join(folder, ONNX_FILE), x,
                                                    args.repeat, threads)
                result["profile"]["gflop"] = bm.generator_flops(model, m.img_size) / 1e9
        inference = bm.speedups(times)
        official = inference.pop("official", None)
        if official:
            official_times["inference_s_per_image"] = official["s_per_batch"]
            official_times["inference_runs"] = official["runs"]
        for name, r in inference.items():
            r.update(info.get(name, {}))
            label = bm.LABELS[name] + (" (oneDNN)" if r.get("mkldnn") else "")
            gate = r.get("gate")
            if gate:
                label += (f" [gate {'pass' if gate['passed'] else 'REFUSED'}: PSNR "
                          f"{gate['psnr_db']:.1f} dB, mean {gate['mean_abs']:.2f}]")
            per = r["s_per_batch"] / args.infer_batch
            rows.append((f"inference, {label}", f"{per:.3f} s/image",
                         f"{1 / per:.2f}"))
        result["inference"] = inference
        exported = {k: v for k, v in inference.items()
                    if k != "dygraph" and v.get("gate", {"passed": True})["passed"]}
        if exported:
            best = min(exported, key=lambda k: exported[k]["s_per_batch"])
            result["best_exported"] = best
    result["peak_memory_mb"] = bm.peak_memory_mb(device)
    if args.official_repo:
        if runner is not None:
            off = {**runner.close(), **{k: v for k, v in official_times.items() if v is not None},
                   "measured": "in turns with ours"}
        else:
            release_freed_memory()  # train.cpu_keep_memory kept our peak: make room for theirs
            off = {**bm.bench_official(args.official_python, args.official_repo, m, b, threads,
                                       args.warmup, args.repeat, args.official_keep_memory),
                   "measured": "after ours"}
        result["official"] = off
        if "s_per_step" in off:
            off["images_per_s"] = b / off["s_per_step"]
            rows.append(("official training step (PyTorch)", f"{off['s_per_step']:.3f} s/step",
                         f"{off['images_per_s']:.2f}"))
        if "inference_s_per_image" in off:
            rows.append(("official inference, eager",
                         f"{off['inference_s_per_image']:.3f} s/image",
                         f"{1 / off['inference_s_per_image']:.2f}"))
        if "train" in result and "s_per_step" in off:
            result["train_speedup_vs_official"] = off["s_per_step"] / result["train"]["s_per_step"]
            rows.append(("ours / official step time",
                         f"{1 / result['train_speedup_vs_official']:.2f}x", ""))
        if "inference" in result and "inference_s_per_image" in off:
            for name, r in result["inference"].items():
                r.setdefault("speedup_vs_official",
                             off["inference_s_per_image"] / r["s_per_batch"])
                paired = r.get("paired_speedup_vs_official")
                rows.append((f"{bm.LABELS[name]} speed-up vs official",
                             f"{r['speedup_vs_official']:.2f}x", "" if paired is None else
                             f"({paired:.2f}x)"))
            if "best_exported" in result:
                best = result["inference"][result["best_exported"]]
                result["exported_speedup_vs_official"] = best["speedup_vs_official"]
    print(f"{m.name}  light={m.get('light')} ch={m.get('ch')} n_res={m.get('n_res')} "
          f"img_size={m.img_size} batch={b}  on {device}: {result['machine']}")
    print(f"{'what':<80} {'time':>16} {'images/s':>10}")
    for what, t, ips in rows:
        print(f"{what:<80} {t:>16} {ips:>10}")
    print(f"{'peak memory':<80} {result['peak_memory_mb']:>13.0f} MB")
    if "best_exported" in result:
        print(f"best passing exported form: {bm.LABELS[result['best_exported']]}"
              + (f", {result['exported_speedup_vs_official']:.2f}x the official eager generator"
                 if "exported_speedup_vs_official" in result else ""))
    if "profile" in result:
        prof = result["profile"]
        conv = prof["ms_by_op"].get("Conv", 0.0)
        print(f"ONNX Runtime profile: {prof['wall_ms']:.1f} ms a run; convolutions and linear "
              f"layers {prof['gflop']:.1f} GFLOP"
              + (f", Conv kernels at {prof['gflop'] / conv * 1e3:.0f} GFLOP/s" if conv else ""))
        for op, ms in prof["ms_by_op"].items():
            print(f"  {op:<30} {ms:8.1f} ms {100 * ms / prof['wall_ms']:5.1f}%")
        print(f"  {'(outside kernels)':<30} {prof['outside_kernels_ms']:8.1f} ms")
    if "inference" in result and runner is not None:
        print("speed-ups: ratio of medians (in brackets: median of the per-round ratios); "
              "all inference runs and the official ones taken in turns")
    print(json.dumps(result))


run(main)
