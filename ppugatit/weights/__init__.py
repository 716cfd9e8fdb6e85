"""Weights from anywhere: one reader per format, and one function that opens any of them.

``loader.open_weights`` tells the format by the file's content and returns a model ready to
use. The readers: ``torch_pickle`` (the official PyTorch ``.pt``), ``paddle_pickle`` (a
``paddle.save`` file: ours or PaddleGAN's), ``tf_checkpoint`` (a TensorFlow checkpoint bundle);
none of them runs code from a file. Mapping to our networks: ``layout`` (official PyTorch
layout <-> ours), ``pytorch``, ``paddlegan`` and ``tensorflow`` (names and sizes per source).
Nothing is imported here, so that the low-level readers stay importable on their own.
"""
