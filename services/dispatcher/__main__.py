"""``python -m services.dispatcher`` is ``kitestream dispatcher``."""

import sys

from services.cli import main

sys.exit(main(["dispatcher", *sys.argv[1:]]))
