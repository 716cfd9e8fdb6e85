"""ppugatit: U-GAT-IT, NICE-GAN and SAGAN in PaddlePaddle, aligned with the official code."""
import os
import warnings

# Paddle warns about a missing C++ compiler cache on every import (irrelevant to users who
# build no custom operators), about tensor places while tracing our oneDNN convolutions, and
# logs its executor's start-up at INFO level: none of it is actionable.
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")
os.environ.setdefault("GLOG_minloglevel", "1")

__version__ = "0.1.0"
