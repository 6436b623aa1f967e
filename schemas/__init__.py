"""Message models of every kitestream topic, and their generated JSON Schemas (``json/``)."""
