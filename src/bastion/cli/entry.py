"""Console-script entry point: ``--version`` and ``scan`` run without importing the CLI framework."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the ``bastion`` command."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        from bastion import __version__

        print(f"bastion {__version__}")
        return
    if sys.argv[1:2] == ["scan"]:
        from bastion.cli.scan import main as scan_main

        sys.exit(scan_main(sys.argv[2:]))
    from bastion.cli.app import app

    app()


if __name__ == "__main__":
    main()
