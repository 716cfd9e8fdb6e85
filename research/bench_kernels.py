"""Each CPU kernel on and off, in turns in one process: what it buys on this machine.

    python research/bench_kernels.py -c configs/demo.yaml --rounds 9
    python research/bench_kernels.py -c configs/ugatit_light.yaml -o model.ch=16 model.img_size=128

For every kernel of ppugatit/kernels/cpu.py the training step (and, with --inference, the
generator's dygraph forward) is timed with all kernels on, and with that one off, alternating
run by run so that both see the same load; the median of each, and on / off. The allocator
setting (ppugatit/kernels/malloc.py) cannot be undone inside a process, so it is timed in
child processes started alternately with and without it. Prints a table and one JSON line.
"""
import argparse
import contextlib
import json
import statistics
import subprocess
import sys

from ppugatit.cli import run

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("-c", "--config", required=True)
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE")
parser.add_argument("--rounds", type=int, default=7, help="timed runs per side (median)")
parser.add_argument("--warmup", type=int, default=2)
parser.add_argument("--inference", action="store_true", help="time the generator's forward too")
parser.add_argument("--kernels", nargs="+", help="only these (default: every one, and malloc)")
parser.add_argument("--child", choices=["keep", "plain"], help=argparse.SUPPRESS)
args = parser.parse_args()
HELD = contextlib.ExitStack()  # the runtime the timed steps run in, for the script's life


def step_runner(keep_memory: bool = True):
    """A function running one training step of the config's model, and the model."""
    import paddle

    import timing as bm
    from ppugatit.config import build_config
    from ppugatit.device import Runtime
    from ppugatit.models.table import MODELS

    cfg = build_config(args.config, args.override)
    HELD.enter_context(Runtime("cpu", cfg.train.cpu_threads, 1, keep_memory=keep_memory))
    paddle.seed(cfg.train.seed)
    model = MODELS[cfg.model.name](cfg)
    model.train()
    batch = bm.synthetic_batch(model, cfg.train.batch_size, cfg.model.img_size)

    return (lambda: model.train_step(batch)), model, batch, cfg


def forward_runner(model, batch):
    import paddle

    if model.task != "translation":
        return None
    layer = model.translator("A2B")

    def infer():
        with paddle.no_grad():
            layer(batch["A"])

    return infer


def on_and_off(fn, name: str) -> dict[str, float]:
    """``fn`` with every kernel on and with kernel ``name`` off, in turns (benchmark.in_turns)."""
    from timing import in_turns
    from ppugatit.kernels import cpu as kernels

    def off():
        with kernels.switched(**{name: False}):
            fn()

    times = in_turns({"on": fn, "off": off}, None, args.warmup, args.rounds, "cpu")
    on, off_s = statistics.median(times["on"]), statistics.median(times["off"])
    return {"on_s": on, "off_s": off_s, "on_over_off": on / off_s}


def child() -> None:
    from timing import in_turns

    train, *_ = step_runner(keep_memory=args.child == "keep")
    print(json.dumps(in_turns({"step": train}, None, args.warmup, args.rounds, "cpu")["step"]))


def malloc_ab() -> dict:
    """Child processes, with and without the setting, alternately; each times its steps."""
    times = {"keep": [], "plain": []}
    for _ in range(2):
        for mode in ("keep", "plain"):
            cmd = [sys.executable, __file__, "-c", args.config, "--child", mode,
                   "--rounds", str(max(2, args.rounds // 2)), "--warmup", str(args.warmup)]
            if args.override:
                cmd += ["-o", *args.override]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            times[mode] += json.loads(out.strip().splitlines()[-1])
    on, off = statistics.median(times["keep"]), statistics.median(times["plain"])
    return {"train": {"on_s": on, "off_s": off, "on_over_off": on / off}}


def main() -> None:
    if args.child:
        return child()
    from timing import machine
    from ppugatit.kernels import cpu as kernels

    names = args.kernels or [*kernels.KERNELS, "malloc"]
    unknown = [n for n in names if n not in (*kernels.KERNELS, "malloc")]
    if unknown:
        raise SystemExit(f"--kernels: unknown '{unknown[0]}'; choose from "
                         f"{', '.join(kernels.KERNELS)}, malloc")
    train = infer = None
    if set(names) - {"malloc"}:  # malloc alone: no model here, the children hold theirs
        train, model, batch, _ = step_runner()
        infer = forward_runner(model, batch) if args.inference else None
    report = {"config": args.config, "overrides": args.override, "machine": machine(),
              "rounds": args.rounds, "kernels": {}}
    print(f"{args.config} {' '.join(args.override)} on {report['machine']}")
    print(f"{'kernel':<24} {'part':<10} {'on':>10} {'off':>10} {'on / off':>9}")
    for name in names:
        if name == "malloc":
            result = malloc_ab()
        else:
            result = {part: on_and_off(fn, name) for part, fn in (("train", train),
                                                                  ("inference", infer)) if fn}
        report["kernels"][name] = result
        for part, r in result.items():
            print(f"{name:<24} {part:<10} {r['on_s']:>9.4f}s {r['off_s']:>9.4f}s "
                  f"{r['on_over_off']:>8.2f}x", flush=True)
    print(json.dumps(report))


run(main)
