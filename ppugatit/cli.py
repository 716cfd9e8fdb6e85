"""What every command-line tool shares: user errors as one line, Ctrl-C without a traceback."""
from __future__ import annotations

import sys
from typing import Callable

from ppugatit.errors import UserError


def interrupted(error: BaseException) -> bool:
    """Ctrl-C, also as Paddle re-raises a second one that lands in its data loader's C++
    reader: an OSError whose message or chain holds the KeyboardInterrupt."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt) or "KeyboardInterrupt" in str(error):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def run(main: Callable[[], object]) -> None:
    try:
        main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except Exception as e:
        if not interrupted(e):
            raise
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
