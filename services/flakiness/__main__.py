"""``python -m services.flakiness`` runs the processor (same as ``kitestream flakiness``)."""

import sys

from services.cli import main

sys.exit(main(["flakiness", *sys.argv[1:]]))
