"""Issue 29's task (research/objects_task.py): B is a known function of A, and its object
metrics tell a learned translation from outputs that learn nothing."""
import numpy as np
import pytest

from objects_task import (PALETTE_A, PALETTE_B, PERMUTATION, SHAPES, ensure_objects_task,
                          load_test, make_task, render, scores, trivial_baselines)


@pytest.fixture(scope="module")
def task():
    return make_task(64)


def test_the_true_translation_scores_perfectly_and_is_a_function_of_a(task):
    assert scores(task["testB"], task) == {"l1": 0.0, "object_l1": 0.0, "object_accuracy": 1.0,
                                           "colour_accuracy": 1.0, "look_accuracy": 1.0}
    again = make_task(64)  # from the seed: the same pixels
    assert np.array_equal(again["testA"], task["testA"])
    assert np.array_equal(again["trainB"], task["trainB"])
    assert not np.array_equal(make_task(64, seed=3)["testA"], task["testA"])
    # the training sets draw scenes of their own: no test picture is among them
    train = {img.tobytes() for img in np.concatenate([task["trainA"], task["trainB"]])}
    assert not train & {img.tobytes() for img in np.concatenate([task["testA"], task["testB"]])}


def test_no_trivial_output_gets_an_object_right(task):
    for name, got in trivial_baselines(task).items():
        assert got["object_accuracy"] == 0, name
        assert got["object_l1"] > 60, name  # the objects are where the error stays
    # the mean B picture wins on whole-picture L1: why L1 alone cannot judge this task
    base = trivial_baselines(task)
    assert base["target_mean"]["l1"] < min(base["identity"]["l1"], base["colour_transfer"]["l1"])


def test_each_half_of_the_translation_is_scored_on_its_own(task):
    """Right colours with the looks kept, and the looks swapped with a wrong colour map: each
    gets its own accuracy and no object counts as right."""
    wrong_map = tuple(int(c) for c in np.roll(PERMUTATION, 1))
    colours_only, looks_only = [], []
    for scene in task["scenes"]:
        kept = [dict(o, filled=not o["filled"]) for o in scene]  # B swaps: this keeps A's look
        colours_only.append(render(kept, "B", 64))
        remapped = [dict(o, colour=PERMUTATION.index(wrong_map[o["colour"]])) for o in scene]
        looks_only.append(render(remapped, "B", 64))
    got = scores(np.stack(colours_only), task)
    assert (got["colour_accuracy"], got["look_accuracy"], got["object_accuracy"]) == (1, 0, 0)
    got = scores(np.stack(looks_only), task)
    assert (got["colour_accuracy"], got["look_accuracy"], got["object_accuracy"]) == (0, 1, 0)
    assert len(PALETTE_A) == len(PALETTE_B) == len(PERMUTATION)


def test_the_task_is_written_in_the_official_layout(tmp_path):
    root = ensure_objects_task(str(tmp_path / "objects"), 32)
    test = load_test(root)
    assert test["testA"].shape == (32, 32, 32, 3) and test["testB"].shape == (32, 32, 32, 3)
    assert np.array_equal(test["testB"], make_task(32)["testB"])


def test_the_variant_that_keeps_looks_scores_looks_as_kept():
    """In ``keep``, f changes colours and background only: B's true pictures score
    perfectly, and a translation that swaps the looks gets no object right."""
    task = make_task(64, variant="keep")
    assert scores(task["testB"], task)["object_accuracy"] == 1.0
    swapped = np.stack([render(s, "B", 64, swap=True) for s in task["scenes"]])
    got = scores(swapped, task)
    assert (got["colour_accuracy"], got["look_accuracy"], got["object_accuracy"]) == (1, 0, 0)


def test_the_coded_variant_ties_colour_to_shape_and_keeps_the_geometry():
    """``coded``: every object has its shape's colour in both domains (so the colour map is
    identifiable from unpaired pictures), on the same scenes as the other variants; trivial
    outputs still get no object right, and giving each shape another shape's colour fails."""
    coded, plain = make_task(64, variant="coded"), make_task(64)
    assert [[(o["shape"], o["centre"].tolist()) for o in s] for s in coded["scenes"]] == [
        [(o["shape"], o["centre"].tolist()) for o in s] for s in plain["scenes"]]
    objects = [o for s in coded["scenes"] for o in s]
    assert {o["shape"] for o in objects} == set(SHAPES)
    assert all(o["colour"] == SHAPES.index(o["shape"]) for o in objects)
    assert scores(coded["testB"], coded)["object_accuracy"] == 1.0
    for name, got in trivial_baselines(coded).items():
        assert got["object_accuracy"] == 0, name
    shifted = [[dict(o, colour=(o["colour"] + 1) % 3) for o in s] for s in coded["scenes"]]
    got = scores(np.stack([render(s, "B", 64, swap=False) for s in shifted]), coded)
    assert (got["colour_accuracy"], got["look_accuracy"]) == (0, 1)


def test_a_folder_holding_another_task_is_refused(tmp_path):
    root = str(tmp_path / "objects")
    ensure_objects_task(root, 32, variant="coded")
    assert ensure_objects_task(root, 32, variant="coded") == root
    with pytest.raises(ValueError, match="holds the objects task .*'coded'.*choose another"):
        ensure_objects_task(root, 32, variant="keep")
    with pytest.raises(ValueError, match="variant 'odd': use one of swap, keep, coded"):
        make_task(32, variant="odd")
