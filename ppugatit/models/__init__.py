"""The models the Trainer can drive, by their config name (``model.name``)."""
from __future__ import annotations

from typing import Iterable

from ppugatit.errors import CheckpointError
from ppugatit.models.nicegan import NICEGAN
from ppugatit.models.sagan import SAGAN
from ppugatit.models.ugatit import UGATIT

MODELS = {"ugatit": UGATIT, "nicegan": NICEGAN, "sagan": SAGAN}


def model_for_networks(names: Iterable[str], source: str):
    """The model class whose official network names are exactly ``names``."""
    names = set(names)
    for cls in MODELS.values():
        if set(cls.official_networks) == names:
            return cls
    known = "; ".join(f"{name}: {', '.join(cls.official_networks)}"
                      for name, cls in MODELS.items())
    raise CheckpointError(f"{source}: holds the networks {sorted(names)}, which match no model "
                          f"({known})")
