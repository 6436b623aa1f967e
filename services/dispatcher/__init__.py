"""The dispatcher: delivers alerts from ``alerts`` to Slack, webhooks, PagerDuty and
Buildkite builds, as the routes file says, none lost and none twice.

Pure core: :mod:`routing`, :mod:`backoff`, :mod:`breaker`, :mod:`signature`,
:mod:`egress`, :mod:`offsets`, :mod:`records`, and the sinks' payload builders.
IO shell: :mod:`outbound` (guarded HTTP clients), :mod:`sinks`, :mod:`worker`,
:mod:`deliverylog`, :mod:`service`, and the commands in :mod:`cli` and :mod:`tail`.
"""
