"""Delivery metrics: the DORA four keys per service and per team, from the store.

============  ===================================================================
module        what it holds
============  ===================================================================
records       the plain rows the core reads: deploys, incidents, alert links
stats         medians (Four Keys' interpolated one, DevLake's lower one), weeks
tiers         the DORA 2023 tiers (elite, high, medium, low) as DevLake applies them
keys          the four keys over one range, pure: rows and a clock in, numbers out
trend         the same, week by week (the 12-week chart)
query         the store's tables (deploys, builds, jobs, incidents, alerts) as rows
cli           ``kitestream delivery --service NAME | --team TEAM``
============  ===================================================================

Definitions, sources and examples: ``docs/delivery.md``.
"""
