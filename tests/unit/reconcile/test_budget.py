"""The request budget, on an explicit clock: a share of each window, 429 waits for reset."""

from __future__ import annotations

import pytest

from services.reconcile.budget import RESET_MARGIN_S, Budget


def headers(
    limit: int, remaining: int, reset: int, *, user: tuple[int, int, int] | None = None
) -> dict[str, str]:
    out = {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset),
    }
    if user:
        out |= {
            "RateLimit-User-Limit": str(user[0]),
            "RateLimit-User-Remaining": str(user[1]),
            "RateLimit-User-Reset": str(user[2]),
        }
    return out


class Server:
    """Fixed 60 s windows, ``limit`` a window, ``others`` used by other integrations first."""

    def __init__(self, limit: int, others: int = 0) -> None:
        self.limit = limit
        self.others = others
        self.counts: dict[int, int] = {}

    def request(self, now: float) -> dict[str, str]:
        window = int(now // 60)
        self.counts[window] = self.counts.get(window, 0) + 1
        used = self.counts[window] + self.others
        return headers(self.limit, max(0, self.limit - used), 60 - int(now % 60))


@pytest.mark.parametrize(("share", "others"), [(0.5, 0), (0.5, 30), (0.25, 0), (1.0, 0)])
def test_requests_per_window_stay_within_the_share(share: float, others: int) -> None:
    budget, server, now = Budget(share), Server(200, others), 0.0
    for _ in range(1000):
        now += budget.delay(now)
        budget.observe(server.request(now), now)
    assert max(server.counts.values()) <= int(200 * share)
    assert len(server.counts) > 3  # it kept going, window after window


def test_it_slows_down_before_the_limit_instead_of_bursting() -> None:
    budget = Budget(0.5)
    budget.observe(headers(200, 150, 30), 0.0)
    first = budget.delay(0.0)
    assert 0 < first < 30
    budget.observe(headers(200, 100, 29), 1.0)  # others took the rest of our share
    assert budget.delay(1.0) == pytest.approx(29.0 + RESET_MARGIN_S)


def test_a_429_waits_for_the_reset_the_headers_give() -> None:
    budget = Budget(0.5)
    budget.observe(headers(200, 0, 17), 100.0, refused=True)
    assert budget.delay(100.0) == pytest.approx(17.0 + RESET_MARGIN_S)
    budget = Budget(0.5)
    budget.observe({"Retry-After": "9"}, 5.0, refused=True)
    assert budget.delay(5.0) == pytest.approx(9.0)


def test_the_tighter_of_organization_and_user_budgets_wins() -> None:
    budget = Budget(0.5)
    budget.observe(headers(200, 199, 60, user=(50, 25, 40)), 0.0)
    assert budget.delay(0.0) == pytest.approx(40.0 + RESET_MARGIN_S)  # the user's half is used up


def test_unreadable_headers_are_ignored() -> None:
    budget = Budget(0.5)
    budget.observe({"RateLimit-Remaining": "lots", "RateLimit-Reset": "soon"}, 0.0)
    assert budget.delay(0.0) == 0.0


def test_share_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="share"):
        Budget(0)
