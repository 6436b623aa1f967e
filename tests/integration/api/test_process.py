"""``kitestream api`` as a process: who it lets in, off loopback and on it, and the CLI
reading through it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from tests.integration.api.process import ROOT, api_process
from tests.ports import free_port
from tests.unit.api.rows import T0, add_alert, add_test, hours, store_engine

TOKEN = "read-token-9f2c1e"


def _filled_store(path: Path) -> str:
    engine = store_engine(str(path))
    with engine.begin() as conn:
        add_alert(conn, "a1", created_at=T0)
        add_alert(conn, "a2", created_at=T0 + hours(1), kind="flaky_test", severity="warning")
        add_test(conn, "s/a/wobbly", status="flaky", score=0.5, flaky_since=T0,
                 state_updated_at=T0)  # fmt: skip
    engine.dispose()
    return f"sqlite:///{path}"


def test_off_loopback_without_read_tokens_it_refuses_to_start(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KITESTREAM_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "KITESTREAM_LOG_FORMAT": "text",
    }
    env.pop("KITESTREAM_READ_TOKENS", None)
    done = subprocess.run(
        [sys.executable, "-m", "services", "api", "--host", "0.0.0.0", "--port", str(free_port())],  # noqa: S104
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert b"KITESTREAM_READ_TOKENS is not set" in done.stderr


def test_off_loopback_with_tokens_it_answers_401_without_a_valid_bearer_token(
    tmp_path: Path,
) -> None:
    url = _filled_store(tmp_path / "store.db")
    env = {
        **os.environ,
        "KITESTREAM_DATABASE_URL": url,
        "KITESTREAM_READ_TOKENS": f"{TOKEN},second-token",
        "KITESTREAM_LOG_FORMAT": "json",
    }
    log = tmp_path / "api.log"
    with api_process(env, free_port(), log, host="0.0.0.0") as base:  # noqa: S104
        assert httpx.get(f"{base}/api/v1/alerts").status_code == 401
        wrong = httpx.get(f"{base}/api/v1/alerts", headers={"authorization": "Bearer nope-nope"})
        assert wrong.status_code == 401
        assert wrong.json() == {
            "error": "unauthorized",
            "detail": "the bearer token is not accepted",
        }
        ok = httpx.get(f"{base}/api/v1/alerts", headers={"authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        assert [a["alert_id"] for a in ok.json()["items"]] == ["a2", "a1"]

        # The CLI through the API: token from --token, or KITESTREAM_READ_TOKEN.
        cli_env = {**env, "KITESTREAM_READ_TOKEN": TOKEN}
        listed = subprocess.run(
            [sys.executable, "-m", "services", "alerts", "list", "--api", base, "--json"],
            env=cli_env, cwd=ROOT, capture_output=True, timeout=60, check=True,
        )  # fmt: skip
        assert [a["alert_id"] for a in orjson.loads(listed.stdout)] == ["a2", "a1"]
        flaky = subprocess.run(
            [sys.executable, "-m", "services", "flaky", "list", "--api", base, "--token", TOKEN],
            env=env, cwd=ROOT, capture_output=True, timeout=60, check=True,
        )  # fmt: skip
        assert b"s/a/wobbly" in flaky.stdout
        refused = subprocess.run(
            [sys.executable, "-m", "services", "alerts", "list", "--api", base],
            env=env, cwd=ROOT, capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert refused.returncode == 1
        assert b"401" in refused.stderr
    text = log.read_text()
    assert TOKEN not in text
    assert "second-token" not in text
    assert "nope-nope" not in text
