"""The AI Studio notebook runs end to end (CPU, the demo config, a few iterations) and shows
the translated pictures; executed for real with nbclient so it cannot silently rot."""
import os
import zipfile

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import FIXTURES, ROOT
from ppugatit.alignment import load_fixture, recorded_keys
from ppugatit.data.demo import ensure_demo_dataset

NOTEBOOK = os.path.join(ROOT, "notebooks", "ugatit_aistudio.ipynb")


def with_parameters(nb, values: dict):
    """What papermill does: a cell setting ``values`` right after the "parameters" cell."""
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "the notebook needs exactly one cell tagged 'parameters'"
    source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(tagged[0] + 1, cell)
    return nb


def outputs(nb, cell_index=None):
    cells = nb.cells if cell_index is None else [nb.cells[cell_index]]
    return [o for c in cells if c.cell_type == "code" for o in c.get("outputs", [])]


def test_parameters_cell_holds_every_setting():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert params.source == code[0]
    names = [line.split("=")[0].strip() for line in params.source.splitlines()
             if "=" in line and not line.startswith("#")]
    assert {"REPO_DIR", "DATA_ZIP", "CONFIG", "OUTPUT_DIR", "ITERATIONS"} <= set(names)
    for source in code[1:]:  # no path below the parameters
        assert "/home/aistudio" not in source and "configs/" not in source


@pytest.mark.slow
def test_notebook_runs_from_a_zip_and_shows_translations(tmp_path):
    demo = ensure_demo_dataset(str(tmp_path / "demo"))
    archive = tmp_path / "data" / "demo.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:  # one top folder, as data set zips usually are
        for folder, _, files in os.walk(demo):
            for f in files:
                path = os.path.join(folder, f)
                z.write(path, os.path.join("demo", os.path.relpath(path, demo)))
    nb = with_parameters(nbformat.read(NOTEBOOK, as_version=4), {
        "REPO_DIR": ROOT, "DATA_ZIP": str(archive), "DATA_DIR": str(tmp_path / "unpacked"),
        "CONFIG": "configs/demo.yaml", "OUTPUT_DIR": str(tmp_path / "out"), "ITERATIONS": 20,
        "LOG_INTERVAL": 10, "SAMPLE_INTERVAL": 10, "SAVE_INTERVAL": 20,
        "EXTRA_OVERRIDES": ["dataset.num_workers=0"], "NUM_SHOW": 3})
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    nbformat.write(nb, str(tmp_path / "executed.ipynb"))

    text = "".join(o.get("text", "") for o in outputs(nb))
    assert "iter 20/20" in text
    assert "translated (A2B) 16 image(s)" in text and "translated (B2A) 16 image(s)" in text
    for name in ("ugatit_light_step.npz", "ugatit_full_step.npz"):  # the notebook's two reports
        n = len(recorded_keys(load_fixture(os.path.join(FIXTURES, name))))
        assert f"{n}/{n} checks pass" in text
    assert text.count("checks pass") == 2
    translate_cell = next(i for i, c in enumerate(nb.cells)
                          if c.cell_type == "code" and "from ppugatit.inference" in c.source)
    shown = [o for o in outputs(nb, translate_cell) if "image/png" in o.get("data", {})]
    assert len(shown) == 2  # one strip of grids per direction
    assert (tmp_path / "out" / "translated" / "A2B" / "A_0000_grid.png").is_file()
    for check in ("forward", "metric", "loss", "bp_align", "train_align"):  # the camp's kit
        assert f"{check:<12} passed" in text
    with zipfile.ZipFile(tmp_path / "out" / "log_reprod.zip") as z:
        names = set(z.namelist())
    assert {"log_reprod/forward_diff.log", "log_reprod/train_align_benchmark.npy"} <= names
    assert len([n for n in names if not n.endswith("/")]) == 15
