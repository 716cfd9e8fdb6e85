"""Train on a task with a known answer and score the test set during training, ours and
optionally the official PyTorch code side by side, over several seeds (docs/quality.md).

    python research/quality_bench.py --seeds 3
    python research/quality_bench.py --seeds 3 --official-repo ../UGATIT-pytorch \\
        --official-nicegan-repo ../NICE-GAN-pytorch --official-python ../torch-env/bin/python

Each run trains on ppugatit.data.quality_task's pictures (generated under --output) for
--iterations, and at iteration 0 and every --score-every iterations translates both test sets
and scores each translation against its true picture (L1 on 0..255, SSIM). Ours is the
Trainer with dataset.paired_test; the official code is research/quality_official.py, with the
same pictures, sizes, seeds, schedule and pipeline semantics, scored by the same code. Runs
take turns (ours, official, per seed and model) so both see the same machine load; each is
appended to runs.jsonl as it ends (--resume skips those done). Prints a table, the last
iteration's comparison (medians over seeds and a Mann-Whitney test of ours against the
official runs) and one JSON line; writes results.json and quality.png (score against
iteration, mean and seed range).

With --official-init ours the official code starts from our initial weights of the same seed
(its own data stream and step), recorded as the side "official_from_ours": a run that goes
wrong the same way from the same weights points at the draw, not at either trainer.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

from ppugatit.cli import run
from ppugatit.errors import ConfigError

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--models", nargs="+", default=["ugatit", "nicegan"],
                    choices=["ugatit", "nicegan"])
parser.add_argument("--img-size", type=int, default=64)
parser.add_argument("--iterations", type=int, default=300)
parser.add_argument("--score-every", type=int, default=50)
parser.add_argument("--seeds", type=int, default=3, help="seeds S .. S+N-1")
parser.add_argument("--seed-start", type=int, default=0, metavar="S",
                    help="first seed (to split the seeds over processes; merge their runs.jsonl "
                         "and --report)")
parser.add_argument("--lr", type=float, default=2e-4,
                    help="both sides; twice the paper's, for a short schedule (as the demo)")
parser.add_argument("--threads", type=int, default=2, help="CPU threads of each run")
parser.add_argument("--output", default="output/quality")
parser.add_argument("--official-repo", help="a checkout of the official UGATIT-pytorch")
parser.add_argument("--official-nicegan-repo", help="a checkout of the official NICE-GAN-pytorch")
parser.add_argument("--official-python", default="python", help="a Python that has torch")
parser.add_argument("--official-init", choices=["own", "ours"], default="own",
                    help="the official runs' initial weights: their own draw, or ours of the "
                         "same seed (side official_from_ours)")
parser.add_argument("--official-only", action="store_true",
                    help="train only the official side (to add official runs to ours: merge "
                         "the runs.jsonl files and --report)")
parser.add_argument("--resume", action="store_true", help="keep the runs in runs.jsonl")
parser.add_argument("--report", action="store_true",
                    help="train nothing: summarise the runs in runs.jsonl (of this setting)")
args = parser.parse_args()

OFFICIAL_SIDES = ("official", "official_from_ours")
OFFICIAL = OFFICIAL_SIDES[args.official_init == "ours"]
METRICS = ("l1_A2B", "l1_B2A", "ssim_A2B", "ssim_B2A", "detail_A2B", "detail_B2A")


def setting() -> dict:
    return {"img_size": args.img_size, "iterations": args.iterations,
            "score_every": args.score_every, "lr": args.lr}


def score_at() -> list[int]:
    return sorted({0, args.iterations} | set(range(args.score_every, args.iterations,
                                                   args.score_every)))


def our_config(model: str, seed: int, root: str, out: str):
    """Our run of (model, seed): the one config both its training and its init draw use."""
    from quality_run import bench_config

    return bench_config(model, args.img_size, args.iterations, seed, root, out,
                        args.score_every, args.lr, args.threads)


def run_ours(model: str, seed: int, root: str) -> dict:
    from quality_run import train_and_score

    outputs: dict = {}
    with tempfile.TemporaryDirectory(dir=args.output, prefix=f"ours_{model}_{seed}_") as out:
        history = train_and_score(our_config(model, seed, root, out), outputs)
    keep_translations("ours", model, seed, outputs)
    return {it: {k: s[k] for k in METRICS} for it, s in history.items()}


def keep_translations(impl: str, model: str, seed: int, outputs: dict) -> None:
    """The scored translations (uint8), so that any score can be recomputed without training."""
    import numpy as np

    path = os.path.join(args.output, "translations", f"{model}_{impl}_{seed}.npz")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path + ".tmp.npz", **{f"{it}/{d}": x for it, o in outputs.items()
                                              for d, x in o.items()})
    os.replace(path + ".tmp.npz", path)


def our_init_file(model: str, seed: int, root: str) -> str:
    """Our initial weights of (model, seed), written for the official runner's --init."""
    import numpy as np

    from quality_run import initial_weights

    path = os.path.join(args.output, f"init_{model}_{seed}.npz")
    with tempfile.TemporaryDirectory(dir=args.output, prefix=f"init_{model}_{seed}_") as out:
        np.savez(path + ".tmp.npz", **initial_weights(our_config(model, seed, root, out)))
    os.replace(path + ".tmp.npz", path)
    return path


