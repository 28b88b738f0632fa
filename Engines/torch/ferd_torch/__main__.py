"""`python -m ferd_torch`: the torch engine a `ferd worker --engine torch` spawns per trial (docs/ENGINES.md)."""

import sys

from .engine import main

if __name__ == "__main__":
    sys.exit(main())
