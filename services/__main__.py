"""``python -m services`` is the ``kitestream`` command."""

import sys

from services.cli import main

sys.exit(main())
