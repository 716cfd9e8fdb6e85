"""No run is ever lost, and bad input gets one line: a folder that holds a run, a copied run,
a corrupt latest.pdckpt, bad values and output paths, read-only folders mid-run, Ctrl-C twice,
kill -9 (real processes), a mistyped demo root, and a run stopped before its first sample."""
import glob
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout

import pytest
import yaml

from conftest import ROOT, assert_same_weights, tiny_overrides, train_until_interrupted
from ppugatit import checkpoint
from ppugatit.cli import run
from ppugatit.config import build_config
from ppugatit.data.demo import ensure_demo_dataset
from ppugatit.data.image_io import list_images
from ppugatit.engine import Trainer
from ppugatit.errors import ConfigError, DataError, UserError

DEMO = os.path.join(ROOT, "configs", "demo.yaml")
TRAIN = os.path.join(ROOT, "tools", "train.py")


def make_trainer(tmp_path, resume=False, fresh=False, **extra):
    return Trainer(build_config(DEMO, tiny_overrides(tmp_path, **extra)), resume=resume,
                   fresh=fresh)


def snapshot(folder) -> dict:
    """Every file under ``folder``: its content's hash and its mtime."""
    out = {}
    for path in glob.glob(os.path.join(str(folder), "**"), recursive=True):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = (hashlib.sha256(f.read()).hexdigest(),
                                                      os.stat(path).st_mtime_ns)
    return out


def train_tool(*args, timeout=180):
    return subprocess.run([sys.executable, TRAIN, "-c", DEMO, *args], capture_output=True,
                          text=True, timeout=timeout)


def cli_args(tmp_path, **extra):
    return ["-o", *[f"{k}={v}" for k, v in tiny_overrides(tmp_path, **extra).items()]]


# 1. a folder that holds a run
@pytest.mark.slow
def test_a_folder_with_a_run_is_refused_and_fresh_moves_it_aside(tmp_path):
    make_trainer(tmp_path, **{"train.iterations": 2}).train()
    out = tmp_path / "out"
    before = snapshot(out)
    with pytest.raises(UserError, match=r"output_dir '.*out' already holds a run \(checkpoints, "
                                        r"weights.pdparams.*\); add --resume .* --fresh"):
        make_trainer(tmp_path, **{"train.iterations": 4})
    assert snapshot(out) == before

    trainer = make_trainer(tmp_path, fresh=True, **{"train.iterations": 4, "model.ch": 8})
    moved = glob.glob(str(tmp_path / "out.old-*"))
    assert len(moved) == 1 and snapshot(moved[0]) == before
    trainer.train()
    assert snapshot(moved[0]) == before  # the new run changed no file of the old one
    assert sorted(os.listdir(out / "checkpoints")) == ["iter_0000002.pdckpt",
                                                       "iter_0000004.pdckpt", "latest.pdckpt"]
    assert checkpoint.load(str(out / "checkpoints" / "iter_0000002.pdckpt"))["iteration"] == 2
    log = (out / "train.log").read_text()
    assert f"moved the earlier run in {out} to {moved[0]}" in log
    assert "iter 1/2" not in log  # the old run's log went with it


@pytest.mark.slow
def test_train_tool_refuses_a_folder_with_a_run_in_one_line(tmp_path):
    make_trainer(tmp_path, **{"train.iterations": 2}).train()
    before = snapshot(tmp_path / "out")
    proc = train_tool(*cli_args(tmp_path))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "already holds a run" in lines[0]
    assert "--resume" in lines[0] and "--fresh" in lines[0]
    assert snapshot(tmp_path / "out") == before


# 2. a copy of a run resumes in the copy
def test_a_copied_run_resumes_in_the_copy_not_the_original(tmp_path):
    make_trainer(tmp_path, **{"train.iterations": 2}).train()
    original, copy = tmp_path / "out", tmp_path / "copy"
    assert yaml.safe_load((original / "config.yaml").read_text())["output_dir"] == "."
    shutil.copytree(original, copy)
    before = snapshot(original)

    cfg = build_config(str(copy / "config.yaml"), ["train.iterations=4"])
    assert os.path.abspath(cfg.output_dir) == str(copy)
    Trainer(cfg, resume=True).train()
    assert checkpoint.load(str(copy / "checkpoints" / "latest.pdckpt"))["iteration"] == 4
    assert f"output in {copy}" in (copy / "train.log").read_text()
    assert snapshot(original) == before


