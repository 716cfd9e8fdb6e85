"""Videos (issue 28): frame count, rate and sound kept; each frame is the picture path's
translation of that frame within codec noise; the face track is steadier than raw detection;
Ctrl-C leaves a playable shorter video or nothing; a GIF stays a GIF; bad inputs are one line
and leave nothing behind. The clips are made here (tests/helpers/clips.py)."""
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from conftest import FIXTURES, ROOT
from helpers.clips import RATE, face_frames, read_clip, write_clip
from ppugatit.data.image_io import read_image, write_image
from ppugatit.face import FaceCrop, detect_faces
from ppugatit.inference import (Options, dygraph_runner, load_model, translate_files,
                                translate_inputs)
from ppugatit.pipelines import PIPELINES
from ppugatit.video import FaceTrack, VideoError, upright, translate_video, frame_translator

TRAINED = os.path.join(FIXTURES, "demo_trained", "weights.pdparams")


@pytest.fixture(scope="module")
def runner():
    model = load_model(TRAINED)
    return dygraph_runner(model.translator("A2B"))


def test_a_clip_keeps_its_frames_rate_and_sound(tmp_path, runner):
    src = str(tmp_path / "clip.mp4")
    write_clip(src, face_frames(24), fps=24)
    line = translate_inputs(src, runner, str(tmp_path / "out"), Options(64))
    assert "translated 1 video(s), 24 frames" in line
    frames, rate, sound = read_clip(str(tmp_path / "out" / "clip.mp4"))
    source_frames, _, source_sound = read_clip(src)
    assert len(frames) == 24 and rate == 24 and frames[0].shape == (300, 400, 3)
    with av.open(str(tmp_path / "out" / "clip.mp4")) as clip:
        assert clip.streams.video[0].codec_context.name == "h264"
        assert clip.streams.video[0].codec_context.pix_fmt == "yuv420p"
    n = min(len(sound), len(source_sound))
    assert n >= 0.95 * RATE and np.abs(sound[:n] - source_sound[:n]).max() == 0  # copied
    # each frame: the picture path's translation of that frame (kept at its size)
    pictures = tmp_path / "frames"
    pictures.mkdir()
    for i in (0, 11, 23):
        write_image(str(pictures / f"{i:02d}.png"), source_frames[i])
    translate_files([(str(pictures / f"{i:02d}.png"), f"{i:02d}.png") for i in (0, 11, 23)],
                    runner, str(tmp_path / "as_pictures"), Options(64, keep_size=True))
    for i in (0, 11, 23):
        expected = read_image(str(tmp_path / "as_pictures" / f"{i:02d}.png")).astype(int)
        assert np.abs(frames[i].astype(int) - expected).mean() < 3  # H.264 at crf 18


@pytest.mark.slow
def test_the_face_track_is_steadier_than_raw_detection():
    still = face_frames(30, step=0, seed=1)  # a still face: any box movement is jitter
    raw = [detect_faces(f)[0] for f in still]
    assert len({r for r in raw}) > 1  # the noise does move the raw boxes
    track = FaceTrack(fps=24, every=1)
    boxes = [track(f) for f in still]
    raw_jitter, smooth_jitter = track.jitter()
    assert raw_jitter > 0 and smooth_jitter < 0.5 * raw_jitter
    assert all(b is not None for b in boxes) and track.no_face == 0
    moving = face_frames(40, step=3)  # a moving face is followed, not left behind
    track = FaceTrack(fps=24)
    last = [track(f) for f in moving][-1]
    x, y, w, h = detect_faces(moving[-1])[0]
    assert abs(last.x + last.size / 2 - (x + w / 2)) < 0.25 * w


@pytest.mark.slow
def test_a_face_lost_falls_back_to_the_whole_frame_after_the_hold():
    frames = face_frames(6) + [np.full((300, 400, 3), 128, np.uint8)] * 60
    track = FaceTrack(fps=24, every=3, hold=1.0)
    boxes = [track(f) for f in frames]
    assert all(b is not None for b in boxes[:6 + 24])  # the last box is kept for a second
    assert all(b is None for b in boxes[-30:]) and track.no_face >= 30


def test_face_crop_with_paste_back_keeps_the_frame_and_says_how_many_had_a_face(tmp_path,
                                                                                runner):
    src = str(tmp_path / "talk.mp4")
    write_clip(src, face_frames(12), audio=False)
    messages = tmp_path / "log.txt"
    with open(messages, "w") as stream:
        translate_inputs(src, runner, str(tmp_path / "out"),
                         Options(64, faces=FaceCrop(False, True)), stream=stream)
    assert "face found in 12/12 frames, box jitter" in messages.read_text()
    frames, _, sound = read_clip(str(tmp_path / "out" / "talk.mp4"))
    assert len(frames) == 12 and frames[0].shape == (300, 400, 3) and sound is None
    corner = frames[0][-20:, -20:].astype(int)  # outside the face: the frame itself
    assert np.abs(corner - 128).mean() < 8


