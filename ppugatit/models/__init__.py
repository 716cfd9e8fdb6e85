"""The models the Trainer can drive, by their config name (``model.name``)."""
from __future__ import annotations

from ppugatit.models.nicegan import NICEGAN
from ppugatit.models.sagan import SAGAN
from ppugatit.models.ugatit import UGATIT

MODELS = {"ugatit": UGATIT, "nicegan": NICEGAN, "sagan": SAGAN}

