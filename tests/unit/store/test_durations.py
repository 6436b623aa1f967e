from __future__ import annotations

from services.store import durations
from services.store.tables import DURATION_BUCKETS


def test_durations_fall_in_the_bucket_whose_bound_is_the_first_at_or_above_them() -> None:
    assert durations.bucket_of(0.0) == 0
    assert durations.bucket_of(-1.0) == 0
    assert durations.bucket_of(DURATION_BUCKETS[3]) == 3
    assert durations.bucket_of(DURATION_BUCKETS[3] * 1.01) == 4
    assert durations.bucket_of(1e9) == len(DURATION_BUCKETS)


def test_histograms_of_two_days_add_up_bucket_by_bucket() -> None:
    first: durations.Histogram = {}
    second: durations.Histogram = {}
    for d in (0.1, 0.1, 2.0):
        durations.add(first, d)
    durations.add(second, 2.0)
    merged = durations.merge([first, second])
    assert merged == {str(durations.bucket_of(0.1)): 2, str(durations.bucket_of(2.0)): 2}


def test_quantiles_are_read_within_a_bucket_of_the_true_value() -> None:
    hist: durations.Histogram = {}
    values = [0.01 * i for i in range(1, 101)]  # 0.01 .. 1.0 s
    for v in values:
        durations.add(hist, v)
    p50 = durations.quantile(hist, 0.5)
    p95 = durations.quantile(hist, 0.95)
    assert p50 is not None
    assert p95 is not None
    assert 0.5 / 1.5 <= p50 <= 0.5 * 1.5
    assert 0.95 / 1.5 <= p95 <= 0.95 * 1.5
    assert p50 < p95


def test_an_empty_histogram_has_no_quantile() -> None:
    assert durations.quantile({}, 0.5) is None
    assert durations.quantile({"3": 0}, 0.5) is None


def test_durations_past_the_last_bound_land_in_the_overflow_bucket() -> None:
    hist: durations.Histogram = {}
    durations.add(hist, 1e6)
    p50 = durations.quantile(hist, 0.5)
    assert p50 is not None
    assert p50 > DURATION_BUCKETS[-1]
