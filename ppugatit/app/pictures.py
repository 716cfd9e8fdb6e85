"""What the web app does with one request, without the web part: read the uploads safely,
crop faces, translate, and write the results for download into the request's temporary folder.

Every problem with one picture becomes a line of the message shown in the page; the other
pictures go on, and the server with them.
"""
from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field

import cv2
import numpy as np

from ppugatit.app.engine import Engine
from ppugatit.data.dataset import resize
from ppugatit.data.image_io import read_image, shrink_to_side, write_image
from ppugatit.face import FaceCrop, compose, view
from ppugatit.visual import overlay

# refused without decoding (the header says the size): an 8000x6000 phone photo is 48 MP
MAX_PIXELS = 100_000_000
# larger photos are shrunk to this long side first: the network sees img_size anyway, and a
# pasted-back result stays a picture a browser shows quickly
MAX_SIDE = 2048
MAX_PICTURES = 16


@dataclass
class Result:
    """The first picture's panels, every download, and the message for the page."""
    shown: np.ndarray | None = None
    translation: np.ndarray | None = None
    heatmap: np.ndarray | None = None
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return "\n".join(f"- {n}" for n in self.notes)


def _header_size(path: str) -> tuple[int, int] | None:
    """(width, height) from the file's header, or None where PIL cannot tell."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception:  # PIL raises many types for files it does not know; OpenCV decides then
        return None


def _upright(img: np.ndarray, path: str) -> np.ndarray:
    """Turned as the EXIF orientation says (phone photos are stored sideways)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            orientation = im.getexif().get(0x0112, 1)
    except Exception:  # no EXIF to read: leave the picture as decoded
        return img
    turns = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_CLOCKWISE, 8: cv2.ROTATE_90_COUNTERCLOCKWISE}
    if orientation in turns:
        return cv2.rotate(img, turns[orientation])
    return img


def load_upload(path: str, notes: list[str]) -> np.ndarray | None:
    """The uploaded picture as RGB uint8 (upright, at most MAX_SIDE), or None with a note."""
    name = os.path.basename(path)
    size = _header_size(path)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        notes.append(f"{name}: {size[0]}x{size[1]} pixels is more than the app takes "
                     f"({MAX_PIXELS // 1_000_000} MP); shrink it and upload it again")
        return None
    img = read_image(path)
    if img is None:
        notes.append(f"{name}: not a picture (corrupt, empty, or not an image format); "
                     f"upload a JPEG or PNG")
        return None
    img = _upright(img, path)
    h, w = img.shape[:2]
    if max(h, w) > MAX_SIDE:
        img = shrink_to_side(img, MAX_SIDE)
        notes.append(f"{name}: {w}x{h} shrunk to {img.shape[1]}x{img.shape[0]} first")
    return img


def translate_pictures(engine: Engine, pictures: list[tuple[str, np.ndarray]], direction: str,
                       faces: FaceCrop | None, folder: str) -> Result:
    """Translate each ``(name, picture)``; results go to ``folder`` as PNGs for download."""
    result = Result()
    for name, img in pictures:
        said = io.StringIO()
        boxes = [None] if faces is None else faces.boxes(img, name, said)
        result.notes += said.getvalue().splitlines()
        parts = [view(img, box) for box in boxes]
        outputs = [engine.translate(part, direction) for part in parts]
        stem = os.path.splitext(name)[0]
        if faces is not None and faces.paste_back:
            images = [compose(img, [(b, o[0]) for b, o in zip(boxes, outputs)])]
        else:
            images = [o[0] for o in outputs]
        for k, image in enumerate(images):
            path = os.path.join(folder, f"{stem}{f'_face{k + 1}' if k else ''}_{direction}.png")
            write_image(path, image)
            result.files.append(path)
        found = sum(b is not None for b in boxes)
        if found:
            result.notes.append(f"{name}: {found} face(s) cropped and translated")
        if result.translation is None:
            seen = resize(parts[0], (engine.img_size, engine.img_size))
            heat = outputs[0][1]
            pasted = faces is not None and faces.paste_back
            result.shown = img if pasted else seen
            result.translation = images[0]
            result.heatmap = None if heat is None else overlay(seen, heat)
    return result


def new_folder(root: str) -> str:
    """A fresh folder for one request's downloads under the app's temporary folder."""
    return tempfile.mkdtemp(prefix="request_", dir=root)
