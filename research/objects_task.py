"""A translation task with a known answer that trivial outputs cannot game (issue 29).

A *scene* is one to three large objects (a disc, a square or a triangle; centre, size, turn),
each with one of four colours and a look, filled or outlined, on a plain background. Domain A
draws it on light grey; domain B is a fixed function of A, f(A): the same geometry, every
colour mapped by a fixed permutation into B's palette, every filled object outlined and every
outlined one filled, on dark blue. The training sets draw their own scenes in each domain
(unpaired); the test set draws the same scenes in both, so B is the true translation of A.

What a trivial output scores: the mean B picture gets the background right and nothing else;
identity and per-channel colour transfer keep A's looks and move every colour alike. The
object metrics see that: :func:`object_error` is the L1 restricted to the objects (the masks
come with the scene), :func:`object_accuracy` the share of objects whose translation has the
right colour and the right look. No noise, no texture: every pixel of B is predictable from A.
Deterministic from the seed; nothing is shipped.

Variants (:data:`VARIANTS`): ``swap`` is the above. It is not identifiable from unpaired
pictures: when colours and looks are drawn independently of everything else, any bijection of
the palettes and either look map match B's distribution equally well, so the adversarial and
cycle terms cannot tell the right one, and the official trainer's first runs did not find it.
``keep`` keeps each object's look (the choice a translator biased to identity makes).
``coded`` also ties each object's colour to its shape in both domains (a disc is always red in
A and always green in B), so the colour map is the only one that keeps the geometry: f is then
identifiable, and a translator that learns it must read each object's shape.
"""
from __future__ import annotations

import json
import os

import cv2
import numpy as np

from ppugatit.data.image_io import list_images, read_image, write_image

# four colours per domain; B's colour i is A's colour PERMUTATION[i]'s image
PALETTE_A = np.array([[220, 40, 40], [40, 150, 40], [240, 200, 30], [120, 50, 160]], np.float64)
PALETTE_B = np.array([[30, 220, 230], [250, 100, 230], [150, 255, 120], [100, 140, 255]],
                     np.float64)
# a colour counts as one of B's within this L1 distance (0..765): B's colours are 175 or more
# apart, and every colour of A is 205 or more from all of them, so A's colours read as none
RECOGNISED = 80
PERMUTATION = (2, 0, 3, 1)  # A's colour k becomes B's colour PERMUTATION[k]
BACKGROUND = {"A": (200, 200, 200), "B": (20, 30, 70)}
SHAPES = ("disc", "square", "triangle")
COUNTS = {"trainA": 300, "trainB": 300, "test": 32}
# variant -> (f swaps filled <-> outlined, an object's colour is its shape's)
VARIANTS = {"swap": (True, False), "keep": (False, False), "coded": (False, True)}


def make_scene(rng: np.random.Generator, coded: bool = False) -> list[dict]:
    """One to three objects that do not overlap much: what every translation must keep (with
    ``coded``, each object has its shape's colour; the same draws, so the same geometry)."""
    objects: list[dict] = []
    for _ in range(int(rng.integers(1, 4))):
        for _attempt in range(20):
            obj = {"shape": SHAPES[int(rng.integers(3))], "radius": rng.uniform(0.14, 0.22),
                   "centre": rng.uniform(0.25, 0.75, size=2), "turn": rng.uniform(0, 360),
                   "colour": int(rng.integers(4)), "filled": bool(rng.integers(2))}
            if all(np.hypot(*(obj["centre"] - o["centre"])) > 0.9 * (obj["radius"] + o["radius"])
                   for o in objects):
                if coded:
                    obj["colour"] = SHAPES.index(obj["shape"])
                objects.append(obj)
                break
    return objects


def _outline(obj: dict, size: int) -> np.ndarray:
    """The object's polygon (or the disc's as many points) in pixels."""
    cx, cy = obj["centre"] * size
    r = obj["radius"] * size
    corners = {"disc": 48, "square": 4, "triangle": 3}[obj["shape"]]
    angles = np.deg2rad(obj["turn"]) + 2 * np.pi * np.arange(corners) / corners
    return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)


