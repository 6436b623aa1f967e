"""Server-side SVG charts: shapes for the data given, everything from outside escaped."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.console.charts import DayCounts, Mark, day_bars, lines, timeline

D0 = date(2026, 8, 1)
T0 = datetime(2026, 8, 1, 10, 0, tzinfo=UTC)


def test_day_bars_stack_one_rect_per_nonzero_outcome() -> None:
    svg = day_bars([DayCounts(D0, 3, 1, 0), DayCounts(D0 + timedelta(days=1))], "runs")
    assert svg.startswith("<svg")
    assert svg.count('<rect class="pass"') == 1
    assert svg.count('<rect class="fail"') == 1
    assert '<rect class="skip"' not in svg
    assert "2026-08-01: 3 pass" in svg


def test_lines_skip_missing_days_and_draw_a_lone_point_as_a_dot() -> None:
    days = [D0 + timedelta(days=i) for i in range(3)]
    svg = lines(days, [("p50", [1.0, None, 2.0]), ("p95", [None, 4.0, None])], "<b>t</b>")
    assert svg.count("<polyline") == 1
    assert svg.count("<circle") == 1
    assert "&lt;b&gt;t&lt;/b&gt;" in svg


def test_lines_with_no_values_still_draw_axes() -> None:
    svg = lines([D0], [("p50", [None])], "empty")
    assert "<polyline" not in svg
    assert 'class="axis"' in svg


def test_timeline_orders_marks_by_time_and_escapes_labels() -> None:
    marks = [
        Mark(T0 + timedelta(minutes=20), "incident", "<script>x</script>", "P1"),
        Mark(T0, "deploy", "deploy", "succeeded"),
        Mark(T0 + timedelta(hours=2), "alert", "alert", "critical"),
    ]
    svg = timeline(marks, "tl")
    assert svg.index("mark deploy") < svg.index("mark incident") < svg.index("mark alert")
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "+20m00s" in svg
    assert "+2h00m" in svg


def test_an_empty_timeline_is_an_empty_chart() -> None:
    assert "<g" not in timeline([], "none")
