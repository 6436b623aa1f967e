"""``python -m services.correlator`` is ``kitestream correlator``."""

import sys

from services.cli import main

sys.exit(main(["correlator", *sys.argv[1:]]))
