"""Data: any image OpenCV reads, the official augmentation, clear errors for bad folders."""
import logging
import os

import cv2
import numpy as np
import pytest

from ppugatit.data.dataset import (EndlessDomains, IterationSampler, domain_files,
                                   eval_transform, resize, train_transform)
from ppugatit.data.demo import COUNTS, ensure_demo_dataset
from ppugatit.data.image_io import read_image
from ppugatit.errors import DataError


def write(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return str(path)


def test_grey_rgba_16bit_and_bgr_become_rgb8(tmp_path):
    grey = write(tmp_path / "g.png", np.full((5, 6), 77, np.uint8))
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 0], rgba[..., 2], rgba[..., 3] = 10, 200, 128  # B, R, alpha
    rgba = write(tmp_path / "a.png", rgba)
    deep = write(tmp_path / "d.png", np.full((5, 6, 3), 65535, np.uint16))
    bgr = np.zeros((5, 6, 3), np.uint8)
    bgr[..., 0] = 255  # blue
    bgr = write(tmp_path / "b.bmp", bgr)
    for path in (grey, rgba, deep, bgr):
        img = read_image(path)
        assert img.dtype == np.uint8 and img.shape == (5, 6, 3)
    assert (read_image(grey) == 77).all()
    assert tuple(read_image(rgba)[0, 0]) == (200, 0, 10)
    assert (read_image(deep) == 255).all()
    assert tuple(read_image(bgr)[0, 0]) == (0, 0, 255)


def test_non_ascii_path(tmp_path):
    path = write(tmp_path / "x.png", np.full((4, 4, 3), 9, np.uint8))
    target = tmp_path / "自拍 照片.png"
    os.rename(path, target)
    assert read_image(str(target)).shape == (4, 4, 3)


def test_missing_and_empty_folders_are_named(tmp_path):
    with pytest.raises(DataError, match=f"'{tmp_path / 'trainA'}' does not exist"):
        domain_files(str(tmp_path), "trainA")
    (tmp_path / "trainB").mkdir()
    (tmp_path / "trainB" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match=f"'{tmp_path / 'trainB'}' has no readable images"):
        domain_files(str(tmp_path), "trainB")


def test_unreadable_images_are_skipped_with_a_warning_each(tmp_path, caplog):
    good = write(tmp_path / "trainA" / "good.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "trainA" / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    (tmp_path / "trainA" / "empty.png").write_bytes(b"")
    caplog.set_level(logging.WARNING, logger="ppugatit")
    logging.getLogger("ppugatit").propagate = True
    try:
        assert domain_files(str(tmp_path), "trainA") == [good]
    finally:
        logging.getLogger("ppugatit").propagate = False
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "broken.jpg" in warned and "empty.png" in warned and "good.png" not in warned


def test_official_augmentation_shapes_range_and_flip():
    img = np.zeros((40, 50, 3), np.uint8)
    img[:, :25] = 255  # left half white
    seen_flip = seen_plain = False
    for seed in range(20):
        out = train_transform(img, 16, np.random.default_rng(seed))
        assert out.shape == (3, 16, 16) and out.dtype == np.float32
        assert out.min() >= -1.0 and out.max() <= 1.0
        left, right = out[:, :, :3].mean(), out[:, :, -3:].mean()
        seen_plain |= left > right
        seen_flip |= right > left
    assert seen_flip and seen_plain
    test = eval_transform(img, 16)
    assert test.shape == (3, 16, 16) and test[:, :, 0].max() == 1.0 and test[:, :, -1].min() == -1.0


def test_resize_is_the_official_bilinear_filter():
    """The official Resize is PIL's bilinear filter. Enlarging rounds without bias: the mean is
    within 0.03 levels of the same interpolation in float64 (PIL +0.01; OpenCV's INTER_LINEAR
    on uint8, which we used before, -0.13). Shrinking by 2 spreads each pixel over a triangle
    of support 2 in the source: a white column at x = 5 gives output column 2 weight 3/8 (96)
    and column 3 weight 1/8 (32), where a box filter (INTER_AREA) gives 128 and 0."""
    img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    exact = cv2.resize(img.astype(np.float64), (94, 94), interpolation=cv2.INTER_LINEAR)
    assert abs(resize(img, (94, 94)).mean() - exact.mean()) < 0.03
    line = np.zeros((16, 16, 3), np.uint8)
    line[:, 5] = 255
    small = resize(line, (8, 8)).astype(int)
    assert small.shape == (8, 8, 3)
    assert np.abs(small[4, 2] - 96).max() <= 1 and np.abs(small[4, 3] - 32).max() <= 1
    assert small[4, 1].max() == 0


def test_samples_are_a_function_of_their_index(tmp_path):
    root = ensure_demo_dataset(str(tmp_path / "demo"), size=32)
    files = {d: domain_files(root, "train" + d) for d in "AB"}
    one = EndlessDomains(files, 16, seed=3)
    two = EndlessDomains(files, 16, seed=3)
    for i in (0, 5, 400, 7):
        np.testing.assert_array_equal(one[i]["A"], two[i]["A"])
    assert not np.array_equal(one[0]["A"], one[1]["A"])
    # one epoch of a domain visits every file once
    n = len(files["A"])
    picked = {one.file_for(0, "A", i) for i in range(n)}
    assert picked == set(files["A"])


def test_sampler_resumes_the_sequence_and_splits_ranks():
    full = list(IterationSampler(0, 6, 2))
    assert full[3:] == list(IterationSampler(3, 6, 2))
    rank0, rank1 = list(IterationSampler(0, 3, 2, 0, 2)), list(IterationSampler(0, 3, 2, 1, 2))
    flat0 = {i for b in rank0 for i in b}
    flat1 = {i for b in rank1 for i in b}
    assert not flat0 & flat1 and len(flat0 | flat1) == 12


def test_demo_dataset_is_deterministic_and_complete(tmp_path):
    a = ensure_demo_dataset(str(tmp_path / "a"))
    b = ensure_demo_dataset(str(tmp_path / "b"))
    for folder, n in COUNTS.items():
        names = sorted(os.listdir(os.path.join(a, folder)))
        assert len(names) == n
        assert np.array_equal(read_image(os.path.join(a, folder, names[3])),
                              read_image(os.path.join(b, folder, names[3])))
    # the two domains differ in palette: A is warm and light, B cool and dark
    img_a = read_image(os.path.join(a, "trainA", "A_0000.png")).astype(float)
    img_b = read_image(os.path.join(a, "trainB", "B_0000.png")).astype(float)
    assert img_a.mean() > img_b.mean() + 80
    assert img_b[..., 2].mean() > img_b[..., 0].mean()
