"""The four keys of generated histories, against values computed by hand.

The main history (payments-api, November 2026, four Monday-to-Sunday weeks)::

    deploy  finished          lead (commit first built before)   failed?
    d0      Fri 10-30 10:00   -          (before the range)
    d1      Mon 11-02 10:00   2 h
    d2      Tue 11-03 12:00   24 h
    d3      Tue 11-03 15:00   1 h                                  alerts a1, a5 -> i1
    d4      Mon 11-09 09:00   0 h        (ignored: <= 0)           i2, no alert: latest before it
    d5      Wed 11-18 10:00   no commit
    d6      Thu 11-26 10:00   144 h                                alert a2 -> i3

    incident  opened            restored after
    i1        Tue 11-03 16:00   30 min
    i2        Tue 11-10 10:00   4 h
    i3        Fri 11-27 08:00   still open
    i4        Sat 10-31 10:00   1 h        (before the range)
"""

from __future__ import annotations

from datetime import timedelta

from services.delivery.keys import four_keys, frequency_bucket
from services.delivery.records import Deploy
from services.delivery.trend import first_week, weekly
from tests.unit.delivery.history import at, deploy, incident, link

SINCE, UNTIL = at("2026-11-02"), at("2026-11-30")

DEPLOYS = [
    deploy("d0", at("2026-10-30", 10), 3),
    deploy("d1", at("2026-11-02", 10), 2),
    deploy("d2", at("2026-11-03", 12), 24),
    deploy("d3", at("2026-11-03", 15), 1),
    deploy("d4", at("2026-11-09", 9), 0),
    deploy("d5", at("2026-11-18", 10)),
    deploy("d6", at("2026-11-26", 10), 144),
]
INCIDENTS = [
    incident("i1", at("2026-11-03", 16), 0.5),
    incident("i2", at("2026-11-10", 10), 4),
    incident("i3", at("2026-11-27", 8)),
    incident("i4", at("2026-10-31", 10), 1),
]
LINKS = [
    link("a1", "d3", "i1"),
    link("a5", "d3", "i1"),  # the same pair, alerted for a dependent service too
    link("a2", "d6", "i3"),
    link("a4", "d1", "i9", deployed_service="ledger"),  # another service's deploy d1
]


def test_deployment_frequency_counts_deploys_days_and_devlakes_weekly_median() -> None:
    keys = four_keys(DEPLOYS, INCIDENTS, LINKS, SINCE, UNTIL)
    assert keys.deploys == 6
    assert keys.deploy_days == 5  # 11-02, 11-03, 11-09, 11-18, 11-26
    assert keys.deploys_per_week == 1.5
    assert keys.days_per_week == 1  # weeks have 2, 1, 1, 1 days: lower median 1
    assert keys.days_per_month == 5
    assert keys.frequency_tier == "high"


def test_frequency_bucket_follows_four_keys_over_three_months() -> None:
    # 14 week rows from 08-24; 5 with a deploy: medians of days and of weeks are 0;
    # weeks-with-a-deploy per month by row: Aug 0 0, Sep 0 0 0 0, Oct 1 1 1 1, Nov 4 4 4 4
    keys = four_keys(DEPLOYS, INCIDENTS, LINKS, SINCE, UNTIL)
    assert keys.frequency_bucket == "monthly"


def test_lead_time_is_the_median_of_positive_values_and_says_its_source() -> None:
    keys = four_keys(DEPLOYS, INCIDENTS, LINKS, SINCE, UNTIL)
    assert keys.lead_time_s == 13 * 3600  # 1 h, 2 h, 24 h, 144 h: (2 + 24) / 2
    assert keys.lead_times == 4
    assert keys.lead_time_sources == {"first_build": 4}
    assert keys.without_lead_time == 2  # d4 (0 h), d5 (no commit)
    assert keys.lead_time_tier == "elite"


def test_a_deploy_fails_by_its_alerts_else_as_the_latest_deploy_before_an_incident() -> None:
    keys = four_keys(DEPLOYS, INCIDENTS, LINKS, SINCE, UNTIL)
    failed = {f.deploy.deploy_id: f for f in keys.failed}
    assert sorted(failed) == ["deploy:d3", "deploy:d4", "deploy:d6"]
    assert failed["deploy:d3"].by == "alert"
    assert [a.alert_id for a in failed["deploy:d3"].alerts] == ["a1", "a5"]
    assert failed["deploy:d3"].incident_ids == ("i1",)
    assert failed["deploy:d4"].by == "latest_deploy_before_incident"
    assert failed["deploy:d4"].incident_ids == ("i2",)
    assert failed["deploy:d6"].alerts[0].links == {"incident": "https://pd.example/i3"}
    assert keys.change_failure_rate == 0.5  # 3 distinct deploys of 6
    assert keys.change_failure_tier == "low"


