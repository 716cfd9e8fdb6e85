"""Clips the video tests make for themselves: a real face photo sliding across a canvas, with
per-frame noise (so that detections jitter), and a sine tone as the sound."""
from __future__ import annotations

import os
from fractions import Fraction

import av
import cv2
import numpy as np

from conftest import FIXTURES
from ppugatit.data.image_io import read_image

TONE_HZ = 440.0
RATE = 16000


PHOTO_SIDE = 270  # the 180 px astronaut photo at 1.5x: its face is about 52 px wide


def face_frames(n: int, size: tuple[int, int] = (300, 400), seed: int = 0,
                step: int = 2) -> list[np.ndarray]:
    """``n`` RGB frames (height, width = ``size``): the astronaut photo moving right by
    ``step`` pixels a frame, on grey, with noise."""
    h, w = size
    photo = cv2.resize(read_image(os.path.join(FIXTURES, "photos", "astronaut.png")),
                       (PHOTO_SIDE, PHOTO_SIDE), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        canvas = np.full((h, w, 3), 128, np.uint8)
        x, y = min(10 + step * i, w - PHOTO_SIDE), 15
        canvas[y:y + PHOTO_SIDE, x:x + PHOTO_SIDE] = photo
        noise = rng.normal(0, 6, canvas.shape)
        frames.append(np.clip(canvas + noise, 0, 255).astype(np.uint8))
    return frames


def write_clip(path: str, frames: list[np.ndarray], fps: int = 24, audio: bool = True,
               codec: str = "libx264", audio_codec: str = "aac") -> None:
    with av.open(path, "w") as out:
        video = out.add_stream(codec, rate=fps)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        sound = out.add_stream(audio_codec, rate=RATE) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            t = np.arange(int(RATE * len(frames) / fps)) / RATE
            samples = (0.3 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
            step = 1024
            for k in range(0, len(samples), step):
                chunk = samples[k:k + step][None, :]
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate = RATE
                frame.pts = k
                frame.time_base = Fraction(1, RATE)
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))


def read_clip(path: str) -> tuple[list[np.ndarray], Fraction, np.ndarray | None]:
    """Frames (RGB), frame rate and the sound's samples (mono float) of a clip."""
    with av.open(path) as clip:
        rate = clip.streams.video[0].average_rate
        frames = [f.to_ndarray(format="rgb24") for f in clip.decode(video=0)]
    with av.open(path) as clip:
        if not clip.streams.audio:
            return frames, rate, None
        chunks = [f.to_ndarray().reshape(-1) for f in clip.decode(audio=0)]
    return frames, rate, np.concatenate(chunks)
