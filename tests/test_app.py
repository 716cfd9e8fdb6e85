"""The web app for real: tools/app.py serving on 127.0.0.1, requests sent with gradio_client
(a translation, bad uploads, the next request after them); and the model behind it loaded
from each kind of weights."""
import os

import cv2
import numpy as np
import pytest
from gradio_client import Client, handle_file
from skimage import data

from app_server import AppServer, tiny_weights
from conftest import FIXTURES, ROOT
from ppugatit.data.dataset import resize
from ppugatit.data.image_io import read_image, write_image
from ppugatit.face import crop, crop_box, detect_faces

SIZE = 64


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app")
    server = AppServer(folder, tiny_weights(folder))
    client = Client(server.url, verbose=False, download_files=str(folder / "client"),
                    analytics_enabled=False)
    yield server, client, folder
    server.stop()


def translate(client, *files, face_crop=True, paste_back=False):
    """(input shown, translation, heatmap, downloads, message); the gallery checked here."""
    *result, gallery = client.predict([handle_file(str(f)) for f in files], None, "A2B",
                                      face_crop, False, paste_back, api_name="/translate")
    downloads = result[3] or []
    assert len(gallery or []) == len(downloads)
    for item, path in zip(gallery or [], downloads):
        np.testing.assert_array_equal(read_image(item["image"]), read_image(path))
    return tuple(result)


@pytest.mark.slow
def test_a_face_photo_comes_out_cropped_and_translated(served, tmp_path):
    server, client, _ = served
    photo = tmp_path / "astronaut.png"
    write_image(str(photo), data.astronaut())
    shown, translation, heatmap, files, message = translate(client, photo)
    assert "astronaut.png: 1 face(s) cropped and translated" in message
    seen, out, heat = read_image(shown), read_image(translation), read_image(heatmap)
    assert seen.shape == out.shape == heat.shape == (SIZE, SIZE, 3)
    # what the network saw is the face crop of the photo, not the whole photo
    face = crop(data.astronaut(), crop_box(detect_faces(data.astronaut())[0]))
    assert np.abs(seen.astype(int) - resize(face, (SIZE, SIZE))).max() <= 1
    assert np.abs(out.astype(int) - seen).mean() > 10
    assert len(files) == 1 and os.path.basename(files[0]) == "astronaut_A2B.png"
    np.testing.assert_array_equal(read_image(files[0]), out)

    shown, translation, _, files, message = translate(client, photo, paste_back=True)
    assert read_image(translation).shape == data.astronaut().shape
    assert read_image(files[0]).shape == data.astronaut().shape


@pytest.mark.slow
def test_bad_uploads_get_a_message_and_the_app_keeps_serving(served, tmp_path):
    server, client, _ = served
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    good = tmp_path / "coffee.png"
    write_image(str(good), data.coffee())
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(good.read_bytes()[:40])
    huge = tmp_path / "huge.png"  # 8000x6000, a 48 MP phone photo's size
    big = np.full((6000, 8000, 3), 200, np.uint8)
    big[:, 1000:7000] = cv2.resize(data.astronaut(), (6000, 6000))
    write_image(str(huge), big)
    enormous = tmp_path / "enormous.png"
    write_image(str(enormous), np.zeros((9000, 12000, 3), np.uint8))

    result = translate(client, text)
    assert result[:4] == (None, None, None, None)
    assert "notes.txt: not a picture" in result[4] and "nothing to translate" in result[4]
    result = translate(client, corrupt)
    assert result[1] is None and "corrupt.jpg: not a picture" in result[4]

    shown, translation, _, files, message = translate(client, enormous, huge, good)
    assert "enormous.png: 12000x9000 pixels is more than the app takes" in message
    assert "huge.png: 8000x6000 shrunk to 2048x1536 first" in message
    assert "huge.png: 1 face(s) cropped and translated" in message
    assert "no face found in coffee.png; translating the whole picture" in message
    assert [os.path.basename(f) for f in files] == ["huge_A2B.png", "coffee_A2B.png"]
    assert read_image(translation).shape == (SIZE, SIZE, 3)

    shown, translation, _, files, message = translate(client, good, face_crop=False)
    assert read_image(translation).shape == (SIZE, SIZE, 3) and "face" not in message
    assert "translated 1 picture(s) A2B" in message