def official_command(model: str, seed: int, task: str, out: str,
                     init: str | None = None) -> list[str]:
    from quality_run import model_overrides

    m = model_overrides(model, args.img_size)
    repo = args.official_repo if model == "ugatit" else args.official_nicegan_repo
    sizes = (["--n_dis_global", str(m["model.n_dis_global"]),
              "--n_dis_local", str(m["model.n_dis_local"])] if model == "ugatit"
             else ["--n_dis", str(m["model.n_dis"])])
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quality_official.py")
    return [args.official_python, script, "--model", model, "--repo", repo, "--task", task,
            "--out", out, "--score-at", ",".join(map(str, score_at())),
            "--light", "1", "--ch", str(m["model.ch"]), "--n_res", str(m["model.n_res"]),
            "--img_size", str(args.img_size), "--iterations", str(args.iterations),
            "--seed", str(seed), "--threads", str(args.threads), "--lr", str(args.lr)] + sizes \
        + (["--init", init] if init else [])


def run_official(model: str, seed: int, task_file: str, task: dict, root: str) -> dict:
    import numpy as np

    from ppugatit.metrics.paired import scores
    from ppugatit.visual import to_uint8

    out = os.path.join(args.output, f"{OFFICIAL}_{model}_{seed}.npz")
    init = our_init_file(model, seed, root) if args.official_init == "ours" else None
    proc = subprocess.Popen(official_command(model, seed, task_file, out, init),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        p = json.loads(line)
        print(f"  {OFFICIAL} {model} seed {seed}: iter {p['iter']}/{p['of']} | D_loss "
              f"{p['D_loss']:.4f} | G_loss {p['G_loss']:.4f} | {p['s_per_step']:.3f} s/step | "
              f"eta {p['eta_s'] / 60:.1f} min", flush=True)
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise RuntimeError(f"the official run failed: {err.strip()[-800:]}")
    result, outputs = {}, {}
    with np.load(out) as data:
        for it in score_at():
            result[it], outputs[it] = {}, {}
            for d in ("A2B", "B2A"):
                outputs[it][d] = to_uint8(data[f"{it}/{d}"])
                for k, v in scores(outputs[it][d], task["test" + d[-1]]).items():
                    result[it][f"{k}_{d}"] = v
    keep_translations(OFFICIAL, model, seed, outputs)
    os.remove(out)
    if init:
        os.remove(init)
    return result


def summarise(runs: list[dict]) -> dict:
    """Per model, side and iteration: mean, std, min, max over seeds of each metric."""
    import numpy as np

    out: dict = {}
    for r in runs:
        side = out.setdefault(r["model"], {}).setdefault(r["impl"], {})
        for it, s in r["scores"].items():
            for k, v in s.items():
                side.setdefault(int(it), {}).setdefault(k, []).append(v)
    for model in out.values():
        for side in model.values():
            for it, metrics in side.items():
                for k, values in metrics.items():
                    v = np.array(values)
                    metrics[k] = {"mean": float(v.mean()), "std": float(v.std()),
                                  "min": float(v.min()), "max": float(v.max()), "n": len(v)}
    return out


def final_comparison(runs: list[dict]) -> dict:
    """At the last scored iteration, per model, official side and metric: each side's median
    over seeds and the Mann-Whitney test of ours against that side's runs (exact two-sided p).
    Against the official code trained from our initial weights, also the paired test over the
    seeds both sides ran (Wilcoxon signed-rank, exact): the same draw on both sides, so only
    the code and its data stream differ."""
    import numpy as np

    from stats import mann_whitney, wilcoxon_signed_rank

    last = str(max(score_at()))
    out: dict = {}
    for model in sorted({r["model"] for r in runs}):
        sides = {impl: {r["seed"]: r["scores"][last] for r in runs
                        if r["model"] == model and r["impl"] == impl and last in r["scores"]}
                 for impl in ("ours",) + OFFICIAL_SIDES}
        for other in OFFICIAL_SIDES:
            if not (sides["ours"] and sides[other]):
                continue
            both = sorted(set(sides["ours"]) & set(sides[other]))
            paired = other == "official_from_ours"  # the same draws: compare seed by seed
            for k in METRICS:
                ours, theirs = ([s[k] for s in sides[i].values()] for i in ("ours", other))
                u, p = mann_whitney(ours, theirs)
                row = {"iteration": int(last), "median_ours": float(np.median(ours)),
                       "median_other": float(np.median(theirs)), "n": [len(ours), len(theirs)],
                       "U": u, "p": p}
                pairs = [(sides["ours"][s][k], sides[other][s][k]) for s in both] if paired else []
                if any(a != b for a, b in pairs):
                    w, p_paired = wilcoxon_signed_rank(*zip(*pairs))
                    row["paired"] = {"n": len(pairs), "W+": w, "p": p_paired,
                                     "median_difference": float(np.median(
                                         [a - b for a, b in pairs]))}
                out.setdefault(model, {}).setdefault(other, {})[k] = row
    return out


def final_table(final: dict) -> str:
    lines = []
    for model, others in final.items():
        for other, metrics in others.items():
            first = next(iter(metrics.values()))
            lines.append(f"== {model} at iteration {first['iteration']}: median over seeds "
                         f"({first['n'][0]} ours, {first['n'][1]} {other}), Mann-Whitney exact p")
            for k, v in metrics.items():
                paired = v.get("paired")
                lines.append(f"  {k:<11} ours {v['median_ours']:8.3f}  {other} "
                             f"{v['median_other']:8.3f}  U {v['U']:6.1f}  p {v['p']:.3f}"
                             + (f"  | paired over {paired['n']} seeds: median ours - theirs "
                                f"{paired['median_difference']:+.3f}, Wilcoxon p "
                                f"{paired['p']:.3f}" if paired else ""))
    return "\n".join(lines)


def seed_table(runs: list[dict]) -> str:
    """Per seed at the last iteration: L1 and SSIM, each the mean of both directions, per side
    (a seed that lags shows here, and whether the other side lags with it)."""
    last = str(max(score_at()))
    cells: dict = {}
    for r in runs:
        s = r["scores"].get(last)
        if s:
            l1, ssim = (s["l1_A2B"] + s["l1_B2A"]) / 2, (s["ssim_A2B"] + s["ssim_B2A"]) / 2
            cells.setdefault(r["model"], {}).setdefault(r["seed"], {})[r["impl"]] = (
                f"{l1:6.2f} / {ssim:.3f}")
    lines = []
    for model, seeds in cells.items():
        sides = [i for i in ("ours",) + OFFICIAL_SIDES if any(i in c for c in seeds.values())]
        lines.append(f"== {model} at iteration {last}, per seed: mean L1 / mean SSIM of A2B "
                     "and B2A")
        lines.append(f"  {'seed':>4} " + " ".join(f"{i:>20}" for i in sides))
        for seed in sorted(seeds):
            lines.append(f"  {seed:>4} " + " ".join(f"{seeds[seed].get(i, ''):>20}" for i in sides))
    return "\n".join(lines)


def verdict(summary: dict) -> dict:
    """Is our seed mean inside the official seeds' range at every scored iteration?"""
    out = {}
    for model, sides in summary.items():
        if "official" not in sides or "ours" not in sides:
            continue
        outside = []
        for it, metrics in sides["ours"].items():
            for k, s in metrics.items():
                band = sides["official"].get(it, {}).get(k)
                if band and not band["min"] <= s["mean"] <= band["max"]:
                    outside.append(f"{k}@{it}")
        out[model] = {"inside_band": not outside, "outside": outside}
    return out


def table(summary: dict, baselines: dict) -> str:
    lines = []
    for model, sides in summary.items():
        lines.append(f"== {model}: mean +- std over seeds [min, max]")
        for k in METRICS:
            d = k.split("_")[1]
            base = ", ".join(f"{b} {baselines[f'{b}_{d}'][k.split('_')[0]]:.3f}"
                             for b in ("identity", "colour_transfer", "target_mean"))
            lines.append(f"{k} (baselines: {base})")
            lines.append(f"  {'iter':>6} " + " ".join(f"{s:>30}" for s in sides))
            for it in sorted(next(iter(sides.values()))):
                cells = []
                for s in sides.values():
                    v = s.get(it, {}).get(k)
                    cells.append(f"{v['mean']:8.3f} +- {v['std']:6.3f} [{v['min']:.2f}, "
                                 f"{v['max']:.2f}]" if v else "")
                lines.append(f"  {it:>6} " + " ".join(f"{c:>30}" for c in cells))
    return "\n".join(lines)


def plot(summary: dict, baselines: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(summary)
    fig, axes = plt.subplots(len(models), len(METRICS), figsize=(4 * len(METRICS),
                                                                 3.6 * len(models)),
                             squeeze=False)
    colours = {"ours": "tab:blue", "official": "tab:orange", "official_from_ours": "tab:green"}
    for row, model in zip(axes, models):
        for ax, k in zip(row, METRICS):
            metric, d = k.split("_")
            for side, points in summary[model].items():
                its = sorted(points)
                mean = [points[i][k]["mean"] for i in its]
                ax.plot(its, mean, color=colours[side], marker="o", ms=3,
                        label=f"{side} (mean of {points[its[0]][k]['n']} seeds)")
                ax.fill_between(its, [points[i][k]["min"] for i in its],
                                [points[i][k]["max"] for i in its], color=colours[side],
                                alpha=0.25, lw=0)
            top = max(max(p[k]["max"] for p in side.values())
                      for side in summary[model].values())
            for b, style in (("identity", ":"), ("colour_transfer", "--"),
                             ("target_mean", "-.")):
                value = baselines[f"{b}_{d}"][metric]
                ax.axhline(value, color="grey", ls=style, lw=1,
                           label=f"{b.replace('_', ' ')} ({value:.3g})")
                top = max(top, value) if value < 1.5 * top else top
            ax.set_ylim(0, 1.05 * top)
            ax.set_title(f"{model} {d}: " + {"l1": "L1 (0..255), lower is better",
                                             "ssim": "SSIM, higher is better",
                                             "detail": "detail (1: as the truth)"}[metric],
                         fontsize=9)
            ax.set_xlabel("iteration")
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=7)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=90)
    os.replace(tmp, path)