def stroke(size: int) -> int:
    """An outline's width: thick enough to see at 64 px."""
    return max(2, size // 16)


def object_masks(scene: list[dict], size: int) -> list[np.ndarray]:
    """Per object, the pixels it covers in either domain (its filled area and the outer half
    of an outline): where a translation must change."""
    masks = []
    for obj in scene:
        mask = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mask, [np.round(_outline(obj, size) * 16).astype(np.int32)], 1, shift=4)
        reach = stroke(size) // 2 + 1  # an outline's outer half
        mask = cv2.dilate(mask, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
        masks.append(mask.astype(bool))
    return masks


def _looks(obj: dict, domain: str, swap: bool = True) -> tuple[np.ndarray, bool]:
    """The object's colour and whether it is filled, in ``domain``: B is f(A) (with ``swap``
    off, f keeps the look and changes only colours and background)."""
    if domain == "A":
        return PALETTE_A[obj["colour"]], obj["filled"]
    return PALETTE_B[PERMUTATION[obj["colour"]]], obj["filled"] != swap


def render(scene: list[dict], domain: str, size: int, swap: bool = True) -> np.ndarray:
    """One uint8 RGB picture of ``scene`` in ``domain`` ('A' or 'B')."""
    img = np.zeros((size, size, 3), np.uint8)
    img[:] = BACKGROUND[domain]
    for obj in scene:
        colour, filled = _looks(obj, domain, swap)
        points = [np.round(_outline(obj, size) * 16).astype(np.int32)]
        colour = tuple(int(c) for c in colour)
        if filled:
            cv2.fillPoly(img, points, colour, lineType=cv2.LINE_AA, shift=4)
        else:
            cv2.polylines(img, points, True, colour, stroke(size), lineType=cv2.LINE_AA,
                          shift=4)
    return img


def variant_of(name: str) -> tuple[bool, bool]:
    if name not in VARIANTS:
        raise ValueError(f"objects task variant '{name}': use one of {', '.join(VARIANTS)}")
    return VARIANTS[name]


def make_task(size: int, seed: int = 29, variant: str = "swap") -> dict:
    """``{"trainA", "trainB", "testA", "testB"}`` -> uint8 NHWC arrays, ``"scenes"``: the test
    scenes (testA[i] and testB[i] draw scenes[i]), ``"variant"`` and ``"swap"``: whether f
    swaps looks."""
    swap, coded = variant_of(variant)
    out: dict = {"swap": swap, "variant": variant}
    for k, folder in enumerate(("trainA", "trainB")):
        rng = np.random.default_rng([seed, k])
        out[folder] = np.stack([render(make_scene(rng, coded), folder[-1], size, swap)
                                for _ in range(COUNTS[folder])])
    rng = np.random.default_rng([seed, 2])
    scenes = [make_scene(rng, coded) for _ in range(COUNTS["test"])]
    for folder in ("testA", "testB"):
        out[folder] = np.stack([render(s, folder[-1], size, swap) for s in scenes])
    out["scenes"] = scenes
    return out


def ensure_objects_task(root: str, size: int, seed: int = 29, variant: str = "swap") -> str:
    """The task's pictures under ``root`` in the official layout (trainA, trainB, testA,
    testB), written unless that task is there; ``task.json`` says which task a folder holds."""
    wanted = {"trainA": COUNTS["trainA"], "trainB": COUNTS["trainB"],
              "testA": COUNTS["test"], "testB": COUNTS["test"]}
    settings = {"size": size, "seed": seed, "variant": variant}
    stamp = os.path.join(root, "task.json")
    if os.path.exists(stamp):
        with open(stamp, encoding="utf-8") as f:
            held = json.load(f)
        if held != settings:
            raise ValueError(f"{root} holds the objects task {held}, not {settings}: "
                             "choose another folder")
        if all(len(list_images(os.path.join(root, f))) == n for f, n in wanted.items()):
            return root
    task = make_task(size, seed, variant)
    for folder in wanted:
        for i, img in enumerate(task[folder]):
            write_image(os.path.join(root, folder, f"{i:04d}.png"), img)
    with open(stamp + ".tmp", "w", encoding="utf-8") as f:
        json.dump(settings, f)
    os.replace(stamp + ".tmp", stamp)
    return root


def load_test(root: str) -> dict[str, np.ndarray]:
    return {f: np.stack([read_image(p) for p in list_images(os.path.join(root, f))])
            for f in ("testA", "testB")}


# scores of A->B translations of the test scenes
def object_error(fakes: np.ndarray, reals: np.ndarray, scenes: list[dict]) -> float:
    """Mean |fake - true B| (0..255) over the objects' pixels only: the background, which a
    constant output gets right, does not count."""
    errors = []
    for fake, real, scene in zip(fakes, reals, scenes):
        inside = np.any(object_masks(scene, fake.shape[0]), axis=0)
        if inside.any():
            errors.append(np.abs(fake.astype(np.float64) - real.astype(np.float64))[inside].mean())
    return float(np.mean(errors))


def _regions(obj: dict, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A ring just inside the object's edge (an outline's inner half lies there, and a filled
    object's colour) and the interior well inside it, for reading a translation's look."""
    area = np.zeros((size, size), np.uint8)
    cv2.fillPoly(area, [np.round(_outline(obj, size) * 16).astype(np.int32)], 1, shift=4)
    width = max(1, stroke(size) // 2)
    ring = area & ~cv2.erode(area, np.ones((2 * width + 1, 2 * width + 1), np.uint8)) & 1
    core = np.zeros((size, size), np.uint8)
    inner = dict(obj, radius=obj["radius"] * 0.45)
    cv2.fillPoly(core, [np.round(_outline(inner, size) * 16).astype(np.int32)], 1, shift=4)
    return ring.astype(bool), core.astype(bool)


def read_object(fake: np.ndarray, obj: dict) -> tuple[int, bool]:
    """What a translation shows of ``obj``: the colour of B's palette on its outline (-1 for
    none within RECOGNISED), and whether its interior is that colour (filled) or nearer B's
    background (outlined)."""
    band, core = _regions(obj, fake.shape[0])
    x = fake.astype(np.float64)
    edge = np.median(x[band], axis=0)
    distance = np.abs(PALETTE_B - edge).sum(axis=1)
    colour = int(np.argmin(distance)) if distance.min() < RECOGNISED else -1
    if colour < 0:
        return -1, False
    middle = np.median(x[core], axis=0)
    filled = (np.abs(middle - PALETTE_B[colour]).sum()
              < np.abs(middle - np.array(BACKGROUND["B"], np.float64)).sum())
    return colour, bool(filled)


def object_accuracy(fakes: np.ndarray, scenes: list[dict],
                    swap: bool = True) -> dict[str, float]:
    """The share of the test objects whose translation has B's colour for them (``colour``),
    their look in B, filled <-> outlined with ``swap`` (``look``), and both (``object``)."""
    colours = looks = both = total = 0
    for fake, scene in zip(fakes, scenes):
        for obj in scene:
            colour, filled = read_object(fake, obj)
            right_colour = colour == PERMUTATION[obj["colour"]]
            right_look = colour >= 0 and filled == (obj["filled"] != swap)
            colours, looks = colours + right_colour, looks + right_look
            both += right_colour and right_look
            total += 1
    return {"colour": colours / total, "look": looks / total, "object": both / total}


def scores(fakes: np.ndarray, task: dict) -> dict[str, float]:
    """Whole-picture L1, object L1 and the object accuracies of A->B translations of testA."""
    reals = task["testB"]
    accuracy = object_accuracy(fakes, task["scenes"], task["swap"])
    return {"l1": float(np.abs(fakes.astype(np.float64) - reals.astype(np.float64)).mean()),
            "object_l1": object_error(fakes, reals, task["scenes"]),
            "object_accuracy": accuracy["object"], "colour_accuracy": accuracy["colour"],
            "look_accuracy": accuracy["look"]}


def trivial_baselines(task: dict) -> dict[str, dict[str, float]]:
    """What a translator must beat without learning anything: the input itself, per-channel
    colour transfer to B's statistics, and B's mean training picture for every input."""
    from stats import channel_stats, colour_transfer

    test_a = task["testA"]
    mean, std = channel_stats(task["trainB"])
    average = (task["trainB"].astype(np.float64).mean(axis=0) + 0.5).astype(np.uint8)
    return {"identity": scores(test_a, task),
            "colour_transfer": scores(colour_transfer(test_a, mean, std), task),
            "target_mean": scores(np.broadcast_to(average, test_a.shape), task)}