@pytest.mark.slow
def test_the_engine_loads_exports_official_weights_and_sagan(tmp_path):
    """One Engine per kind of weights: a Paddle or ONNX export gives the dygraph translation; the official
    .pt translates both ways; SAGAN samples what tools/infer.py --seed writes."""
    from ppugatit.app.engine import Engine
    from ppugatit.config import build_config
    from ppugatit.export.program import export_model
    from ppugatit.inference import infer, load_model

    weights = tiny_weights(tmp_path)
    face = crop(data.astronaut(), crop_box(detect_faces(data.astronaut())[0]))
    dygraph = Engine(weights, device="cpu")
    export_model(load_model(weights), str(tmp_path / "export"), "B2A", with_heatmap=True)
    exported = Engine(str(tmp_path / "export"), device="cpu")
    assert exported.directions == ("B2A",) and exported.img_size == SIZE
    a, a_heat = dygraph.translate(face, "B2A")
    b, b_heat = exported.translate(face, "B2A")
    assert np.abs(a.astype(int) - b).max() <= 1 and np.abs(a_heat - b_heat).max() < 1e-4
    export_model(load_model(weights), str(tmp_path / "onnx"), "B2A", with_heatmap=True,
                 fmt="onnx")
    onnx = Engine(str(tmp_path / "onnx" / "inference.onnx"), device="cpu")
    assert onnx.directions == ("B2A",) and onnx.img_size == SIZE
    c, c_heat = onnx.translate(face, "B2A")
    assert np.abs(a.astype(int) - c).max() <= 1 and np.abs(a_heat - c_heat).max() < 1e-4

    official = Engine(os.path.join(FIXTURES, "ugatit_light_official.pt"),
                      overrides=["model.img_size=128"], device="cpu")
    assert official.directions == ("A2B", "B2A")
    assert official.translate(face, "B2A")[0].shape == (128, 128, 3)

    from ppugatit import checkpoint
    from ppugatit.config import save_config
    from ppugatit.models.sagan.model import SAGAN
    cfg = build_config(os.path.join(ROOT, "configs", "demo_sagan.yaml"),
                       {"model.conv_dim": 8, "model.z_dim": 16,
                        "output_dir": str(tmp_path / "sagan")})
    (tmp_path / "sagan").mkdir()
    checkpoint.save(SAGAN(cfg).weights(), str(tmp_path / "sagan" / "weights.pdparams"))
    save_config(cfg, str(tmp_path / "sagan" / "config.yaml"))
    sampler = Engine(str(tmp_path / "sagan" / "weights.pdparams"), device="cpu")
    infer(str(tmp_path / "sagan" / "weights.pdparams"), str(tmp_path / "samples"), num=1,
          seed=7, device="cpu")
    written = read_image(str(tmp_path / "samples" / "sample_00000.png"))
    np.testing.assert_array_equal(sampler.sample(7), written)
    assert np.abs(sampler.sample(8).astype(int) - sampler.sample(7)).mean() > 1

    from ppugatit.app.ui import build_app, sample_request  # the SAGAN page and its button
    assert "Sample" in str(build_app(sampler, str(tmp_path)).config)
    image, files, message = sample_request(sampler, str(tmp_path), 7)
    np.testing.assert_array_equal(image, written)
    np.testing.assert_array_equal(read_image(files[0]), written)
    assert sample_request(sampler, str(tmp_path), "seven")[2] == (
        "- the seed must be a whole number, got 'seven'")


@pytest.mark.slow
def test_stopping_leaves_nothing_behind(served):
    """Last in this file, on the server the tests above used: the working folder stays empty,
    HOME gets only the libraries' caches (Paddle's, matplotlib's font list), and the app's
    temporary folder (uploads, results) is gone after Ctrl-C."""
    server, _, _ = served
    assert os.listdir(server.tmp)  # uploads and results are kept in TMPDIR while serving
    assert server.stop() == 0, server.output()
    assert os.listdir(server.cwd) == []
    in_home = [os.path.relpath(os.path.join(d, f), server.home)
               for d, _, files in os.walk(server.home) for f in files]
    assert all(p.startswith((".cache/matplotlib/", ".cache/paddle/")) for p in in_home), in_home
    assert os.listdir(server.tmp) == [], os.listdir(server.tmp)


def test_the_video_limits_stated_on_the_page_are_enforced(tmp_path):
    from helpers.clips import write_clip
    from ppugatit.app.engine import Engine
    from ppugatit.app.videos import MAX_SECONDS, translate_clip

    engine = Engine(os.path.join(FIXTURES, "demo_trained", "weights.pdparams"), device="cpu")
    frames = [np.full((48, 64, 3), 90, np.uint8)] * int(4 * (MAX_SECONDS + 1))
    write_clip(str(tmp_path / "long.mp4"), frames, fps=4, audio=False)
    write_clip(str(tmp_path / "huge.mp4"), [np.zeros((16, 1930, 3), np.uint8)] * 2,
               audio=False)
    (tmp_path / "notes.txt").write_text("not a clip")
    out = tmp_path / "out"
    out.mkdir()
    cases = {"long.mp4": "21.0 s long, more than the 20 s limit",
             "huge.mp4": "1930x16 is larger than 1920 px", "notes.txt": "not a video file"}
    for name, message in cases.items():
        path, line = translate_clip(engine, str(tmp_path / name), "A2B", False, False, str(out))
        assert path is None and message in line and "\n" not in line
    assert os.listdir(out) == []