def main() -> None:
    import numpy as np

    from timing import machine
    from ppugatit.data.quality_task import ensure_quality_task, load_task
    from stats import baselines as compute_baselines

    official = {"ugatit": args.official_repo, "nicegan": args.official_nicegan_repo}
    if args.seeds < 1 or args.iterations < 1 or args.score_every < 1:
        raise ConfigError("--seeds, --iterations and --score-every must be at least 1")
    os.makedirs(args.output, exist_ok=True)
    root = ensure_quality_task(os.path.join(args.output, f"task_{args.img_size}"), args.img_size)
    task = load_task(root)
    task_file = os.path.join(args.output, f"task_{args.img_size}.npz")
    np.savez(task_file + ".tmp.npz", **task)
    os.replace(task_file + ".tmp.npz", task_file)
    baselines = compute_baselines(task)

    log = os.path.join(args.output, "runs.jsonl")
    runs = []
    if (args.resume or args.report) and os.path.isfile(log):
        with open(log, encoding="utf-8") as f:
            runs = [r for r in map(json.loads, f)
                    if r["setting"] == setting() and r["model"] in args.models]
    elif os.path.isfile(log):
        os.replace(log, log + ".old")
    done = {(r["model"], r["impl"], r["seed"]) for r in runs}
    tic = time.perf_counter()
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        for model in args.models:
            for impl in ("ours", OFFICIAL)[args.official_only:]:
                if (args.report or (model, impl, seed) in done
                        or (impl == OFFICIAL and not official[model])):
                    continue
                print(f"== {model} {impl} seed {seed} ({(time.perf_counter() - tic) / 60:.1f} "
                      f"min so far)", flush=True)
                start = time.perf_counter()
                scores = (run_ours(model, seed, root) if impl == "ours"
                          else run_official(model, seed, task_file, task, root))
                record = {"model": model, "impl": impl, "seed": seed, "setting": setting(),
                          "seconds": time.perf_counter() - start,
                          "scores": {str(k): v for k, v in scores.items()}}
                runs.append(record)
                with open(log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")

    summary = summarise(runs)
    final = final_comparison(runs)
    result = {"setting": setting(), "models": args.models, "seeds": args.seeds,
              "machine": machine(), "threads": args.threads, "load": os.getloadavg(),
              "baselines": baselines, "summary": summary, "verdict": verdict(summary),
              "final": final,
              "seconds": {f"{r['model']}/{r['impl']}/{r['seed']}": round(r["seconds"], 1)
                          for r in runs}}
    print(table(summary, baselines))
    print(final_table(final))
    print(seed_table(runs))
    for model, v in result["verdict"].items():
        print(f"{model}: " + ("ours is inside the official seed range at every scored "
                              "iteration" if v["inside_band"] else
                              f"ours is outside the official seed range at "
                              f"{', '.join(v['outside'])}"))
    with open(os.path.join(args.output, "results.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    os.replace(os.path.join(args.output, "results.json.tmp"),
               os.path.join(args.output, "results.json"))
    plot(summary, baselines, os.path.join(args.output, "quality.png"))
    print(json.dumps(result))


run(main)
