"""Both commands explain themselves and refuse unusable settings with exit status 2."""

from __future__ import annotations

import pytest

from services.cli import main


@pytest.mark.parametrize("command", ["reconcile", "backfill"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "BUILDKITE_API_TOKEN" in out
    assert "docs/reconcile.md" in out


@pytest.mark.parametrize(
    "env",
    [
        {"KITESTREAM_BUILDKITE_ORG": "acme"},
        {"BUILDKITE_API_TOKEN": "  ", "KITESTREAM_BUILDKITE_ORG": "acme"},
        {"BUILDKITE_API_TOKEN": "bkua_x"},
        {
            "BUILDKITE_API_TOKEN": "bkua_x",
            "KITESTREAM_BUILDKITE_ORG": "acme",
            "KITESTREAM_RECONCILE_BUDGET_SHARE": "2",
        },
    ],
)
@pytest.mark.parametrize("command", [["reconcile", "--once"], ["backfill"]])
def test_missing_or_bad_settings_exit_2_without_the_token(
    env: dict[str, str],
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("BUILDKITE_API_TOKEN", "KITESTREAM_BUILDKITE_ORG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "bkua_x" not in err
    assert f"kitestream {command[0]} cannot start: " in err


def test_a_bad_since_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["backfill", "--since", "forever"])
    assert exc.value.code == 2
    assert "not a duration like 14d" in capsys.readouterr().err
