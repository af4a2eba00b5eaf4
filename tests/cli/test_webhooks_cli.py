"""``aragora webhooks add|list|remove|deliveries`` on the database and through a running
server (``--server``): the secret printed once, never listed; the egress rule applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aragora.cli.main import main
from tests.server.live import ADMIN_TOKEN, running_server

HOOK = "http://127.0.0.1:9/hooks/aragora"


@pytest.fixture(autouse=True)
def _data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARAGORA_DATA_DIR", str(tmp_path / "local"))
    monkeypatch.delenv("ARAGORA_DATABASE_URL", raising=False)
    monkeypatch.delenv("ARAGORA_WEBHOOK_ENDPOINTS", raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["webhooks", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_local_add_list_deliveries_remove(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, "add", HOOK, "--event", "debate.completed")
    assert code == 2
    assert "ARAGORA_WEBHOOK_ENDPOINTS" in err  # loopback: refused without the allowlist

    monkeypatch.setenv("ARAGORA_WEBHOOK_ENDPOINTS", "http://127.0.0.1:9/hooks")
    code, out, err = run(
        capsys, "add", HOOK, "--event", "debate.completed", "--event", "debate.failed"
    )
    assert code == 0, err
    fields = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines())}
    assert fields["secret"].startswith("whsec_")
    assert "shown only this once" in err
    webhook_id = fields["id"]

    code, out, _ = run(capsys, "list")
    assert code == 0
    assert webhook_id in out
    assert HOOK in out
    assert fields["secret"] not in out
    code, out, _ = run(capsys, "list", "--json")
    assert json.loads(out)["webhooks"][0]["events"] == ["debate.completed", "debate.failed"]

    code, out, _ = run(capsys, "deliveries", webhook_id)
    assert code == 0
    assert "no deliveries" in out
    code, out, _ = run(capsys, "remove", webhook_id)
    assert code == 0
    assert webhook_id in out
    code, _, err = run(capsys, "remove", webhook_id)
    assert code == 2
    assert "not found" in err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(capsys, "add", HOOK, "--event", "debate.started")
    assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        run(capsys, "add", HOOK)  # no event


def test_through_a_server(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with running_server(
        tmp_path / "server", ARAGORA_WEBHOOK_ENDPOINTS="http://127.0.0.1:9/hooks"
    ) as server:
        remote = ["--server", server.base_url, "--token", ADMIN_TOKEN]
        code, out, err = run(
            capsys, "add", HOOK, "--event", "knowledge.conflict", "--format", "slack", "--json",
            *remote,
        )  # fmt: skip
        assert code == 0, err
        created = json.loads(out)
        assert created["format"] == "slack"
        assert created["secret"].startswith("whsec_")
        code, out, _ = run(capsys, "list", "--json", *remote)
        assert [w["id"] for w in json.loads(out)["webhooks"]] == [created["id"]]
        assert created["secret"] not in out
        code, out, _ = run(capsys, "deliveries", created["id"], "--json", *remote)
        assert code == 0
        assert json.loads(out) == {"webhook_id": created["id"], "deliveries": []}
        code, _, err = run(capsys, "list", "--server", server.base_url, "--token", "wrong")
        assert code == 2
        assert "401" in err
        code, _, err = run(capsys, "add", "http://10.0.0.1/x", "--event", "debate.failed", *remote)
        assert code == 2
        assert "400" in err
        code, out, _ = run(capsys, "remove", created["id"], *remote)
        assert code == 0
        code, out, _ = run(capsys, "list", "--json", *remote)
        assert json.loads(out)["total"] == 0
