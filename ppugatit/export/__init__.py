"""Exporting a generator and running the export, one module per job: ``files`` (an export
folder's names and description), ``program`` (the Paddle program), ``onnx_file`` (its ONNX
conversion), ``predictors`` (Paddle Inference and ONNX Runtime, and which one deploy picks),
``reduced`` (float16 weights; int8, bf16 and fp16 forms behind the quality gate) and
``commands`` (what the export and deploy tools run)."""
