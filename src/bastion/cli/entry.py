"""Console-script entry point: answers ``--version`` without importing the CLI framework."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the ``bastion`` command."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        from bastion import __version__

        print(f"bastion {__version__}")
        return
    from bastion.cli.app import app

    app()


if __name__ == "__main__":
    main()
