"""The models: one folder each (its description, networks and class), the table of
descriptions (``descriptions.py``) and of classes (``table.py``), and what every model shares
(``base.py``, ``description.py``)."""
