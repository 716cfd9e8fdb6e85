"""docs/precision.png and the gate table of docs/inference.md: held-apart demo pictures
translated by the float32, int8, bf16 and fp16 forms of a trained model, and by an int8 form
calibrated on blank pictures (which the gate refuses).

    python research/precision_figure.py --weights tests/fixtures/demo_trained/weights.pdparams
    python research/precision_figure.py --weights RUN/weights.pdparams \
        --pictures QUALITY_TASK/testA --output /tmp/precision_quality.png
"""
import argparse
import os
import tempfile

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ppugatit.data.demo import ensure_demo_dataset  # noqa: E402
from ppugatit.data.image_io import list_images  # noqa: E402
from ppugatit.export.predictors import OnnxPredictor, Predictor  # noqa: E402
from ppugatit.export.program import export_model  # noqa: E402
from ppugatit.inference import load_model  # noqa: E402
from ppugatit.pipelines import PIPELINES  # noqa: E402
from ppugatit.precision import (convert_fp16, describe, gate_figures, load_batch,  # noqa: E402
                                quantize_int8, split_pictures, translate)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--weights", required=True)
parser.add_argument("--pictures", help="test pictures of the source domain (default: the "
                    "built-in demo's testA)")
parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "..",
                                                     "precision.png"))
args = parser.parse_args()

pipeline = PIPELINES["ours"]
work = tempfile.mkdtemp(prefix="precision-figure-")
model = load_model(args.weights)
size = int(model.cfg.model.img_size)
test = args.pictures or os.path.join(ensure_demo_dataset(os.path.join(work, "demo")), "testA")
calib_files, held_files = split_pictures(list_images(test))
calibration, held = load_batch(calib_files, size, pipeline), load_batch(held_files, size, pipeline)
export_model(model, work)
export_model(model, work, fmt="onnx")
fp32_path = os.path.join(work, "inference.onnx")
quantize_int8(fp32_path, os.path.join(work, "int8.onnx"), calibration, "real")
quantize_int8(fp32_path, os.path.join(work, "blank.onnx"), np.ones_like(calibration), "real")
convert_fp16(fp32_path, os.path.join(work, "fp16.onnx"))
ref = translate(OnnxPredictor(fp32_path), held)
forms = {"int8": translate(OnnxPredictor(os.path.join(work, "int8.onnx")), held),
         "bf16": translate(Predictor(work, precision="bf16"), held),
         "fp16": translate(OnnxPredictor(os.path.join(work, "fp16.onnx")), held),
         "int8, blank calibration": translate(OnnxPredictor(os.path.join(work, "blank.onnx")),
                                              held)}
for name, out in forms.items():
    f = gate_figures(ref, out, pipeline)
    print(f"{name:<24} {'pass' if f['passed'] else 'REFUSED'}: {describe(f)}")

columns = [("input", held), ("float32", ref), *forms.items()]
shown = 4
fig, axes = plt.subplots(shown, len(columns) + 1, figsize=(2 * (len(columns) + 1), 2 * shown))
for row in range(shown):
    for col, (name, batch) in enumerate(columns):
        axes[row, col].imshow(pipeline.to_uint8(batch[row:row + 1])[0])
        axes[0, col].set_title(name, fontsize=8)
    diff = np.abs(pipeline.to_uint8(forms["int8"][row:row + 1])[0].astype(int)
                  - pipeline.to_uint8(ref[row:row + 1])[0].astype(int))
    axes[row, -1].imshow(np.clip(diff * 8, 0, 255).astype(np.uint8))
    axes[0, -1].set_title("|int8 - float32| x 8", fontsize=8)
for ax in axes.flat:
    ax.axis("off")
fig.tight_layout()
fig.savefig(args.output, dpi=100)
print("wrote", os.path.normpath(args.output))
