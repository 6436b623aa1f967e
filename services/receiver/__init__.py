"""The receiver: verified webhooks onto Kafka, never losing an acknowledged event.

``create_app(settings)`` (``app.py``) is the ASGI app; ``kitestream receiver`` (``cli.py``)
serves it with uvicorn. Endpoints are listed, and assembled into routes and the OpenAPI
document, in ``routes.py``; each endpoint module (``buildkite_webhook.py``,
``ingest_endpoints.py``, ``health.py``) declares its handler and OpenAPI operation. What
they share lives in ``endpoints.py`` (the plug-in shape and ``AppContext``),
``signature.py`` (Buildkite's credentials), ``body.py`` (reading a body within limits),
``delivery.py`` (ack or spool, with ``spool.py``, ``frames.py`` and ``producer.py``) and
``metrics.py``. The pure steps below them (refusals, credentials, gzip, JSON, the ingest
parsers) are :mod:`services.ingest`, which never imports this package.
"""
