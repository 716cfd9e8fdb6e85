"""The Gradio page: upload photos (or take one with the webcam), pick the direction and the face
crop, see the input, the translation and the CAM heatmap side by side, download the results.

The model is loaded once (:class:`~ppugatit.app.engine.Engine`) before the page is built. The
app stays off the internet: no analytics, no share link, no server-side rendering (a Node
process), no MCP server. Uploads and results live in one temporary folder, removed at exit.
"""
from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import tempfile


def _work_folder() -> str:
    """The app's temporary folder, removed when the process ends; Gradio's upload cache goes
    inside it (unless the user set GRADIO_TEMP_DIR), which Gradio reads when imported."""
    root = tempfile.mkdtemp(prefix="ppugatit_app_")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(root, "gradio"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    return root


WORK = _work_folder()

import gradio as gr  # noqa: E402

from ppugatit.app.engine import Engine  # noqa: E402
from ppugatit.app.pictures import (MAX_PICTURES, Result, load_upload, new_folder,  # noqa: E402
                                   translate_pictures)
from ppugatit.app.videos import LIMITS, translate_clip  # noqa: E402
from ppugatit.data.image_io import write_image  # noqa: E402
from ppugatit.face import FaceCrop  # noqa: E402

TITLE = "ppugatit: U-GAT-IT translation"
MAX_UPLOAD = "64mb"
SHOWN = 256  # pixels high on the page, whatever img_size is
# results fill their panels (a 64 px translation is a stamp otherwise), pixels kept sharp
CSS = ("#input img, #output img, #heatmap img {width: 100%; height: 100%; object-fit: contain;"
       " image-rendering: pixelated}")


def translate_request(engine: Engine, root: str, files, webcam, direction: str, face_crop: bool,
                      all_faces: bool, paste_back: bool):
    """One click of Translate: the first picture's input, translation and heatmap, the files
    to download, the message, and every translation for the gallery."""
    notes: list[str] = []
    paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in files or []]
    if len(paths) > MAX_PICTURES:
        notes.append(f"{len(paths)} files uploaded; the first {MAX_PICTURES} are translated")
        paths = paths[:MAX_PICTURES]
    pictures = []
    for path in paths:
        img = load_upload(path, notes)
        if img is not None:
            pictures.append((os.path.basename(path), img))
    if webcam is not None:
        pictures.append(("webcam.png", webcam))
    if not pictures:
        notes.append("nothing to translate: upload a photo (JPEG, PNG, ...) or take one with "
                     "the webcam")
        return None, None, None, None, "\n".join(f"- {n}" for n in notes), None
    faces = FaceCrop(all_faces, paste_back) if face_crop else None
    result: Result = translate_pictures(engine, pictures, direction, faces, new_folder(root))
    result.notes[:0] = notes
    result.notes.append(f"translated {len(pictures)} picture(s) {direction} with {engine.name}"
                        + ("" if result.heatmap is not None else " (this model gives no heatmap)"))
    return (result.shown, result.translation, result.heatmap, result.files, result.message,
            result.files)


def video_request(engine: Engine, root: str, clip, direction: str, face_crop: bool,
                  paste_back: bool, progress=gr.Progress()):
    """One click of Translate video: the translated clip (shown and to download), the message."""
    if not clip:
        return None, None, "- nothing to translate: upload a clip (" + LIMITS + ")"
    path = clip if isinstance(clip, str) else getattr(clip, "name", str(clip))

    def report(done: int, total: int) -> None:
        progress(done / max(total, 1), desc=f"frames {done}/{total}")

    out, message = translate_clip(engine, path, direction, face_crop, paste_back,
                                  new_folder(root), report)
    return out, [out] if out else None, message


def sample_request(engine: Engine, root: str, seed):
    """One click of Sample."""
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        return None, None, f"- the seed must be a whole number, got '{seed}'"
    image = engine.sample(seed)
    path = os.path.join(new_folder(root), f"sample_seed{seed}.png")
    write_image(path, image)
    return image, [path], f"- sampled seed {seed} with {engine.name}"


