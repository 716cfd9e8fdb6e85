"""Translate a video frame by frame: decode, translate in batches, encode, sound kept.

PyAV (FFmpeg's libraries in one wheel, no system ffmpeg) decodes any container FFmpeg reads and
writes H.264 (yuv420p, plays in browsers) at the input's frame rate; an animated GIF becomes a
GIF, written with Pillow at the input's frame durations. Decoding runs in a reader thread and
encoding in a writer thread, so both overlap the translation. The video is written first
without sound to a temporary file; the original audio track is then copied in packet by packet
(no re-encoding; transcoded to AAC only when MP4 cannot hold its codec) and the result renamed
into place. Ctrl-C stops after the frames done so far and still leaves a playable, shorter
video; an error leaves nothing.

With ``--face-crop`` a :class:`FaceTrack` gives each frame its crop box: faces are detected on
every few frames, linked to the previous box, and the box's centre and size are smoothed over
time with a one-euro filter (Casiez et al., CHI 2012), so the crop does not jitter.
"""
from __future__ import annotations

import math
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, TextIO

import numpy as np

from ppugatit.errors import UserError
from ppugatit.face import Box, crop_box, detect_faces
from ppugatit.logger import Progress

VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".avi", ".mkv", ".gif")
# audio codecs an MP4 file holds as they are; others are transcoded to AAC
MP4_AUDIO = {"aac", "mp3", "opus", "flac", "alac", "ac3", "eac3"}
QUEUE = 16  # frames in flight between the threads


class VideoError(UserError):
    pass


def is_video(path: str) -> bool:
    """A video file by its name (hidden files excluded, as ``is_image_file`` does)."""
    name = os.path.basename(path)
    return not name.startswith(".") and name.lower().endswith(VIDEO_EXTENSIONS)


def output_name(name: str) -> str:
    """``clip.mov`` -> ``clip.mp4``; a GIF stays a GIF."""
    stem, ext = os.path.splitext(name)
    return stem + (".gif" if ext.lower() == ".gif" else ".mp4")


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frames: int        # from the container, or duration x rate: an estimate for the progress
    rotation: int      # degrees counter-clockwise the player turns the picture (phone videos)
    audio: str | None  # the audio codec, None without sound
    seconds: float


def _open(path: str):
    import av

    if not os.path.isfile(path):
        raise VideoError(f"--input {path}: no such file")
    if os.path.getsize(path) == 0:
        raise VideoError(f"--input {path}: the file is empty (0 bytes)")
    try:
        container = av.open(path)
    except (av.FFmpegError, UnicodeDecodeError) as e:
        raise VideoError(f"--input {path}: not a readable video ({_reason(e)})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"--input {path}: the file has no video stream")
    return container


def _reason(e: Exception) -> str:
    return str(getattr(e, "strerror", None) or e).strip().splitlines()[0][:120]


def probe(path: str) -> VideoInfo:
    container = _open(path)
    try:
        video = container.streams.video[0]
        if video.codec_context is None or video.codec_context.name is None:
            raise VideoError(f"--input {path}: its video codec is not supported by this "
                             f"FFmpeg build")
        fps = video.average_rate or video.guessed_rate or Fraction(25)
        seconds = (float(video.duration * video.time_base) if video.duration else
                   container.duration / 1e6 if container.duration else 0.0)
        frames = video.frames or int(round(seconds * fps)) or 0
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        rotation = 0
        for frame in container.decode(video=0):
            rotation = int(getattr(frame, "rotation", 0) or 0) % 360
            break
        return VideoInfo(video.codec_context.width, video.codec_context.height, Fraction(fps),
                         frames, rotation, audio, seconds)
    finally:
        container.close()


def upright(img: np.ndarray, rotation: int) -> np.ndarray:
    """The picture as the player shows it: ``rotation`` is counter-clockwise degrees."""
    return np.ascontiguousarray(np.rot90(img, rotation // 90)) if rotation else img


class OneEuro:
    """The one-euro filter: a low-pass whose cut-off rises with speed, so that a still face's
    box stops jittering while a moving one is followed with little lag."""

    def __init__(self, rate: float, min_cutoff: float = 0.5, beta: float = 0.02,
                 d_cutoff: float = 1.0):
        self.rate, self.min_cutoff, self.beta, self.d_cutoff = rate, min_cutoff, beta, d_cutoff
        self.x = self.dx = None

    def _alpha(self, cutoff):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau * self.rate)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.x is None:
            self.x, self.dx = x.astype(np.float64), np.zeros_like(x, dtype=np.float64)
            return self.x
        dx = (x - self.x) * self.rate
        a = self._alpha(self.d_cutoff)
        self.dx = a * dx + (1 - a) * self.dx
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self.dx))  # per component
        self.x = a * x + (1 - a) * self.x
        return self.x


