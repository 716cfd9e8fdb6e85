"""ppugatit: U-GAT-IT, NICE-GAN and SAGAN in PaddlePaddle, aligned with the official code."""
import warnings

# Paddle warns about a missing C++ compiler cache on every import; it is irrelevant to users
# who never build custom operators.
warnings.filterwarnings("ignore", message="No ccache found")

__version__ = "0.1.0"
