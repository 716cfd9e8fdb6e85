"""A saved Paddle program converted to ONNX, its names and description set, written atomically."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from ppugatit.export.files import ONNX_META_KEY, ExportError, model_files
from ppugatit.utils import atomic_write

ONNX_OPSET = 17


# paddle2onnx aborts the process on an operator it cannot convert: it runs in a child
_CONVERT = """
import sys
import paddle2onnx
data = paddle2onnx.export(sys.argv[1], sys.argv[2], None, opset_version=int(sys.argv[4]),
                          enable_onnx_checker=True)
with open(sys.argv[3], "wb") as f:
    f.write(data)
"""


def _restore_leaky_relu_slopes(graph, program: str) -> None:
    """paddle2onnx 2.1 reads leaky_relu's float64 ``negative_slope`` of a PIR program as a
    float32 bit pattern (0.2 becomes 2.5e-43): put the program's slopes back, in op order."""
    def ops(node):
        if isinstance(node, dict):
            if node.get("#") == "1.leaky_relu":
                yield node
            for value in node.values():
                yield from ops(value)
        elif isinstance(node, list):
            for value in node:
                yield from ops(value)

    with open(program, encoding="utf-8") as f:
        slopes = [a["AT"]["D"] for op in ops(json.load(f)) for a in op.get("A", [])
                  if a.get("N") == "negative_slope"]
    nodes = [n for n in graph.node if n.op_type == "LeakyRelu"]
    if len(nodes) != len(slopes):
        raise ExportError(f"paddle2onnx wrote {len(nodes)} LeakyRelu nodes for the program's "
                          f"{len(slopes)} leaky_relu ops; please report this")
    for node, slope in zip(nodes, slopes):
        for attr in node.attribute:
            if attr.name == "alpha":
                attr.f = slope


def to_onnx(program_dir: str, meta: dict, path: str, opset: int = ONNX_OPSET) -> None:
    """Convert the Paddle program in ``program_dir`` with paddle2onnx, name its inputs and
    outputs after ``meta`` (input ``real`` or ``z``; a batch dimension named ``batch``), store ``meta`` in the file's
    metadata, and write it atomically to ``path``."""
    try:
        import onnx
        import paddle2onnx  # noqa: F401
    except ImportError:
        raise ExportError("--format onnx needs paddle2onnx and onnx: pip install paddle2onnx "
                          "(see requirements.txt)") from None
    program, params = model_files(program_dir)
    raw = os.path.join(program_dir, "raw.onnx")
    proc = subprocess.run([sys.executable, "-c", _CONVERT, program, params, raw, str(opset)],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.isfile(raw):
        errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "ERROR" in line]
        raise ExportError(f"paddle2onnx could not convert the {meta['model']} generator: "
                          f"{(errors or ['exit status %d' % proc.returncode])[0].strip()[:200]}")
    onnx_model = onnx.load(raw)
    graph = onnx_model.graph
    _restore_leaky_relu_slopes(graph, program)
    names = {graph.input[0].name: "real" if meta["input"] == "image" else meta["input"]}
    names.update({o.name: new for o, new in zip(graph.output, meta["outputs"])})
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
    for value in list(graph.input) + list(graph.output):
        value.name = names.get(value.name, value.name)
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    for value in graph.value_info:
        value.name = names.get(value.name, value.name)
    onnx_model.metadata_props.add(key=ONNX_META_KEY, value=json.dumps(meta))
    onnx.checker.check_model(onnx_model)
    atomic_write(path, lambda tmp: onnx.save(onnx_model, tmp))