@dataclass
class FaceTrack:
    """The crop box of each frame, in order: the largest face, detected every ``every`` frames,
    followed by the nearest face after that, smoothed by :class:`OneEuro`; lost for more than
    ``hold`` seconds, the whole frame (None)."""
    fps: float
    every: int = 3
    hold: float = 1.0
    filter: OneEuro | None = None
    last: np.ndarray | None = None  # the latest detection: centre x, centre y, side
    lost_for: int = 0
    raw: list = field(default_factory=list)       # (frame, detection) at detection frames
    smoothed: list = field(default_factory=list)  # (frame, smoothed box) at the same frames
    no_face: int = 0
    index: int = 0

    def __post_init__(self):
        self.filter = OneEuro(self.fps)

    def _detect(self, img: np.ndarray) -> np.ndarray | None:
        faces = [crop_box(f) for f in detect_faces(img)]
        if not faces:
            return None
        boxes = np.array([[b.x + b.size / 2, b.y + b.size / 2, b.size] for b in faces], float)
        if self.last is None:
            return boxes[0]  # largest first
        return boxes[np.argmin(np.abs(boxes - self.last).sum(axis=1))]

    def __call__(self, img: np.ndarray) -> Box | None:
        i, self.index = self.index, self.index + 1
        if i % self.every == 0:
            found = self._detect(img)
            if found is not None:
                self.last, self.lost_for = found, 0
                self.raw.append((i, found))
            elif self.last is not None:
                self.lost_for += self.every
        if self.last is None or self.lost_for > self.hold * self.fps:
            self.no_face += 1
            if self.last is not None and self.lost_for > self.hold * self.fps:
                self.last, self.filter = None, OneEuro(self.fps)
            return None
        cx, cy, side = self.filter(self.last)
        if self.raw and self.raw[-1][0] == i:
            self.smoothed.append((i, np.array([cx, cy, side])))
        size = max(1, int(round(side)))
        return Box(int(round(cx - size / 2)), int(round(cy - size / 2)), size)

    def jitter(self) -> tuple[float, float]:
        """Mean movement of the box (centre and side, pixels) between consecutive detection
        frames: raw detections, and the smoothed boxes."""
        def mean_step(points):
            if len(points) < 2:
                return 0.0
            values = np.array([p for _, p in points])
            return float(np.abs(np.diff(values, axis=0)).sum(axis=1).mean())
        return mean_step(self.raw), mean_step(self.smoothed)


@dataclass
class VideoSummary:
    path: str
    frames: int = 0
    total: int = 0
    seconds: float = 0.0
    audio: str = "none"
    stopped: bool = False
    track: FaceTrack | None = None

    def line(self) -> str:
        parts = [f"wrote {self.path}: {self.frames} frames in {self.seconds:.1f} s "
                 f"({self.frames / max(self.seconds, 1e-9):.2f} frames/s), sound {self.audio}"]
        if self.track is not None:
            raw, smooth = self.track.jitter()
            parts.append(f"face found in {self.frames - self.track.no_face}/{self.frames} "
                         f"frames, box jitter {raw:.1f} px raw -> {smooth:.1f} px smoothed")
        if self.stopped:
            parts.append(f"stopped by Ctrl-C after {self.frames} of about {self.total} frames")
        return "; ".join(parts)


Translate = Callable[[list[np.ndarray], list[Box | None]], list[np.ndarray]]


def _reader(container, rotation: int, out: queue.Queue, stop: threading.Event) -> None:
    try:
        for frame in container.decode(video=0):
            if stop.is_set():
                break
            out.put(upright(frame.to_ndarray(format="rgb24"), rotation))
        out.put(None)
    except Exception as e:  # noqa: BLE001 - handed to the main thread, which raises it
        out.put(e)


class _Mp4Writer:
    def __init__(self, path: str, fps: Fraction, width: int, height: int):
        import av

        self.container = av.open(path, "w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=fps)
        self.time_base = 1 / Fraction(fps)
        self.stream.width, self.stream.height = width - width % 2, height - height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "18", "preset": "veryfast"}
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        import av

        h, w = self.stream.height, self.stream.width
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24")
        frame.pts = self.count
        frame.time_base = self.time_base
        self.container.mux(self.stream.encode(frame))
        self.count += 1

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))
        self.container.close()


