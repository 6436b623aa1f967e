"""The receiver: verified webhooks onto Kafka, never losing an acknowledged event.

``create_app(settings)`` (``app.py``) is the ASGI app; ``kitestream receiver`` (``cli.py``)
serves it with uvicorn. Endpoints are listed in ``routes.py``; what they share lives in
``endpoints.py`` (the plug-in shape), ``auth.py`` and ``signature.py`` (credentials),
``body.py`` (limits), ``delivery.py`` (ack or spool, with ``spool.py``, ``frames.py``
and ``producer.py``) and ``metrics.py``.
"""
