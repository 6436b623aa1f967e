"""Quarantine: tests muted (they run, their failures do not fail the build) or skipped.

| module           | holds                                                          |
|------------------|----------------------------------------------------------------|
| state.py         | a test's state over time, requests to change it (pure)         |
| policy.py        | auto-quarantine: mute long-flaky tests, unmute recovered (pure)|
| testplan.py      | Buildkite ``bktec`` test plans with the muted and skipped tests|
| client.py        | the runners' and the CLI's HTTP client of the query API        |
| pytest_plugin.py | ``pytest -p services.quarantine.pytest_plugin``                |
| cli.py           | ``kitestream tests mute|skip|unmute|list``                     |

Changes travel as :class:`schemas.quarantine.QuarantineChange` on ``tests.quarantine``:
the query API publishes them (``POST /api/v1/quarantine``, write tokens), the store
keeps the current state and the history. See docs/quarantine.md.

Exceptions::

    QuarantineError (ValueError)   a change that cannot be made (state.py)
"""

from __future__ import annotations

from services.quarantine.state import QuarantineError

__all__ = ["QuarantineError"]
