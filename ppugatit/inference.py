"""Translating pictures, or sampling a generation model, with trained or official weights.

The picture handling (finding inputs, reading, resizing, writing, progress, bad files) is
separate from what computes the images (a *runner*: NCHW float32 in [-1, 1] ->
``(images, heatmap or None)``), so the dygraph tool and the exported-model deploy script give
the same files from the same code.
"""
from __future__ import annotations

import glob
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, TextIO

import numpy as np
import paddle

from ppugatit.data.dataset import resize
from ppugatit.data.image_io import is_image_file, list_images, read_image, write_image
from ppugatit.errors import UserError
from ppugatit.face import FaceCrop, compose, view
from ppugatit.logger import Progress
from ppugatit.pipelines import PIPELINES, Pipeline, pipeline_for
from ppugatit.video import is_video, translate_videos
from ppugatit.visual import overlay, panel_grid, seven_panels, to_uint8

Runner = Callable[[np.ndarray], tuple[np.ndarray, Optional[np.ndarray]]]

# what cv2.imencode writes from 8-bit RGB; any other input extension gets ".png" appended
WRITABLE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".webp", ".tif", ".tiff")


class InferenceError(UserError):
    """Nothing could be translated, or the request cannot be met; the message says why."""


# model and device
def load_model(weights: str, config: str | None = None, overrides: Iterable[str] = ()):
    """The model with its weights, in eval mode: any format
    :func:`ppugatit.weights.loader.open_weights` reads (ours, the official PyTorch ``.pt``,
    PaddleGAN's ``.pdparams``, the authors' TensorFlow checkpoint folder), told by content."""
    from ppugatit.weights.loader import open_weights
    from ppugatit.weights.tf_checkpoint import is_bundle
    if not os.path.exists(weights) and not is_bundle(weights):
        raise InferenceError(f"--weights {weights}: file not found")
    return open_weights(weights, config, overrides)


def z_dim(model) -> int:
    """The noise size of a generation model (``model.z_dim`` in its config)."""
    value = model.cfg.model.get("z_dim")
    if not isinstance(value, int):
        raise InferenceError(f"model '{model.cfg.model.name}' has no model.z_dim; cannot sample")
    return value


def other_direction(model, direction: str) -> str:
    """The way back (for the identity and cycle panels of the grid)."""
    if len(model.directions) != 2 or direction not in model.directions:
        raise InferenceError(f"--grid needs a model with two directions (this one has "
                             f"{list(model.directions)})")
    return [d for d in model.directions if d != direction][0]


def dygraph_runner(layer: paddle.nn.Layer) -> Runner:
    layer.eval()

    def run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        with paddle.no_grad():
            out = layer(paddle.to_tensor(x))
        images, heatmap = out if isinstance(out, (tuple, list)) else (out, None)
        return images.numpy(), None if heatmap is None else heatmap.numpy()
    return run


# inputs and outputs
def collect_inputs(path: str, videos: bool = False) -> list[tuple[str, str]]:
    """``(file, name under the output folder)`` for an image, a folder (recursively, keeping
    sub-folders) or a glob (names relative to the glob's fixed leading folders); with
    ``videos``, video files (:mod:`ppugatit.video`) too."""
    def accept(name: str) -> bool:
        return is_image_file(name) or (videos and is_video(name))

    what = "image or video" if videos else "image"
    if os.path.isfile(path):
        return [(path, os.path.basename(path))]
    if os.path.isdir(path):
        files = list_images(path, accept)
        if not files:
            raise InferenceError(f"--input {path}: the folder holds no {what} files")
        return [(f, os.path.relpath(f, path)) for f in files]
    if glob.has_magic(path):
        parts = os.path.normpath(path).split(os.sep)
        fixed = []
        for part in parts[:-1]:
            if glob.has_magic(part):
                break
            fixed.append(part)
        base = os.sep.join(fixed) if fixed else "."
        if path.startswith(os.sep) and not base.startswith(os.sep):
            base = os.sep + base
        files = sorted(f for f in glob.glob(path, recursive=True)
                       if os.path.isfile(f) and accept(f))
        if not files:
            raise InferenceError(f"--input {path}: the pattern matches no {what} files")
        return [(f, os.path.relpath(f, base)) for f in files]
    raise InferenceError(f"--input {path}: no such file or folder (a glob needs * ? or [...])")


def output_path(output: str, name: str, suffix: str = "") -> str:
    """``output/name`` with ``suffix`` before the extension; ``.png`` for formats OpenCV
    cannot write from 8-bit RGB."""
    stem, ext = os.path.splitext(name)
    if ext.lower() not in WRITABLE_EXTENSIONS:
        stem, ext = name, ".png"
    return os.path.join(output, stem + suffix + ext)


