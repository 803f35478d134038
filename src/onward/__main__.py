"""
``python -m onward``: runs the ``onward`` command.
"""

from __future__ import annotations

from onward.cli import main

if __name__ == "__main__":
    main()