def test_time_to_restore_is_the_median_over_resolved_incidents_of_the_range() -> None:
    keys = four_keys(DEPLOYS, INCIDENTS, LINKS, SINCE, UNTIL)
    assert keys.incidents == 3
    assert keys.unresolved == 1
    assert keys.time_to_restore_s == (1800 + 4 * 3600) / 2
    assert keys.restore_tier == "high"


def test_a_service_with_no_deploys_says_so_instead_of_dividing_by_zero() -> None:
    keys = four_keys([], [incident("i1", at("2026-11-03"), 2)], [], SINCE, UNTIL)
    assert keys.deploys == 0
    assert keys.change_failure_rate is None
    assert keys.change_failure_tier is None
    assert keys.frequency_tier is None
    assert keys.frequency_bucket is None
    assert keys.lead_time_s is None
    assert keys.time_to_restore_s == 2 * 3600
    assert keys.notes == ("no deploys in this range: no frequency, lead time or failure rate",)


def test_nothing_at_all_has_no_numbers_and_two_notes() -> None:
    keys = four_keys([], [], [], SINCE, UNTIL)
    assert keys.deploys_per_week == 0
    assert keys.time_to_restore_s is None
    assert len(keys.notes) == 2


def _daily(skip_weekday: int | None = None) -> list[Deploy]:
    days = [SINCE + timedelta(days=i, hours=12) for i in range(28)]
    return [deploy(f"d{i}", d, 1) for i, d in enumerate(days) if d.weekday() != skip_weekday]


def test_a_deploy_every_day_is_elite_and_six_days_a_week_is_high() -> None:
    every = four_keys(_daily(), [], [], SINCE, UNTIL)
    assert every.days_per_week == 7
    assert every.frequency_tier == "elite"
    # Four Keys over three months: 4 of 14 weeks deployed, Nov rows only: Yearly ...
    assert every.frequency_bucket == "yearly"
    # ... unless the data starts with the range: every week, 7 days
    assert four_keys(_daily(), [], [], SINCE, UNTIL, data_start=SINCE).frequency_bucket == "daily"
    six = four_keys(_daily(skip_weekday=6), [], [], SINCE, UNTIL)
    assert six.days_per_week == 6
    assert six.frequency_tier == "high"


def test_one_failed_deploy_in_twenty_is_exactly_five_percent_and_elite() -> None:
    deploys = _daily()[:20]
    incidents = [
        incident(f"i{n}", deploys[n].finished_at + timedelta(minutes=5), 1) for n in range(3)
    ]
    one = four_keys(deploys, incidents[:1], [link("a0", "d0", "i0")], SINCE, UNTIL)
    assert one.change_failure_rate == 0.05
    assert one.change_failure_tier == "elite"
    links = [link(f"a{n}", f"d{n}", f"i{n}") for n in range(3)]
    three = four_keys(deploys, incidents, links, SINCE, UNTIL)
    assert three.change_failure_rate == 0.15
    assert three.change_failure_tier == "medium"


def test_deploys_in_the_range_only_fail_when_their_incident_is_in_the_range() -> None:
    # i4 (10-31) has no alert; its latest deploy before, d0, lies before the range
    keys = four_keys(DEPLOYS, INCIDENTS, LINKS, SINCE, UNTIL)
    assert "deploy:d0" not in {f.deploy.deploy_id for f in keys.failed}


