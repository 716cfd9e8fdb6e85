"""What every command-line tool shares: user errors as one line, Ctrl-C without a traceback."""
from __future__ import annotations

import sys
from typing import Callable

from ppugatit.errors import UserError


def run(main: Callable[[], object]) -> None:
    try:
        main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