def build_app(engine: Engine, root: str = WORK) -> gr.Blocks:
    """The page for ``engine``: translation, or sampling for a generation model."""
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\n{engine.describe()}")
        if engine.task == "generation":
            with gr.Row():
                seed = gr.Number(value=0, precision=0, label="Seed", elem_id="seed")
                button = gr.Button("Sample", variant="primary", elem_id="run")
            image = gr.Image(label="Sample", format="png", height=SHOWN, elem_id="output")
            files = gr.File(label="Download", file_count="multiple", elem_id="download")
            message = gr.Markdown(elem_id="message")
            button.click(lambda s: sample_request(engine, root, s), [seed],
                         [image, files, message], api_name="sample")
            return demo
        with gr.Tab("Photos"):
            _photo_tab(engine, root)
        with gr.Tab("Video", elem_id="video_tab"):
            _video_tab(engine, root)
    return demo


def _video_tab(engine: Engine, root: str) -> None:
    gr.Markdown(f"A clip {LIMITS}, translated frame by frame with its sound; with the face "
                f"crop the box follows the face smoothly.")
    clip = gr.Video(label="Clip", sources=["upload"], elem_id="clip")
    with gr.Row():
        direction = gr.Radio(list(engine.directions), value=engine.directions[0],
                             label="Direction", elem_id="video_direction")
        face_crop = gr.Checkbox(value=False, label="Follow the face", elem_id="video_face")
        paste_back = gr.Checkbox(value=True, label="Paste back into the frame",
                                 elem_id="video_paste")
    button = gr.Button("Translate video", variant="primary", elem_id="run_video")
    result = gr.Video(label="Translation", elem_id="video_out")
    files = gr.File(label="Download", file_count="multiple", elem_id="video_download")
    message = gr.Markdown(elem_id="video_message")
    # a partial keeps video_request's progress argument visible to Gradio, which fills it
    button.click(functools.partial(video_request, engine, root),
                 [clip, direction, face_crop, paste_back], [result, files, message],
                 api_name="translate_video")


def _photo_tab(engine: Engine, root: str) -> None:
    with gr.Row():
        uploads = gr.File(label="Photos (one or several)", file_count="multiple",
                          elem_id="photos")
        webcam = gr.Image(label="or the webcam", sources=["webcam"], type="numpy",
                          elem_id="webcam")
    with gr.Row():
        direction = gr.Radio(list(engine.directions), value=engine.directions[0],
                             label="Direction", elem_id="direction")
        face_crop = gr.Checkbox(value=True, label="Crop to the face", elem_id="face_crop")
        all_faces = gr.Checkbox(value=False, label="Every face", elem_id="all_faces")
        paste_back = gr.Checkbox(value=False, label="Paste back into the photo",
                                 elem_id="paste_back")
    button = gr.Button("Translate", variant="primary", elem_id="run")
    with gr.Row():
        shown = gr.Image(label="Input (what the network sees)", format="png",
                         height=SHOWN, elem_id="input")
        translation = gr.Image(label="Translation", format="png", height=SHOWN,
                               elem_id="output")
        heatmap = gr.Image(label="CAM heatmap", format="png", height=SHOWN,
                           elem_id="heatmap")
    files = gr.File(label="Download", file_count="multiple", elem_id="download")
    message = gr.Markdown(elem_id="message")
    every = gr.Gallery(label="Every translation (several photos or faces)", columns=8,
                       fit_columns=False, allow_preview=False, object_fit="contain",
                       height=200, format="png", elem_id="every")
    button.click(lambda *args: translate_request(engine, root, *args),
                 [uploads, webcam, direction, face_crop, all_faces, paste_back],
                 [shown, translation, heatmap, files, message, every],
                 api_name="translate")


def launch(demo: gr.Blocks, host: str | None = None, port: int | None = None,
           block: bool = True):
    """Serve ``demo`` locally (share links and anything else reaching out are off)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    return demo.queue(default_concurrency_limit=1).launch(
        server_name=host, server_port=port, share=False, ssr_mode=False, mcp_server=False,
        max_file_size=MAX_UPLOAD, prevent_thread_lock=not block, show_error=True,
        footer_links=["api"], css=CSS)
