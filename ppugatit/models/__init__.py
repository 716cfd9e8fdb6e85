"""The models the Trainer can drive, by their config name (``model.name``)."""
from __future__ import annotations

from typing import Iterable

from ppugatit.errors import CheckpointError
from ppugatit.models.ugatit import UGATIT

MODELS = {"ugatit": UGATIT}


def model_for_networks(names: Iterable[str], source: str):
    """The model class whose official network names are exactly ``names``."""
    names = set(names)
    for cls in MODELS.values():
        if set(cls.official_networks) == names:
            return cls
    raise CheckpointError(f"{source}: holds the networks {sorted(names)}, which match no model "
                          f"(U-GAT-IT has {list(UGATIT.official_networks)})")
