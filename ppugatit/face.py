"""Face-aware preprocessing: cut a photo to the framing the selfie2anime models were trained on.

selfie2anime's pictures are tightly cropped, centred faces; a phone photo fed whole (a room
behind, the face a tenth of the frame) translates poorly. So, as photo2cartoon does in front of
its U-GAT-IT: find the face, cut a square around it with the data set's margin, translate that,
and on request paste the translation back into the photo under a soft mask.

The detector is OpenCV's LBP frontal-face cascade as shipped inside the scikit-image wheel
(``skimage.data.lbp_frontal_face_cascade_filename``) and run by ``skimage.feature.Cascade``:
nothing is downloaded (opencv-python 5 no longer bundles its cascades).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, TextIO

import cv2
import numpy as np

from ppugatit.data.image_io import shrink_to_side

# detection runs on the picture shrunk to this long side: a few tenths of a second on a CPU
DETECT_SIDE = 512
# the smallest face searched for, in pixels of the shrunk picture
MIN_FACE = 32
# window scale step and the overlapping hits a face needs: measured on scikit-image's LFW subset
# (100 faces, 100 non-faces) and its photographs, see docs/inference.md
SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 8
# with all_faces, faces less than half as wide as the largest are dropped (a group photo's faces
# are of a size; the background's false hits are small)
MIN_RELATIVE_SIZE = 0.5
# crop side / face box side, and the crop centre's shift up, in face box sides: the cascade's
# box spans brows to mouth; selfie2anime's trainA frames the whole head, hair and chin, with
# the face box about half the picture wide
CROP_SCALE = 2.0
CROP_SHIFT_UP = 0.1
# the soft mask's ramp, as a fraction of the crop side, when pasting back
FEATHER = 0.12


class Box(NamedTuple):
    """A square in the photo's pixels; it may reach past the photo's edges."""
    x: int
    y: int
    size: int


@lru_cache(maxsize=1)
def _cascade():
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade
    return Cascade(lbp_frontal_face_cascade_filename())


def _overlap(a: tuple, b: tuple) -> float:
    """Intersection over the smaller box (a duplicate hit sits inside the bigger one)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / min(aw * ah, bw * bh)


def detect_faces(img: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Faces in an RGB uint8 picture as ``(x, y, w, h)`` in its pixels, largest first."""
    h, w = img.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(h, w))
    grey = shrink_to_side(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), DETECT_SIDE)
    if min(grey.shape) < MIN_FACE:
        return []
    hits = _cascade().detect_multi_scale(
        img=grey, scale_factor=SCALE_FACTOR, step_ratio=1, min_size=(MIN_FACE, MIN_FACE),
        max_size=grey.shape, min_neighbor_number=MIN_NEIGHBORS)
    boxes = sorted(((d["c"], d["r"], d["width"], d["height"]) for d in hits),
                   key=lambda b: b[2] * b[3], reverse=True)
    kept: list[tuple] = []
    for box in boxes:
        if all(_overlap(box, k) < 0.5 for k in kept):
            kept.append(box)
    return [tuple(int(round(v / scale)) for v in box) for box in kept]


def crop_box(face: tuple[int, int, int, int], scale: float = CROP_SCALE,
             shift_up: float = CROP_SHIFT_UP) -> Box:
    """The square cut around a face box in the selfie2anime framing."""
    x, y, w, h = face
    side = max(w, h)
    size = max(1, int(round(side * scale)))
    cx, cy = x + w / 2.0, y + h / 2.0 - shift_up * side
    return Box(int(round(cx - size / 2.0)), int(round(cy - size / 2.0)), size)


def crop(img: np.ndarray, box: Box) -> np.ndarray:
    """The square ``box`` of ``img``; parts past the edges repeat the edge pixels."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box.x, box.y, box.x + box.size, box.y + box.size
    inside = img[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
    return cv2.copyMakeBorder(inside, max(-y0, 0), max(y1 - h, 0), max(-x0, 0), max(x1 - w, 0),
                              cv2.BORDER_REPLICATE)


def soft_mask(size: int, feather: float = FEATHER) -> np.ndarray:
    """``size`` x ``size`` float32 weights: 1 inside, a cosine ramp to 0 at the edges."""
    ramp = max(1, int(round(size * feather)))
    d = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    edge = 0.5 - 0.5 * np.cos(np.pi * np.clip(d / ramp, 0.0, 1.0))
    return np.outer(edge, edge)


def paste(img: np.ndarray, patch: np.ndarray, box: Box, feather: float = FEATHER) -> np.ndarray:
    """A copy of ``img`` with ``patch`` (resized to the box) blended in at ``box``."""
    from ppugatit.data.dataset import resize

    out = img.copy()
    h, w = img.shape[:2]
    patch = resize(patch, (box.size, box.size)).astype(np.float32)
    mask = soft_mask(box.size, feather)[:, :, None]
    x0, y0 = max(box.x, 0), max(box.y, 0)
    x1, y1 = min(box.x + box.size, w), min(box.y + box.size, h)
    if x1 <= x0 or y1 <= y0:
        return out
    sy, sx = slice(y0 - box.y, y1 - box.y), slice(x0 - box.x, x1 - box.x)
    m = mask[sy, sx]
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(patch[sy, sx] * m + region * (1.0 - m) + 0.5, 0, 255
                                ).astype(np.uint8)
    return out


@dataclass
class FaceCrop:
    """What ``--face-crop`` asks for: the largest face (or every face), pasted back or not."""
    all_faces: bool = False
    paste_back: bool = False

    def boxes(self, img: np.ndarray, name: str = "the picture",
              stream: TextIO | None = None) -> list[Box | None]:
        """Crop boxes, largest face first; ``[None]`` (the whole picture) when no face is
        found, which is said on ``stream``."""
        faces = detect_faces(img)
        if not faces:
            stream = stream or sys.stderr
            stream.write(f"no face found in {name}; translating the whole picture\n")
            stream.flush()
            return [None]
        if not self.all_faces:
            faces = faces[:1]
        else:
            largest = faces[0][2]
            faces = [f for f in faces if f[2] >= MIN_RELATIVE_SIZE * largest]
        return [crop_box(f) for f in faces]


def view(img: np.ndarray, box: Box | None) -> np.ndarray:
    """What the network sees of ``img``: the crop, or the whole picture."""
    return img if box is None else crop(img, box)


def compose(img: np.ndarray, results: list[tuple[Box | None, np.ndarray]]) -> np.ndarray:
    """The photo with each translated crop pasted back (a whole-picture translation is just
    resized to the photo)."""
    from ppugatit.data.dataset import resize

    out = img
    for box, result in results:
        out = resize(result, img.shape[:2]) if box is None else paste(out, result, box)
    return out


def add_arguments(parser) -> None:
    """``--face-crop``, ``--all-faces``, ``--paste-back`` for the inference tools."""
    parser.add_argument("--face-crop", "--face_crop", action="store_true", help="translate the "
                        "largest face, cut square with the selfie2anime margin "
                        "(ppugatit/face.py); pictures without a face are named and translated "
                        "whole")
    parser.add_argument("--all-faces", "--all_faces", action="store_true", help="with "
                        "--face-crop: every face, the second as <name>_face2 ...")
    parser.add_argument("--paste-back", "--paste_back", action="store_true", help="with "
                        "--face-crop: write the photo with the translated face(s) pasted in")


def from_arguments(args, parser) -> FaceCrop | None:
    if (args.all_faces or args.paste_back) and not args.face_crop:
        parser.error("--all-faces and --paste-back need --face-crop")
    return FaceCrop(args.all_faces, args.paste_back) if args.face_crop else None
