"""How the face crop does on real photographs inside the scikit-image wheel and on synthetic
pictures, and the before/after figure of docs/inference.md.

    python research/measure_faces.py
    python research/measure_faces.py --weights output/demo/weights.pdparams --figure docs/face_crop.png

Rows: picture, faces expected (a person's face counted by eye), faces found, whether the
largest covers the eyes and mouth marked by hand (astronaut), seconds. The LFW
subset (scikit-image's 100 faces and 100 non-faces, 25 px) is enlarged to 100 px on a 200 px
frame, since the detector looks for faces of 32 px and more.
"""
import argparse
import os
import time

import cv2
import numpy as np

from ppugatit.cli import run


# skimage.data.astronaut(): the eyes and the mouth, marked by hand (as in tests/test_face.py)
MARKS = [(203, 102), (247, 103), (223, 147)]


def pictures() -> list[tuple[str, np.ndarray, int, list]]:
    from skimage import data

    astronaut = data.astronaut()
    head = astronaut[30:210, 130:320]
    group = np.full((480, 720, 3), 180, np.uint8)
    for (x, y), scale in (((30, 40), 1.0), ((300, 120), 0.8), ((520, 260), 0.6)):
        h, w = int(head.shape[0] * scale), int(head.shape[1] * scale)
        group[y:y + h, x:x + w] = cv2.resize(head, (w, h), interpolation=cv2.INTER_AREA)
    phone = np.full((1200, 1600, 3), 200, np.uint8)
    phone[100:1100, 300:1300] = cv2.resize(astronaut, (1000, 1000))
    rng = np.random.default_rng(0)
    scale = 1000 / 512
    return [("astronaut (photo, 512x512)", astronaut, 1, MARKS),
            ("astronaut in a 1600x1200 frame", phone, 1,
             [(300 + x * scale, 100 + y * scale) for x, y in MARKS]),
            ("astronaut turned 90 degrees", np.ascontiguousarray(np.rot90(astronaut)), 1,
             [(y, 511 - x) for x, y in MARKS]),
            ("camera (photo, a man in profile)", cv2.cvtColor(data.camera(),
                                                              cv2.COLOR_GRAY2RGB), 1, None),
            ("coffee (photo)", data.coffee(), 0, None),
            ("chelsea (photo, a cat)", data.chelsea(), 0, None),
            ("rocket (photo)", data.rocket(), 0, None),
            ("three heads, 1 : 0.8 : 0.6 (synthetic)", group, 3, None),
            ("grey (synthetic)", np.full((300, 400, 3), 128, np.uint8), 0, None),
            ("noise (synthetic)", rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), 0, None)]


def lfw(first: int) -> list[np.ndarray]:
    from skimage import data

    path = os.path.join(os.path.dirname(data.__file__), "lfw_subset.npy")
    faces = np.load(path)[first:first + 100]
    out = []
    for f in faces:
        big = cv2.resize((f * 255).astype(np.uint8), (100, 100), interpolation=cv2.INTER_LINEAR)
        out.append(cv2.cvtColor(np.pad(big, 50, mode="edge"), cv2.COLOR_GRAY2RGB))
    return out


def figure(weights: str, path: str) -> None:
    """Photo with the face box and the crop square; the crop; the translation (with the
    CAM heatmap); the translation pasted back."""
    from ppugatit.app.engine import Engine
    from ppugatit.data.dataset import resize
    from ppugatit.data.image_io import write_image
    from ppugatit.face import compose, crop, crop_box, detect_faces
    from ppugatit.visual import overlay

    photo = pictures()[1][1]
    engine = Engine(weights, device="cpu")
    face = detect_faces(photo)[0]
    box = crop_box(face)
    part = crop(photo, box)
    fake, heat = engine.translate(part, engine.directions[0])
    marked = photo.copy()
    x, y, w, h = face
    cv2.rectangle(marked, (x, y), (x + w, y + h), (0, 200, 0), 6)
    cv2.rectangle(marked, (box.x, box.y), (box.x + box.size, box.y + box.size), (230, 0, 0), 6)
    side = 384
    panels = [resize(marked, (side, side * 4 // 3))[:, :, :], resize(part, (side, side)),
              resize(fake, (side, side)), overlay(resize(part, (side, side)), heat),
              resize(compose(photo, [(box, fake)]), (side, side * 4 // 3))]
    write_image(path, np.concatenate(panels, axis=1))


def main(args) -> None:
    from timing import machine
    from ppugatit.face import detect_faces

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    print("| picture | faces expected | faces found | largest on the marked face | seconds |\n"
          "|---|---|---|---|---|")
    detect_faces(pictures()[0][1])
    for name, picture, expected, marks in pictures():
        tic = time.perf_counter()
        found = detect_faces(picture)
        seconds = time.perf_counter() - tic
        on_face = "" if marks is None else "no" if not found else "yes" if all(
            found[0][0] <= x < found[0][0] + found[0][2] and
            found[0][1] <= y < found[0][1] + found[0][3] for x, y in marks) else "no"
        print(f"| {name} | {expected} | {len(found)} | {on_face} | {seconds:.2f} |")
    hits = sum(bool(detect_faces(p)) for p in lfw(0))
    false = sum(bool(detect_faces(p)) for p in lfw(100))
    print(f"| LFW subset: 100 faces | 100 | {hits} with a face | | |")
    print(f"| LFW subset: 100 non-faces | 0 | {false} with a face | | |")
    if args.figure:
        if not args.weights:
            raise SystemExit("--figure needs --weights")
        figure(args.weights, args.figure)
        print(f"wrote {args.figure}")


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--weights", help="weights for the figure's translation")
parser.add_argument("--figure", help="write the before/after figure here")
run(lambda: main(parser.parse_args()))