def test_a_copy_of_a_run_whose_config_names_another_folder_is_refused(tmp_path):
    """Runs saved before output_dir '.': their config.yaml names the original folder."""
    make_trainer(tmp_path, **{"train.iterations": 2}).train()
    original, copy = tmp_path / "out", tmp_path / "copy"
    shutil.copytree(original, copy)
    text = (copy / "config.yaml").read_text().replace("output_dir: .", f"output_dir: {original}")
    (copy / "config.yaml").write_text(text)
    with pytest.raises(ConfigError, match=rf"copy/config.yaml sits in a run's folder but its "
                                          rf"output_dir names '{original}' \(a copied run\?\); "
                                          rf"set -o output_dir={copy} to use this one"):
        build_config(str(copy / "config.yaml"), ["train.iterations=4"])
    assert build_config(str(copy / "config.yaml"), [f"output_dir={copy}"]).output_dir == str(copy)


# 3. a corrupt latest.pdckpt
def test_a_corrupt_latest_checkpoint_falls_back_to_the_newest_that_loads(tmp_path):
    make_trainer(tmp_path, **{"train.iterations": 4}).train()
    ckpts = tmp_path / "out" / "checkpoints"
    straight = checkpoint.load(str(tmp_path / "out" / "weights.pdparams"))
    with open(ckpts / "latest.pdckpt", "r+b") as f:  # in place: iter_4 is the same file
        f.write(b"garbage" * 100)
    same_file = os.path.samefile(ckpts / "latest.pdckpt", ckpts / "iter_0000004.pdckpt")

    trainer = make_trainer(tmp_path, resume=True, **{"train.iterations": 4})
    assert trainer.iteration == (2 if same_file else 4)
    log = (tmp_path / "out" / "train.log").read_text()
    assert "latest.pdckpt: cannot be read" in log
    assert f"resuming from {ckpts / ('iter_000000%d.pdckpt' % trainer.iteration)}" in log
    assert (ckpts / "latest.pdckpt.unreadable").read_bytes().startswith(b"garbage")
    trainer.train()
    assert checkpoint.load(str(ckpts / "latest.pdckpt"))["iteration"] == 4
    assert_same_weights(straight, checkpoint.load(str(tmp_path / "out" / "weights.pdparams")))


def test_resume_when_no_checkpoint_loads_says_so(tmp_path):
    make_trainer(tmp_path, **{"train.iterations": 2}).train()
    ckpts = tmp_path / "out" / "checkpoints"
    for path in ckpts.iterdir():
        path.write_bytes(b"garbage")
    with pytest.raises(UserError, match=r"--resume: none of the 2 checkpoint\(s\) in .* can be "
                                        r"read; the newest: .*latest.pdckpt: cannot be read"):
        make_trainer(tmp_path, resume=True)


# 4. one-line errors
@pytest.mark.parametrize("item, message", [
    ("train.batch_size=0", "'train.batch_size' must be > 0, got 0; set it like -o "
                           "train.batch_size=1"),
    ("optimizer.lr=-1", "'optimizer.lr' must be > 0, got -1.0"),
    ("train.iterations=-5", "'train.iterations' must be > 0, got -5"),
    ("train.log_interval=0", "'train.log_interval' must be > 0"),
    ("dataset.num_workers=-1", "'dataset.num_workers' must be >= 0"),
])
def test_values_out_of_range_are_refused(item, message):
    with pytest.raises(ConfigError, match="^-o: " + message.replace("(", r"\(")):
        build_config(DEMO, [item])