class _GifWriter:
    def __init__(self, path: str, durations_ms: list[int]):
        self.path, self.durations, self.frames = path, durations_ms, []

    def write(self, rgb: np.ndarray) -> None:
        from PIL import Image

        self.frames.append(Image.fromarray(rgb))

    def close(self) -> None:
        if self.frames:
            n = len(self.frames)
            self.frames[0].save(self.path, format="GIF", save_all=True,
                                append_images=self.frames[1:], loop=0,
                                duration=(self.durations[:n] + [self.durations[-1]] * n)[:n])


def _gif_durations(path: str) -> list[int]:
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        return [int(f.info.get("duration", 100)) or 100 for f in ImageSequence.Iterator(im)]


def _writer(writer, frames: queue.Queue, errors: list) -> None:
    while True:
        rgb = frames.get()
        if rgb is None:
            break
        if errors:
            continue
        try:
            writer.write(rgb)
        except Exception as e:  # noqa: BLE001 - raised by the main thread
            errors.append(e)


def add_audio(silent: str, source: str, out: str) -> str:
    """``out``: the video of ``silent`` with the first audio track of ``source``, copied
    (or as AAC where MP4 cannot hold its codec), cut at the video's end. Returns what was done."""
    import av

    with av.open(silent) as video_in, av.open(source) as audio_in, \
            av.open(out, "w", format="mp4") as muxed:
        vin, ain = video_in.streams.video[0], audio_in.streams.audio[0]
        vout = muxed.add_stream_from_template(vin)
        end = float(vin.duration * vin.time_base) if vin.duration else math.inf
        copy = ain.codec_context.name in MP4_AUDIO
        if copy:
            aout = muxed.add_stream_from_template(ain)
        else:
            aout = muxed.add_stream("aac", rate=ain.codec_context.sample_rate)
        for packet in video_in.demux(vin):
            if packet.dts is not None:
                packet.stream = vout
                muxed.mux(packet)
        for packet in audio_in.demux(ain):
            if packet.pts is not None and float(packet.pts * ain.time_base) > end:
                break
            if copy:
                if packet.dts is not None:
                    packet.stream = aout
                    muxed.mux(packet)
                continue
            for frame in packet.decode():
                frame.pts = None
                muxed.mux(aout.encode(frame))
        if not copy:
            muxed.mux(aout.encode(None))
    return ("copied" if copy else f"{ain.codec_context.name} transcoded to AAC")


def translate_video(src: str, dst: str, translate: Translate, batch_size: int = 4,
                    track: FaceTrack | None = None, stream: TextIO | None = None,
                    max_seconds: float | None = None,
                    progress: Callable[[int, int], None] | None = None) -> VideoSummary:
    """Translate ``src`` into ``dst`` (.mp4 or .gif); ``translate(frames, boxes)`` gives the
    output frames (all of one size) of a batch of upright RGB frames and their crop boxes.
    ``progress(done, total)`` is called after each batch, beside the progress line on
    ``stream``."""
    stream = stream or sys.stderr
    info = probe(src)
    if max_seconds is not None and info.seconds > max_seconds:
        raise VideoError(f"--input {src}: {info.seconds:.1f} s long, more than the "
                         f"{max_seconds:g} s limit; cut it shorter")
    gif = dst.lower().endswith(".gif")
    summary = VideoSummary(dst, total=info.frames, track=track)
    silent = dst + ".partial" + (".gif" if gif else ".mp4")
    frames_in, frames_out = queue.Queue(QUEUE), queue.Queue(QUEUE)
    stop, errors = threading.Event(), []
    container = _open(src)
    reader = threading.Thread(target=_reader, args=(container, info.rotation, frames_in, stop),
                              daemon=True)
    writer, writer_thread = None, None
    bar = Progress(max(info.frames, 1), "frames", stream, unit="frames/s")
    start = time.perf_counter()
    reader.start()
    try:
        done = False
        while not done:
            batch = []
            while len(batch) < batch_size:
                item = frames_in.get()
                if isinstance(item, Exception):
                    raise VideoError(f"--input {src}: decoding failed at frame "
                                     f"{summary.frames + len(batch)} ({_reason(item)})")
                if item is None:
                    done = True
                    break
                batch.append(item)
            if not batch:
                break
            boxes = [track(f) if track else None for f in batch]
            out = translate(batch, boxes)
            if writer is None:
                h, w = out[0].shape[:2]
                writer = (_GifWriter(silent, _gif_durations(src)) if gif else
                          _Mp4Writer(silent, info.fps, w, h))
                writer_thread = threading.Thread(target=_writer,
                                                 args=(writer, frames_out, errors))
                writer_thread.start()
            for frame in out:
                frames_out.put(frame)
            summary.frames += len(out)
            bar.total = max(bar.total, summary.frames)
            bar.update(summary.frames if not done else bar.total)
            if progress is not None:
                progress(summary.frames, bar.total)
            if errors:
                raise VideoError(f"{dst}: encoding failed ({_reason(errors[0])})")
    except KeyboardInterrupt:
        summary.stopped = True
    except BaseException:
        _finish(stop, reader, container, frames_in, frames_out, writer_thread, writer, errors)
        if os.path.exists(silent):
            os.remove(silent)
        raise
    _finish(stop, reader, container, frames_in, frames_out, writer_thread, writer, errors)
    try:
        if errors:
            raise VideoError(f"{dst}: encoding failed ({_reason(errors[0])})")
        if summary.frames == 0:
            if summary.stopped:
                raise KeyboardInterrupt  # stopped before the first frame: nothing to keep
            raise VideoError(f"--input {src}: no frame was translated; nothing written")
        tmp = dst + ".partial.audio.mp4"
        if info.audio and not gif:
            try:
                summary.audio = add_audio(silent, src, tmp)
                os.replace(tmp, silent)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        os.replace(silent, dst)
    finally:
        if os.path.exists(silent):
            os.remove(silent)
    summary.seconds = time.perf_counter() - start
    if summary.stopped:
        stream.write(summary.line() + "\n")
        stream.flush()
        raise KeyboardInterrupt
    return summary


