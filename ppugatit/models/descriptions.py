"""The models, by their config name (``model.name``): one line each. Light: the config
checker reads it; ``ppugatit/models/table.py`` builds the classes from it."""
from __future__ import annotations

from ppugatit.models import nicegan, sagan, ugatit

DESCRIPTIONS = {d.name: d for d in (ugatit.DESCRIPTION, nicegan.DESCRIPTION, sagan.DESCRIPTION)}
