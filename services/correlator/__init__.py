"""The correlator: an alert when a CI failure lines up with a deploy and an incident.

Pure core: :mod:`~services.correlator.observer` (events to per-service observations),
:mod:`~services.correlator.correlate` (per-service state and decisions),
:mod:`~services.correlator.matching` (candidates, reasons, scores) and
:mod:`~services.correlator.alert` (the alert text). IO shell:
:mod:`~services.correlator.task` and :mod:`~services.correlator.service`.
"""