def _finish(stop, reader, container, frames_in, frames_out, writer_thread, writer, errors):
    stop.set()
    while reader.is_alive():  # let a reader blocked on a full queue see the stop
        try:
            frames_in.get(timeout=0.05)
        except queue.Empty:
            pass
    container.close()
    if writer_thread is not None:
        frames_out.put(None)
        writer_thread.join()
        try:
            writer.close()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)


def frame_translator(run, img_size: int, pipeline, faces=None) -> Translate:
    """``translate(frames, boxes)`` for :func:`translate_video` from a runner: the whole
    frame (resized back to the frame's size), or with ``faces`` the crop (img_size square), or
    with its ``paste_back`` the frame with the translated crop blended in."""
    from ppugatit.data.dataset import resize
    from ppugatit.face import compose, view

    def translate(frames: list[np.ndarray], boxes: list[Box | None]) -> list[np.ndarray]:
        views = [view(f, b) for f, b in zip(frames, boxes)]
        fakes = pipeline.to_uint8(run(np.stack([pipeline.prepare(v, img_size)
                                                for v in views]))[0])
        if faces is not None and faces.paste_back:
            return [compose(f, [(b, fake)]) for f, b, fake in zip(frames, boxes, fakes)]
        if faces is not None:
            return list(fakes)
        return [resize(fake, f.shape[:2]) for f, fake in zip(frames, fakes)]
    return translate


def translate_videos(videos: list[tuple[str, str]], run, img_size: int, output: str,
                     batch_size: int, faces, pipeline, stream: TextIO | None = None,
                     max_seconds: float | None = None) -> str:
    """Each ``(file, name)`` of ``videos`` into ``output/<name>.mp4`` (or ``.gif``); one line
    per video on ``stream``, and the summary line returned."""
    stream = stream or sys.stderr
    if faces is not None and faces.all_faces:
        raise VideoError("--all-faces is for pictures: a video follows one face")
    translate = frame_translator(run, img_size, pipeline, faces)
    done = []
    for src, name in videos:
        dst = os.path.join(output, output_name(name))
        if os.path.abspath(dst) == os.path.abspath(src):
            raise VideoError(f"--output {output} would overwrite the input {src}; choose "
                             f"another output folder")
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        track = FaceTrack(float(probe(src).fps)) if faces is not None else None
        summary = translate_video(src, dst, translate, max(batch_size, 1), track, stream,
                                  max_seconds)
        stream.write(summary.line() + "\n")
        stream.flush()
        done.append(summary)
    frames = sum(s.frames for s in done)
    seconds = sum(s.seconds for s in done)
    return (f"translated {len(done)} video(s), {frames} frames, into {output} in "
            f"{seconds:.1f} s ({frames / max(seconds, 1e-9):.2f} frames/s)")
