"""The query API: read-only JSON under ``/api/v1/`` from the store's database.

``kitestream api`` (``cli.py``) serves ``create_app(settings)`` (``app.py``) with
uvicorn, a process of its own (the receiver stays write-only). Paths are declared once
in ``routes.py`` and answered by plain functions of an ``Ask`` (``ask.py``): the
catalog's services (``services.py``), pipelines and builds (``pipelines.py``), tests,
flaky tests and a test's history (``tests.py``), alerts (``alerts.py``), deploys and
incidents (``events.py``). Lists page with opaque keyset cursors (``cursor.py``,
``pages.py``) over query parameters declared in ``params.py``; ``openapi.py`` describes
it all, ``access.py`` checks bearer tokens, ``database.py`` opens the store read-only.
``listing.py`` is ``kitestream alerts list`` and the store/API side of ``flaky list``.
"""
