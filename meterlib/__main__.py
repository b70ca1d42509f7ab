"""`python -m meterlib ...`: the same as the `meterlib` command."""

from __future__ import annotations

from meterlib.cli import main

if __name__ == "__main__":
    main()
