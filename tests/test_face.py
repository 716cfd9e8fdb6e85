"""Face crop: the detector on real photographs (scikit-image's, inside its wheel) and synthetic
cases, the crop and paste-back geometry, and tools/infer.py --face-crop on a folder."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data

from conftest import ROOT, tiny_overrides
from ppugatit import checkpoint
from ppugatit.config import build_config, save_config
from ppugatit.data.image_io import read_image, write_image
from ppugatit.face import Box, FaceCrop, crop, crop_box, detect_faces, paste, soft_mask
from ppugatit.models.ugatit.model import UGATIT

TOOL = os.path.join(ROOT, "tools", "infer.py")
# skimage.data.astronaut(), marked by hand on the picture: eyes, mouth, the top of the hair,
# the chin, and the hair's left and right ends
EYES, MOUTH = [(203, 102), (247, 103)], (223, 147)
HAIR_TOP, CHIN, HAIR_SIDES = 43, 177, (153, 300)


def inside(box, point) -> bool:
    x, y, w, h = box
    return x <= point[0] < x + w and y <= point[1] < y + h


def two_faces():
    """Two copies of the astronaut's head on a plain wall, the second 0.7 times as big, and
    where the hand-marked points of each copy land."""
    head = data.astronaut()[30:210, 130:320]
    wall = np.full((420, 640, 3), 190, np.uint8)
    wall[40:220, 40:230] = head
    small = cv2.resize(head, (133, 126), interpolation=cv2.INTER_AREA)
    wall[200:326, 420:553] = small
    first = [(x - 130 + 40, y - 30 + 40) for x, y in EYES + [MOUTH]]
    second = [((x - 130) * 0.7 + 420, (y - 30) * 0.7 + 200) for x, y in EYES + [MOUTH]]
    return wall, first, second


def test_the_astronaut_face_is_found_and_framed_like_selfie2anime():
    photo = data.astronaut()
    faces = detect_faces(photo)
    assert faces, "no face found in skimage.data.astronaut()"
    assert all(inside(faces[0], p) for p in EYES + [MOUTH])
    box = crop_box(faces[0])
    x0, y0, x1, y1 = box.x, box.y, box.x + box.size, box.y + box.size
    assert y0 <= HAIR_TOP and y1 >= CHIN and x0 <= HAIR_SIDES[0] and x1 >= HAIR_SIDES[1]
    assert box.size < 0.5 * photo.shape[0]  # a tight head crop, not the whole photo


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket"])
def test_photos_without_a_person_have_no_face(name):
    """A cup, a cat and a launch pad: the cascade must not see people in them."""
    assert detect_faces(getattr(data, name)()) == []


def test_no_face_falls_back_to_the_whole_picture_and_says_so(capsys):
    rng = np.random.default_rng(0)
    for picture in (np.full((200, 300, 3), 128, np.uint8),
                    rng.integers(0, 256, (240, 320, 3), dtype=np.uint8),
                    np.zeros((10, 12, 3), np.uint8)):
        assert FaceCrop().boxes(picture, "blank.png") == [None]
    assert capsys.readouterr().err.count(
        "no face found in blank.png; translating the whole picture") == 3


def test_several_faces_the_largest_or_all():
    wall, first, second = two_faces()
    faces = detect_faces(wall)
    assert len(faces) == 2
    assert all(inside(faces[0], p) for p in first)
    assert all(inside(faces[1], p) for p in second)
    assert FaceCrop().boxes(wall) == [crop_box(faces[0])]
    assert FaceCrop(all_faces=True).boxes(wall) == [crop_box(f) for f in faces]


def test_large_photos_are_searched_shrunk_and_boxes_come_back_in_their_pixels():
    photo = cv2.resize(data.astronaut(), (2048, 2048), interpolation=cv2.INTER_LINEAR)
    faces = detect_faces(photo)
    assert faces and all(inside(faces[0], (4 * x, 4 * y)) for x, y in EYES + [MOUTH])


def test_crop_past_the_edges_repeats_the_edge_pixels():
    img = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    out = crop(img, Box(-2, 3, 4))
    assert out.shape == (4, 4, 3)
    np.testing.assert_array_equal(out[:2, 2:], img[3:5, 0:2])  # the part inside
    np.testing.assert_array_equal(out[:2, 0], img[3:5, 0])     # left of the photo: its column 0
    np.testing.assert_array_equal(out[2:, 2:], np.repeat(img[4:5, 0:2], 2, axis=0))  # below


def test_soft_mask_and_paste_back():
    mask = soft_mask(100, feather=0.1)
    assert mask[50, 50] == 1.0 and mask[0, 50] == 0.0 and mask[50, 99] == 0.0
    assert np.all(np.diff(mask[50, :10]) > 0)  # a ramp, no step
    photo = np.full((120, 160, 3), 40, np.uint8)
    patch = np.full((64, 64, 3), 240, np.uint8)
    out = paste(photo, patch, Box(100, -20, 80))  # reaches past the top and right edges
    assert out.shape == photo.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :100], photo[:, :100])  # outside the box: untouched
    np.testing.assert_array_equal(out[70:, :], photo[70:, :])
    assert out[20, 140].tolist() == [240, 240, 240]  # the middle of the box: the patch
    assert 40 < out[20, 103, 0] < 240  # the ramp: a blend
    np.testing.assert_array_equal(photo, np.full((120, 160, 3), 40, np.uint8))  # not in place


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("weights")
    cfg = build_config(os.path.join(ROOT, "configs", "demo.yaml"),
                       {**tiny_overrides(tmp), "model.img_size": 64})
    model = UGATIT(cfg)
    checkpoint.save(model.weights(), str(tmp / "weights.pdparams"))
    save_config(cfg, str(tmp / "config.yaml"))
    return str(tmp / "weights.pdparams"), model


@pytest.mark.slow
def test_infer_face_crop_on_a_folder(tmp_path, tiny_weights):
    """One translation per photo (every face with --all-faces); the faceless one is named and
    translated whole; --paste-back gives the photo with the face replaced."""
    weights, model = tiny_weights
    photos = tmp_path / "photos"
    write_image(str(photos / "astronaut.png"), data.astronaut())
    write_image(str(photos / "coffee.jpg"), data.coffee())
    write_image(str(photos / "two.png"), two_faces()[0])
    proc = subprocess.run([sys.executable, TOOL, "--weights", weights, "--input", str(photos),
                           "--output", str(tmp_path / "out"), "--face-crop", "--all-faces",
                           "--device", "cpu"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "translated (A2B) 3 image(s)" in proc.stdout
    assert f"no face found in {photos / 'coffee.jpg'}; translating the whole picture" in proc.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["astronaut.png", "coffee.jpg", "two.png",
                                                    "two_face2.png"]
    # the astronaut's file is the network's translation of the face crop, not of the photo
    from ppugatit.data.dataset import eval_transform
    from ppugatit.inference import dygraph_runner
    from ppugatit.visual import to_uint8
    run = dygraph_runner(model.translator("A2B"))
    face = crop(data.astronaut(), crop_box(detect_faces(data.astronaut())[0]))
    expected = to_uint8(run(eval_transform(face, 64)[None])[0])[0].astype(int)
    whole = to_uint8(run(eval_transform(data.astronaut(), 64)[None])[0])[0].astype(int)
    got = read_image(str(tmp_path / "out" / "astronaut.png")).astype(int)
    assert np.abs(got - expected).max() <= 1
    assert np.abs(got - whole).mean() > 5 * np.abs(got - expected).mean() + 1

    proc = subprocess.run([sys.executable, TOOL, "--weights", weights, "--input",
                           str(photos / "astronaut.png"), "--output", str(tmp_path / "pasted"),
                           "--face-crop", "--paste-back", "--device", "cpu"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    pasted = read_image(str(tmp_path / "pasted" / "astronaut.png"))
    assert pasted.shape == data.astronaut().shape
    box = crop_box(detect_faces(data.astronaut())[0])
    np.testing.assert_array_equal(pasted[box.y + box.size:], data.astronaut()[box.y + box.size:])
    assert np.abs(pasted[100:140, 200:250].astype(int)
                  - data.astronaut()[100:140, 200:250]).mean() > 10

