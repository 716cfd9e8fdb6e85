"""KID and FID as the U-GAT-IT and NICE-GAN papers compute them (docs/metrics.md).

Kept free of imports so that the numpy-only :mod:`ppugatit.metrics.random_weights` works where
Paddle is not installed (the PyTorch-side fixture script), and tools can name the weights file
in an error without loading Paddle first.
"""

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   + FID_WEIGHTS_FILE)
