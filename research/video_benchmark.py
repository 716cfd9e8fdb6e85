"""Frames/s of translating a clip end to end (decode, translate, encode, sound) against the
translation alone, on the same frames (issue 28: end to end should keep >= 90 %).

    python research/video_benchmark.py --model_dir output/demo/inference --seconds 10
    python research/video_benchmark.py --model_dir output/demo/inference --face-crop
"""
import argparse
import os
import tempfile
import time
from fractions import Fraction

import av
import numpy as np

from ppugatit.forms import open_predictor
from ppugatit.pipelines import PIPELINES
from ppugatit.face import FaceCrop
from ppugatit.video import FaceTrack, frame_translator, translate_video

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model_dir", required=True, help="an export folder (tools/export_model.py)")
parser.add_argument("--seconds", type=float, default=10.0)
parser.add_argument("--fps", type=int, default=24)
parser.add_argument("--size", type=int, default=256, help="the clip's side in pixels")
parser.add_argument("--batch-size", type=int, default=1)
parser.add_argument("--face-crop", action="store_true", help="a face clip (scikit-image's "
                    "astronaut, sliding), the face followed and pasted back; the detection "
                    "counts against end to end only")
args = parser.parse_args()

work = tempfile.mkdtemp(prefix="video-bench-")
src = os.path.join(work, "clip.mp4")
n = int(args.seconds * args.fps)
rng = np.random.default_rng(0)
frames = []
with av.open(src, "w") as out:
    video = out.add_stream("libx264", rate=args.fps)
    video.width = video.height = args.size
    video.pix_fmt = "yuv420p"
    sound = out.add_stream("aac", rate=16000)
    sound.layout = "mono"
    if args.face_crop:
        import cv2
        from skimage import data

        base = cv2.resize(data.astronaut(), (args.size, args.size), interpolation=cv2.INTER_AREA)
    else:
        base = rng.integers(0, 255, (args.size, args.size, 3), np.uint8)
    for i in range(n):
        rgb = np.roll(base, i // 2, axis=1)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, args.fps)
        out.mux(video.encode(frame))
    out.mux(video.encode(None))
    t = np.arange(int(16000 * args.seconds)) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for k in range(0, len(tone), 1024):
        frame = av.AudioFrame.from_ndarray(tone[None, k:k + 1024], format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 16000, k, Fraction(1, 16000)
        out.mux(sound.encode(frame))
    out.mux(sound.encode(None))
with av.open(src) as clip:
    frames = [f.to_ndarray(format="rgb24") for f in clip.decode(video=0)]

predictor = open_predictor(args.model_dir)
faces = FaceCrop(False, True) if args.face_crop else None
translate = frame_translator(predictor, int(predictor.meta["img_size"]),
                             PIPELINES[predictor.meta.get("pipeline", "ours")], faces)
if faces:
    track = FaceTrack(args.fps)
    boxes = [track(f) for f in frames]
else:
    boxes = [None] * len(frames)
translate(frames[:args.batch_size], boxes[:args.batch_size])  # warm-up
start = time.perf_counter()
for i in range(0, len(frames), args.batch_size):
    translate(frames[i:i + args.batch_size], boxes[i:i + args.batch_size])
alone = len(frames) / (time.perf_counter() - start)
summary = translate_video(src, os.path.join(work, "out.mp4"), translate, args.batch_size,
                          FaceTrack(args.fps) if faces else None)
end_to_end = summary.frames / summary.seconds
print(f"{n} frames of {args.size} px, {args.model_dir} under {predictor.runtime}/"
      f"{predictor.precision}: translation alone {alone:.2f} frames/s, end to end "
      f"{end_to_end:.2f} frames/s ({100 * end_to_end / alone:.0f} %), sound {summary.audio}"
      + (f"; {summary.line().split('; ', 1)[1]}" if faces else ""))
