"""What the web app does with one uploaded clip: check the limits stated on the page, translate
it frame by frame (:mod:`ppugatit.video`) into the request's folder, and say what happened."""
from __future__ import annotations

import io
import os
from typing import Callable

from ppugatit.app.engine import Engine
from ppugatit.errors import UserError
from ppugatit.face import FaceCrop
from ppugatit.video import (FaceTrack, frame_translator, is_video, output_name, probe,
                            translate_video)

MAX_SECONDS = 20.0
MAX_SIDE = 1920  # a 4K clip is refused: shrink it first
LIMITS = f"up to {MAX_SECONDS:g} s and {MAX_SIDE} px on the long side"


def translate_clip(engine: Engine, path: str, direction: str, face_crop: bool,
                   paste_back: bool, folder: str,
                   progress: Callable[[int, int], None] | None = None
                   ) -> tuple[str | None, str]:
    """``(translated clip or None, message)`` for one upload."""
    name = os.path.basename(path)
    if not is_video(path):
        return None, f"- {name}: not a video file (mp4, mov, webm, avi, mkv or gif)"
    try:
        info = probe(path)
        if max(info.width, info.height) > MAX_SIDE:
            return None, (f"- {name}: {info.width}x{info.height} is larger than {MAX_SIDE} px "
                          f"on the long side; shrink it first")
        faces = FaceCrop(False, paste_back) if face_crop else None
        translate = frame_translator(engine.runner(direction), engine.img_size,
                                     engine.pipeline, faces)
        track = FaceTrack(float(info.fps)) if face_crop else None
        summary = translate_video(path, os.path.join(folder, output_name(name)), translate, 1,
                                  track, io.StringIO(), MAX_SECONDS, progress)
    except UserError as e:  # VideoError and the engine's errors: one line for the page
        return None, f"- {e}"
    return summary.path, f"- {name}: {summary.line()}"