def test_frequency_bucket_daily_weekly_monthly_yearly() -> None:
    until = at("2026-11-30")
    start = at("2026-08-31")
    days = [start + timedelta(days=i, hours=9) for i in range(91)]
    three_a_week = [d for d in days if d.weekday() in (0, 2, 4)]
    two_a_week = [d for d in days if d.weekday() in (0, 2)]
    mondays = [d for d in days if d.weekday() == 0]
    first_mondays = [at("2026-09-07", 9), at("2026-10-05", 9), at("2026-11-02", 9)]
    assert frequency_bucket(three_a_week, until) == "daily"
    assert frequency_bucket(two_a_week, until) == "weekly"
    assert frequency_bucket(mondays, until) == "weekly"
    # rows by month of week start: Aug 0 0, Sep 1 1 1 1, Oct 1 1 1 1, Nov 1 1 1 1
    assert frequency_bucket(first_mondays, until) == "monthly"
    assert frequency_bucket(first_mondays[:1], until) == "yearly"
    assert frequency_bucket([], until) is None


def test_frequency_bucket_leaves_out_days_before_the_data_starts() -> None:
    # Only the last two weeks have data: both had a deploy, so most weeks did.
    two_weeks = [at("2026-11-17", 9), at("2026-11-24", 9)]
    assert frequency_bucket(two_weeks, at("2026-11-30")) == "yearly"
    assert frequency_bucket(two_weeks, at("2026-11-30"), data_start=at("2026-11-16")) == "weekly"


def test_the_weekly_trend_is_each_weeks_four_keys() -> None:
    weeks = weekly(DEPLOYS, INCIDENTS, LINKS, UNTIL, weeks=4)
    assert [str(w.start) for w in weeks] == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    assert [w.deploys for w in weeks] == [3, 1, 1, 1]
    assert [w.failed for w in weeks] == [1, 1, 0, 1]
    assert [w.change_failure_rate for w in weeks] == [1 / 3, 1.0, 0.0, 1.0]
    assert [w.lead_time_s for w in weeks] == [7200, None, None, 144 * 3600]
    assert [w.incidents for w in weeks] == [1, 1, 0, 1]
    assert [w.time_to_restore_s for w in weeks] == [1800, 4 * 3600, None, None]


def test_twelve_weeks_end_with_the_week_of_the_ranges_last_day() -> None:
    assert str(first_week(at("2026-11-30"), 12)) == "2026-09-07"
    assert str(first_week(at("2026-11-30", 1), 12)) == "2026-09-14"


def test_a_deploy_failed_by_an_incident_next_week_is_failed_in_its_own_week() -> None:
    sunday = deploy("sun", at("2026-11-08", 23), 1)
    monday = incident("mon", at("2026-11-09", 1), 1)
    weeks = weekly([sunday], [monday], [], UNTIL, weeks=4)
    assert [(w.deploys, w.failed, w.incidents) for w in weeks[:2]] == [(1, 1, 0), (0, 0, 1)]
    whole = four_keys([sunday], [monday], [], SINCE, UNTIL)
    assert whole.change_failure_rate == 1.0
    # asked as of before the incident, the deploy has not failed (yet)
    before = four_keys([sunday], [monday], [], SINCE, at("2026-11-09"))
    assert before.change_failure_rate == 0.0


def test_one_deploy_day_a_month_is_medium_and_less_is_low() -> None:
    one = [deploy("d1", at("2026-11-18", 10), 1)]
    november = four_keys(one, [], [], SINCE, UNTIL)
    assert (november.days_per_week, november.days_per_month) == (0, 1)  # weeks 0 0 1 0
    assert november.frequency_tier == "medium"
    # October and November: months 0 and 1, lower median 0
    two_months = four_keys(one, [], [], at("2026-10-01"), UNTIL)
    assert two_months.days_per_month == 0
    assert two_months.frequency_tier == "low"


def test_lead_time_and_restore_tiers_at_their_boundaries_from_histories() -> None:
    day = [deploy("a", at("2026-11-03", 12), 23), deploy("b", at("2026-11-04", 12), 25)]
    assert four_keys(day, [], [], SINCE, UNTIL).lead_time_s == 24 * 3600  # (23 + 25) / 2
    assert four_keys(day, [], [], SINCE, UNTIL).lead_time_tier == "high"  # not < 1 day
    under = [deploy("a", at("2026-11-03", 12), 23)]
    assert four_keys(under, [], [], SINCE, UNTIL).lead_time_tier == "elite"
    hour = [incident("i", at("2026-11-03"), 1)]
    assert four_keys([], hour, [], SINCE, UNTIL).restore_tier == "high"  # not < 1 hour
    minutes = [incident("i", at("2026-11-03"), 59 / 60)]
    assert four_keys([], minutes, [], SINCE, UNTIL).restore_tier == "elite"
