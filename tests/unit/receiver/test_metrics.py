"""The receiver's hot-path metrics: kept in plain numbers in one process and added to
prometheus_client's metrics when the registry is read, so a scrape shows exactly what
recording straight into prometheus_client would have shown; written through at once
when several workers share a directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from services.receiver.metrics import _LATENCY_BUCKETS, Metrics, Observations, Tally
from tests.thorough import examples

Step = tuple[str, int, float]  # ("inc" | "observe", which label set, amount)

steps = st.lists(
    st.tuples(
        st.sampled_from(["inc", "observe"]),
        st.integers(0, 2),
        st.one_of(
            st.sampled_from([0.0, *_LATENCY_BUCKETS, 10.5, 1e6]),  # every bound exactly
            st.floats(0, 20, allow_nan=False),
        ),
    ),
    max_size=60,
)


def _direct(record: list[Step], reads: set[int]) -> list[bytes]:
    """The same metrics recorded straight into prometheus_client's children; the
    exposition after each step in ``reads``."""
    registry = CollectorRegistry()
    requests = Counter(
        "kitestream_receiver_requests", "HTTP answers.", ["route"], registry=registry
    )
    seconds = Histogram(
        "kitestream_receiver_request_seconds",
        "Time from request to answer.",
        ["route"],
        buckets=_LATENCY_BUCKETS,
        registry=registry,
    )
    out = []
    for n, (kind, label, amount) in enumerate(record):
        if kind == "inc":
            requests.labels(f"/r{label}").inc(amount)
        else:
            seconds.labels(f"/r{label}").observe(amount)
        if n in reads:
            out.append(generate_latest(registry))
    return out


def _kept(record: list[Step], reads: set[int]) -> list[bytes]:
    metrics = Metrics()
    out = []
    for n, (kind, label, amount) in enumerate(record):
        if kind == "inc":
            tally = metrics.child(metrics.requests, f"/r{label}", "POST", "202")
            assert isinstance(tally, Tally)
            tally.inc(amount)
        else:
            observations = metrics.child(metrics.request_seconds, f"/r{label}")
            assert isinstance(observations, Observations)
            observations.observe(amount)
        if n in reads:
            out.append(metrics.exposition())
    return out


def _samples(exposition: bytes, names: tuple[str, ...]) -> dict[str, float]:
    """The samples of ``names`` without their labels' method and status (the direct
    registry leaves them out) and without the children's creation times."""
    samples = {}
    for line in exposition.decode().splitlines():
        if line.startswith(names) and "_created" not in line:
            sample, value = line.replace('method="POST",', "").replace(',status="202"', "").split()
            samples[sample] = float(value)
    return samples


@settings(max_examples=examples(200))
@given(record=steps, reads=st.sets(st.integers(0, 59), max_size=5))
def test_a_scrape_shows_what_recording_straight_into_prometheus_client_shows(
    record: list[Step], reads: set[int]
) -> None:
    reads = {n for n in reads if n < len(record)} | {len(record) - 1}
    names = ("kitestream_receiver_requests_total", "kitestream_receiver_request_seconds_")
    direct = [_samples(e, names) for e in _direct(record, reads)]
    kept = [_samples(e, names) for e in _kept(record, reads)]
    # the same samples; sums of floats added in another order may differ in the last bit
    assert kept == [pytest.approx(samples, rel=1e-12) for samples in direct]
    assert [set(k) for k in kept] == [set(d) for d in direct]


def test_the_registry_read_any_way_sees_what_was_counted() -> None:
    metrics = Metrics()
    metrics.child(metrics.events, "buildkite", "build").inc()
    metrics.child(metrics.events, "buildkite", "build").inc(2)
    metrics.child(metrics.produce_seconds, "ok").observe(0.003)
    sample = metrics.registry.get_sample_value
    assert (
        sample("kitestream_receiver_events_total", {"source": "buildkite", "family": "build"}) == 3
    )
    assert sample("kitestream_receiver_produce_seconds_count", {"outcome": "ok"}) == 1
    assert (
        sample("kitestream_receiver_produce_seconds_bucket", {"outcome": "ok", "le": "0.005"}) == 1
    )
    assert (
        sample("kitestream_receiver_produce_seconds_bucket", {"outcome": "ok", "le": "0.0025"}) == 0
    )


def test_a_negative_increment_is_refused_at_once() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError, match="non-negative"):
        metrics.child(metrics.messages, "kafka").inc(-1)


def test_with_several_workers_every_count_is_written_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # prometheus_client's own child, which writes each count to the shared directory
    # (tests/integration/receiver/test_workers.py reads them there across processes)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics = Metrics()
    child = metrics.child(metrics.messages, "kafka")
    assert not isinstance(child, Tally)  # prometheus_client's own child
    child.inc(3)
    assert child._value.get() == 3
