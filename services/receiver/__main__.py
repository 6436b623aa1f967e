"""``python -m services.receiver`` is ``kitestream receiver``."""

import sys

from services.cli import main

sys.exit(main(["receiver", *sys.argv[1:]]))
