"""`python -m farm` is the `farm` command (used to spawn demo gateways with the same interpreter)."""

from farm.cli import main

main()