def test_a_gif_stays_a_gif_with_its_frame_times(tmp_path, runner):
    src = tmp_path / "anim.gif"
    pictures = [Image.fromarray(f[::4, ::4]) for f in face_frames(5)]
    pictures[0].save(src, save_all=True, append_images=pictures[1:], duration=80, loop=0)
    translate_inputs(str(src), runner, str(tmp_path / "out"), Options(64))
    with Image.open(tmp_path / "out" / "anim.gif") as out:
        assert out.n_frames == 5 and out.info["duration"] == 80
        assert out.size == (100, 75)


def test_a_folder_mixes_pictures_and_videos(tmp_path, runner):
    folder = tmp_path / "in"
    folder.mkdir()
    write_clip(str(folder / "clip.mov"), face_frames(4), audio=False)
    write_image(str(folder / "photo.png"), face_frames(1)[0])
    line = translate_inputs(str(folder), runner, str(tmp_path / "out"), Options(64))
    assert sorted(os.listdir(tmp_path / "out")) == ["clip.mp4", "photo.png"]
    assert "1 image(s)" in line and "1 video(s), 4 frames" in line


def test_variable_frame_rate_keeps_every_frame(tmp_path, runner):
    src = str(tmp_path / "vfr.mp4")
    with av.open(src, "w") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 128, 96, "yuv420p"
        for i, pts in enumerate([0, 1, 3, 4, 7, 8, 9, 12]):  # gaps: a variable rate
            frame = av.VideoFrame.from_ndarray(np.full((96, 128, 3), 20 * i, np.uint8),
                                               format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 30)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    translate_inputs(src, runner, str(tmp_path / "out"), Options(64))
    frames, _, _ = read_clip(str(tmp_path / "out" / "vfr.mp4"))
    assert len(frames) == 8


def test_rotation_is_turned_as_the_player_turns_it():
    img = np.zeros((2, 3, 3), np.uint8)
    img[0, 0] = 255  # top left
    # FFmpeg's display matrix angle is counter-clockwise; a phone's "rotate 90" clip reads -90
    turned = upright(img, -90 % 360)
    assert turned.shape == (3, 2, 3) and turned[0, -1, 0] == 255  # now top right: clockwise
    assert upright(img, 0) is img


def test_bad_videos_are_one_line_and_leave_nothing(tmp_path, runner):
    good = tmp_path / "good.mp4"
    write_clip(str(good), face_frames(24))
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "cut.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    (tmp_path / "noise.mkv").write_bytes(np.random.default_rng(0).bytes(5000))
    with av.open(str(tmp_path / "sound.mp4"), "w") as out:  # audio only
        sound = out.add_stream("aac", rate=RATE)
        sound.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt",
                                           layout="mono")
        frame.sample_rate, frame.pts = RATE, 0
        out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
    translate = frame_translator(runner, 64, PIPELINES["ours"])
    cases = {"empty.mp4": "the file is empty", "cut.mp4": "not a readable video|decoding failed",
             "noise.mkv": "not a readable video", "sound.mp4": "has no video stream"}
    out = tmp_path / "out"
    out.mkdir()
    for name, message in cases.items():
        with pytest.raises(VideoError, match=message) as e:
            translate_video(str(tmp_path / name), str(out / name), translate)
        assert "\n" not in str(e.value) and name in str(e.value)
    with pytest.raises(VideoError, match=r"1\.0 s long, more than the 0\.5 s limit"):
        translate_video(str(good), str(out / "good.mp4"), translate, max_seconds=0.5)
    assert os.listdir(out) == []


@pytest.mark.slow
def test_ctrl_c_leaves_a_playable_shorter_video(tmp_path):
    src = str(tmp_path / "long.mp4")
    write_clip(src, face_frames(300, step=0), fps=24)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "infer.py"),
                             "--weights", TRAINED, "--input", src, "--output", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "long.mp4.partial.mp4").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-500:]
    # frames were written before the signal: they are kept, as a valid video with its sound
    assert os.listdir(out) == ["long.mp4"]
    frames, rate, sound = read_clip(str(out / "long.mp4"))
    assert 0 < len(frames) < 300 and rate == 24 and sound is not None
    assert abs(len(sound) / RATE - len(frames) / 24) < 0.2  # the sound is cut with the video
    assert "stopped by Ctrl-C after" in err