@pytest.mark.slow
def test_bad_outputs_and_values_give_one_line_in_the_tools(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    cases = [(cli_args(tmp_path, **{"train.iterations": 0}), "'train.iterations' must be > 0"),
             (cli_args(tmp_path, output_dir=a_file), f"output_dir '{a_file}' is a file"),
             (cli_args(tmp_path, output_dir=a_file / "out"), "lies under the file"),
             (cli_args(tmp_path, **{"train.eval_interval": 2}) + [
                 "--inception-weights", str(tmp_path / "pt_inception.pth")],
              "pt_inception.pth: Inception weights file not found")]
    for args, message in cases:
        proc = train_tool(*args)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("error: ") and message in proc.stderr, proc.stderr
    assert a_file.read_text() == "mine"
    (tmp_path / "ro").mkdir()
    with ReadOnly(tmp_path / "ro"):
        proc = train_tool(*cli_args(tmp_path, output_dir=tmp_path / "ro" / "out"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"error: output_dir '{tmp_path / 'ro' / 'out'}' cannot be written" in proc.stderr

    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "export_model.py"),
                           "--weights", str(tmp_path / "w.pdparams"), "--output", str(a_file)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2
    assert proc.stderr == f"error: --output '{a_file}' is a file, not a folder; choose another " \
                          f"folder\n"


class ReadOnly:
    """A folder nobody can write into, root included (modes, else the immutable attribute)."""

    def __init__(self, path):
        self.path, self.immutable = str(path), False

    def writable(self) -> bool:
        try:
            tempfile.TemporaryFile(dir=self.path).close()
            return True
        except OSError:
            return False

    def __enter__(self):
        os.chmod(self.path, 0o555)
        if self.writable():  # root ignores modes
            self.immutable = subprocess.run(["chattr", "+i", self.path],
                                            capture_output=True).returncode == 0
        if self.writable():
            self.__exit__()
            pytest.skip("cannot make a read-only folder on this machine")
        return self

    def __exit__(self, *exc):
        if self.immutable:
            subprocess.run(["chattr", "-i", self.path], check=True)
        os.chmod(self.path, 0o755)


def test_check_writable_refuses_a_read_only_folder(tmp_path):
    from ppugatit.run_dir import check_writable
    (tmp_path / "ro").mkdir()
    with ReadOnly(tmp_path / "ro"):
        with pytest.raises(UserError, match=r"^output_dir '.*ro/out' cannot be written in "
                                            r"'.*ro' \(.*\); set -o"):
            check_writable(str(tmp_path / "ro" / "out"), "output_dir", "set -o output_dir=...")
    assert not (tmp_path / "ro" / "out").exists()


def test_a_read_only_checkpoint_folder_mid_run_keeps_training_and_loses_nothing(
        tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    trainer = make_trainer(tmp_path, **{"train.iterations": 6})
    ckpts = tmp_path / "out" / "checkpoints"
    read_only = ReadOnly(ckpts)
    step, seen = trainer.model.train_step, []

    def lock_after_3(batch):
        losses = step(batch)
        seen.append(trainer.iteration)
        if trainer.iteration == 3:
            kept.update(snapshot(ckpts))
            read_only.__enter__()
        return losses
    kept: dict = {}
    trainer.model.train_step = lock_after_3
    try:
        with pytest.raises(UserError, match=r"cannot save iteration 6 to .*checkpoints; saved it "
                                            r"to .*ppugatit-\d+-iter_0000006.pdckpt instead"):
            trainer.train()
    finally:
        read_only.__exit__()
    assert seen == [1, 2, 3, 4, 5, 6]  # the failed save at 4 did not stop training
    assert snapshot(ckpts) == kept
    log = (tmp_path / "out" / "train.log").read_text()
    assert log.count(f"cannot write checkpoints to {ckpts}") == 1
    rescued = glob.glob(str(tmp_path / "ppugatit-*-iter_0000006.pdckpt"))
    assert checkpoint.load(rescued[0])["iteration"] == 6


def test_a_second_ctrl_c_inside_paddle_is_an_interrupt_not_a_traceback(capsys):
    def paddle_reader():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise OSError("(External) KeyboardInterrupt: \n  [operator < read > error]")
    with pytest.raises(SystemExit) as stop:
        run(paddle_reader)
    assert stop.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"
    with pytest.raises(OSError, match="disk full"):  # any other OSError is not swallowed
        run(lambda: (_ for _ in ()).throw(OSError("disk full")))


# 5. kill -9 of the trainer
def children(pid: int) -> list[int]:
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_the_trainer_leaves_no_loader_worker(tmp_path):
    log = tmp_path / "out" / "train.log"
    proc = subprocess.Popen([sys.executable, TRAIN, "-c", DEMO,
                             *cli_args(tmp_path, **{"train.iterations": 100000,
                                                    "train.log_interval": 1,
                                                    "dataset.num_workers": 2})],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    try:
        deadline = time.time() + 180
        while time.time() < deadline and not (log.exists() and "iter 2/" in log.read_text()):
            time.sleep(0.2)
        workers = children(proc.pid)
        assert len(workers) == 2 and all(alive(w) for w in workers)
        proc.kill()
        proc.wait()
        deadline = time.time() + 20
        while time.time() < deadline and any(alive(w) for w in workers):
            time.sleep(0.2)
        assert not any(alive(w) for w in workers)
    finally:
        proc.kill()
        for w in workers:
            if alive(w):
                os.kill(w, signal.SIGKILL)


# 6. the demo data set and a mistyped dataset.root
def test_demo_data_is_never_mixed_into_a_folder_of_real_images(tmp_path):
    mine = tmp_path / "selfie2anime" / "trainA"
    mine.mkdir(parents=True)
    (mine / "me.png").write_bytes(open(os.path.join(ROOT, "docs", "demo_A2B.png"), "rb").read())
    before = snapshot(tmp_path / "selfie2anime")
    with pytest.raises(DataError, match=r"dataset.demo: '.*selfie2anime' holds 1 image\(s\) of "
                                        r"its own .* set dataset.demo=false"):
        make_trainer(tmp_path, **{"dataset.root": str(tmp_path / "selfie2anime")})
    assert snapshot(tmp_path / "selfie2anime") == before
    assert not (tmp_path / "out").exists()  # a refused start writes nothing


def test_a_mistyped_demo_root_is_generated_with_a_warning(tmp_path):
    make_trainer(tmp_path, **{"dataset.root": str(tmp_path / "selfie2anmie"),
                              "train.iterations": 1}).train()
    assert len(list_images(str(tmp_path / "selfie2anmie"))) == 352
    log = (tmp_path / "out" / "train.log").read_text()
    line = next(x for x in log.splitlines() if "generating the built-in" in x)
    assert "WARNING" in line and str(tmp_path / "selfie2anmie") in line
    assert "set dataset.demo=false" in line
    ensure_demo_dataset(str(tmp_path / "selfie2anmie"))  # complete: nothing to do, no error


# 7. stopped before the first sample; the notebook's picture cell
def picture_cell() -> str:
    with open(os.path.join(ROOT, "notebooks", "ugatit_aistudio.ipynb"), encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    return next("".join(c["source"]) for c in cells
                if c["cell_type"] == "code" and "visualdl --logdir" in "".join(c["source"]))


def run_picture_cell(out) -> str:
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        exec(picture_cell(), {"os": os, "OUTPUT_DIR": str(out), "LOG_INTERVAL": 100,
                              "SAMPLE_INTERVAL": 1000})
    return buffer.getvalue()


def test_a_run_stopped_before_its_first_sample_writes_one(tmp_path):
    trainer = make_trainer(tmp_path, **{"train.iterations": 100, "train.sample_interval": 50,
                                        "train.log_interval": 50, "train.save_interval": 50})
    train_until_interrupted(trainer, 1)
    out = tmp_path / "out"
    assert sorted(os.listdir(out / "samples")) == ["A2B_0000001.png", "B2A_0000001.png"]
    shown = run_picture_cell(out)
    assert "train/G_loss   not logged yet (every LOG_INTERVAL = 100 iterations)" in shown
    assert str(out / "samples" / "A2B_0000001.png") in shown


def test_the_picture_cell_says_what_is_missing(tmp_path):
    shown = run_picture_cell(tmp_path)
    assert f"no sample grid in {tmp_path / 'samples'} yet" in shown
    assert "not logged yet" in shown
