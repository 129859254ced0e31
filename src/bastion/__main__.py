"""``python -m bastion``."""

from bastion.cli.entry import main

main()
