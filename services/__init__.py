"""kitestream: Buildkite as a stream. Every folder here is one of three kinds.

============  =========  ==============================================================
package       kind       what it is
============  =========  ==============================================================
receiver      service    ``kitestream receiver``: webhooks, uploads and the deploy and
                         incident API, verified, onto Kafka (or the spool)
flakiness     service    ``kitestream flakiness``: rolling windows, flaky flags, alerts;
                         ``kitestream flaky list`` reads what it wrote
correlator    service    ``kitestream correlator``: failure + deploy + incident alerts
dispatcher    service    ``kitestream dispatcher``: alerts to Slack, webhooks, PagerDuty,
                         Buildkite; ``kitestream alerts tail`` reads the alerts topic
reconcile     service    ``kitestream reconcile``: lost webhooks back from Buildkite's REST
                         API; ``kitestream backfill`` loads past weeks on install
store         service    ``kitestream store``: the contract topics into SQL (SQLite or
                         PostgreSQL) through SQLAlchemy; ``kitestream store migrate``
api           service    ``kitestream api``: read-only JSON under ``/api/v1`` from the
                         store's database; ``kitestream alerts list`` reads it too
console       library    the pages ``kitestream api`` serves at ``/``: flaky tests, tests,
                         alerts and their timelines, services, pipelines (HTML, SVG)
quarantine    library    muted and skipped tests: their state, ``kitestream tests
                         mute|skip|unmute|list``, the pytest plugin, bktec test plans
common        library    Kafka clients, topics, settings, logging, lifecycle, metrics and
                         the transactional stream runtime every processor runs on
delivery      library    delivery metrics (DORA four keys, tiers, weekly trend) from the
                         store; ``kitestream delivery --service NAME | --team TEAM``
catalog       library    the service catalog (YAML, Cortex, pipelines.json);
                         ``kitestream catalog check`` shows what maps where
ingest        library    pure parsing of uploads, deploys and incidents for the receiver
localkafka    dev tool   ``kitestream kafka up|down|status``: a local Apache Kafka
demo          dev tool   ``kitestream demo`` / ``demo-events`` (``demo.py``,
                         ``demo_events.py``): the whole system on a local broker
============  =========  ==============================================================

A service has ``settings.py`` (its ``KITESTREAM_*`` variables), ``cli.py`` (its command:
``add_arguments`` and ``run``) and ``service.py`` or ``app.py`` (the running thing); a
library has no command of its own beyond inspection. ``cli.py`` here is the one
``kitestream`` command that names them all (:data:`services.cli.COMMANDS`).

The hot paths (the flakiness core; the receiver's webhook reader and JSON depth check)
are compiled with mypyc where the install can (:mod:`services.compiled`);
``KITESTREAM_PURE_PYTHON=1``, read here, runs their sources instead.
"""

from services.compiled import extensions_usable, import_sources_only, pure_python_requested

if pure_python_requested() or not extensions_usable():
    import_sources_only()
