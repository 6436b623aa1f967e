"""One module per revision; ``0001`` is the base."""
