"""`python -m bench [NAME ...] [--rounds N] [--dir DIR]`."""

from __future__ import annotations

import sys

from bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