@dataclass
class Summary:
    written: list[str] = field(default_factory=list)
    done: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self, what: str, output: str) -> str:
        skipped = f" ({len(self.failed)} skipped)" if self.failed else ""
        return (f"{what} {self.done} image(s) into {output}{skipped} in {self.seconds:.1f} s")


def _warn(stream: TextIO, message: str) -> None:
    stream.write(message + "\n")
    stream.flush()


def _write(path: str, image: np.ndarray, summary: Summary, stream: TextIO) -> bool:
    try:
        write_image(path, image)
    except (OSError, ValueError) as e:
        _warn(stream, f"cannot write {path}: {e}")
        return False
    summary.written.append(path)
    return True


@dataclass(frozen=True)
class Options:
    """How pictures are translated and written: what ``tools/infer.py``'s and deploy's options
    say, in one place.

    The network sees ``img_size`` pictures, ``batch_size`` at a time. With ``heatmap`` the CAM
    heatmap blended over the input goes to ``<stem>_heatmap<ext>``; ``keep_size`` writes the
    translation at the input's size. With ``faces`` (:mod:`ppugatit.face`) the network sees the
    face crop instead of the whole picture (a picture without a face is named and translated
    whole); further faces go to ``<stem>_face2<ext>`` ...; with its ``paste_back`` the result
    is the photo with the translated crops pasted in, at the photo's size, and ``keep_size``
    means the crop's size. ``pipeline`` (:mod:`ppugatit.pipelines`) resizes each picture for
    the network and turns its outputs into pixels.
    """

    img_size: int
    batch_size: int = 1
    heatmap: bool = False
    keep_size: bool = False
    faces: FaceCrop | None = None
    pipeline: Pipeline = field(default_factory=lambda: PIPELINES["ours"])


def translate_files(inputs: list[tuple[str, str]], run: Runner, output: str, options: Options,
                    back: Runner | None = None, stream: TextIO | None = None) -> Summary:
    """Translate ``inputs`` (from :func:`collect_inputs`) into ``output/<name>`` as
    ``options`` say; with ``back`` (the other direction's runner) the official seven-panel
    column goes to ``<stem>_grid<ext>``, at img_size. A file that cannot be read or written is
    named on ``stream`` and skipped. Raises if nothing was translated."""
    stream = stream or sys.stderr
    img_size, batch_size, heatmap, keep_size, faces, pipeline = (
        options.img_size, options.batch_size, options.heatmap, options.keep_size,
        options.faces, options.pipeline)
    pixels = pipeline.to_uint8
    if batch_size < 1:
        raise InferenceError(f"--batch-size must be at least 1, got {batch_size}")
    for src, name in inputs:
        if os.path.abspath(output_path(output, name)) == os.path.abspath(src):
            raise InferenceError(f"--output {output} would overwrite the input {src}; choose "
                                 f"another output folder")
    summary = Summary()
    progress = Progress(len(inputs), stream=stream)
    start = time.perf_counter()
    seen = 0
    for first in range(0, len(inputs), batch_size):
        chunk = inputs[first:first + batch_size]
        seen += len(chunk)
        batch, kept = [], []
        for src, name in chunk:
            img = read_image(src)
            if img is None:
                _warn(stream, f"skipping unreadable image {src}")
                summary.failed.append(src)
                continue
            boxes = [None] if faces is None else faces.boxes(img, src, stream)
            views = [view(img, box) for box in boxes]
            batch += [pipeline.prepare(v, img_size) for v in views]
            kept.append((src, name, img, boxes, views))
        if batch:
            x = np.stack(batch)
            fake, fake_heat = run(x)
            if (heatmap or back) and fake_heat is None:
                raise InferenceError("this model gives no heatmap; drop --heatmap / --grid")
            reals, fakes = pixels(x), pixels(fake)
            if back is not None:
                ident, ident_heat = back(x)
                cycle, cycle_heat = back(fake)
                idents, cycles = pixels(ident), pixels(cycle)
            row = 0
            for src, name, img, boxes, views in kept:
                ok = True
                if faces is not None and faces.paste_back:
                    pasted = compose(img, list(zip(boxes, fakes[row:row + len(boxes)])))
                    ok = _write(output_path(output, name), pasted, summary, stream)
                for k, part in enumerate(views):
                    i, face = row + k, f"_face{k + 1}" if k else ""
                    if ok and not (faces is not None and faces.paste_back):
                        image = resize(fakes[i], part.shape[:2]) if keep_size else fakes[i]
                        ok = _write(output_path(output, name, face), image, summary, stream)
                    if ok and heatmap:
                        base = part if keep_size else reals[i]
                        ok = _write(output_path(output, name, face + "_heatmap"),
                                    overlay(base, fake_heat[i]), summary, stream)
                    if ok and back is not None:
                        column = seven_panels(reals[i], (idents[i], ident_heat[i]),
                                              (fakes[i], fake_heat[i]), (cycles[i], cycle_heat[i]))
                        ok = _write(output_path(output, name, face + "_grid"),
                                    panel_grid([column]), summary, stream)
                row += len(boxes)
                if ok:
                    summary.done += 1
                else:
                    summary.failed.append(src)
        progress.update(seen)
    summary.seconds = time.perf_counter() - start
    if summary.done == 0:
        raise InferenceError(f"nothing was translated: all {len(inputs)} input file(s) failed "
                             f"(named above)")
    return summary


def translate_inputs(source: str, run: Runner, output: str, options: Options,
                     back: Runner | None = None, stream: TextIO | None = None,
                     what: str = "translated") -> str:
    """What ``tools/infer.py`` and deploy do with ``--input``: pictures through
    :func:`translate_files`, videos through :func:`ppugatit.video.translate_video` (each
    ``<name>.mp4``, a GIF as ``<name>.gif``); returns the summary line."""
    inputs = collect_inputs(source, videos=True)
    videos = [(src, name) for src, name in inputs if is_video(src)]
    pictures = [(src, name) for src, name in inputs if not is_video(src)]
    if videos and (options.heatmap or back is not None):
        raise InferenceError("--heatmap and --grid are for pictures; translate the videos "
                             f"({videos[0][0]}, ...) without them")
    lines = []
    if pictures:
        summary = translate_files(pictures, run, output, options, back, stream)
        lines.append(summary.line(what, output))
    if videos:
        lines.append(translate_videos(videos, run, options.img_size, output,
                                      options.batch_size, options.faces, options.pipeline,
                                      stream))
    return "; ".join(lines)


def sample_files(run: Callable[[np.ndarray], np.ndarray], dim: int, output: str, num: int,
                 seed: int = 0, batch_size: int = 1, stream: TextIO | None = None) -> Summary:
    """``num`` samples from noise ``N(0, 1)^dim`` drawn with ``seed``, as
    ``output/sample_00000.png`` ...; the same seed gives the same pictures."""
    stream = stream or sys.stderr
    if num < 1:
        raise InferenceError(f"--num must be at least 1, got {num}")
    if batch_size < 1:
        raise InferenceError(f"--batch-size must be at least 1, got {batch_size}")
    z = np.random.default_rng(seed).standard_normal((num, dim), dtype=np.float32)
    summary = Summary()
    progress = Progress(num, what="samples", stream=stream)
    start = time.perf_counter()
    for first in range(0, num, batch_size):
        images = to_uint8(run(z[first:first + batch_size]))
        for i, image in enumerate(images):
            if _write(os.path.join(output, f"sample_{first + i:05d}.png"), image, summary,
                      stream):
                summary.done += 1
        progress.update(min(first + batch_size, num))
    summary.seconds = time.perf_counter() - start
    if summary.done == 0:
        raise InferenceError(f"no sample could be written into {output}")
    return summary


# the tool
def infer(weights: str, output: str, source: str | None = None, config: str | None = None,
          overrides: Iterable[str] = (), direction: str | None = None, heatmap: bool = False,
          grid: bool = False, keep_size: bool = False, batch_size: int = 1,
          device: str | None = None, num: int | None = None, seed: int = 0,
          stream: TextIO | None = None, faces: FaceCrop | None = None,
          pipeline: str | None = None) -> str:
    """``tools/infer.py``: translate ``source`` (an image, folder or glob), or sample ``num``
    pictures from a generation model; returns the summary line. Runs where training runs:
    the GPU, or the CPU with oneDNN convolutions (a :class:`ppugatit.device.Runtime`)."""
    from ppugatit.device import Runtime

    with Runtime(device, key="--device"):
        return _infer(weights, output, source, config, overrides, direction, heatmap, grid,
                      keep_size, batch_size, num, seed, stream, faces, pipeline)


def _infer(weights, output, source, config, overrides, direction, heatmap, grid, keep_size,
           batch_size, num, seed, stream, faces, pipeline) -> str:
    model = load_model(weights, config, overrides)
    if model.task == "generation":
        if num is None:
            raise InferenceError("this is a generation model: give --num N (and --seed S) "
                                 "instead of --input")
        sampler = dygraph_runner(model.sampler())
        summary = sample_files(lambda z: sampler(z)[0], z_dim(model), output, num, seed,
                               batch_size, stream)
        return summary.line("sampled", output)
    if source is None:
        raise InferenceError("--input is required: an image, a folder or a glob")
    direction = direction or model.directions[0]
    if direction not in model.directions:
        raise InferenceError(f"--direction must be one of {list(model.directions)}, "
                             f"got '{direction}'")
    run = dygraph_runner(model.translator(direction))
    back = dygraph_runner(model.translator(other_direction(model, direction))) if grid else None
    options = Options(model.cfg.model.img_size, batch_size, heatmap, keep_size, faces,
                      pipeline_for(model.cfg, pipeline))
    return translate_inputs(source, run, output, options, back, stream,
                            f"translated ({direction})")
