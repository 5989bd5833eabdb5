"""`champion experiment ...` end to end through typer's runner, on SQLite and once on PostgreSQL."""

import json
import socket
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from champion.cli.experiment import experiment_app
from champion.registry import Registry
from champion.spec import load_spec

runner = CliRunner()
NAME = "fraud-detector-v2"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

app = typer.Typer()
app.add_typer(experiment_app, name="experiment")


@app.callback()
def _root() -> None:
    """Test harness: the experiment commands under a root, as the champion command mounts them."""


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    monkeypatch.delenv("CHAMPION_DB", raising=False)
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(*args: str, db: str | None = None, ok: bool = True):
    full = ["experiment", *args] + (["--db", db] if db else [])
    if args[0] == "start":  # the example's python models live beside its spec, not here
        full += ["--models-dir", str(EXAMPLES)]
    result = runner.invoke(app, full)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def as_json(*args: str, db: str):
    return json.loads(run(*args, "--json", db=db).stdout)


def test_full_lifecycle_in_json(db, fraud_spec):
    created = as_json("create", "-f", str(fraud_spec), "--by", "alice", db=db)
    assert {k: created[k] for k in ("name", "state", "version", "allocation", "stage")} == {
        "name": NAME,
        "state": "draft",
        "version": 1,
        "allocation": {"v1_3": 1.0, "v2_0": 0.0},
        "stage": None,
    }
    assert as_json("start", NAME, "--shadow", db=db)["state"] == "shadow"
    assert as_json("start", NAME, db=db)["allocation"] == {"v1_3": 0.95, "v2_0": 0.05}
    ramped = as_json("ramp", NAME, "--to", "25", "--reason", "stage 2", db=db)
    assert (ramped["version"], ramped["allocation"], ramped["stage"]) == (
        4, {"v1_3": 0.75, "v2_0": 0.25}, 1
    )  # fmt: skip
    stopped = as_json("stop", NAME, "--reason", "latency guardrail", "--by", "bob", db=db)
    assert (stopped["state"], stopped["allocation"]) == ("stopped", {"v1_3": 1.0, "v2_0": 0.0})
    history = as_json("history", NAME, db=db)
    assert [(h["version"], h["action"], h["state"], h["by"]) for h in history] == [
        (1, "create", "draft", "alice"),
        (2, "shadow", "shadow", history[1]["by"]),
        (3, "start", "running", history[2]["by"]),
        (4, "ramp", "running", history[3]["by"]),
        (5, "stop", "stopped", "bob"),
    ]
    assert set(history[0]) >= {"version", "action", "state", "allocation", "by", "at", "reason"}
    assert history[4]["reason"] == "latency guardrail"


def test_list_and_show_in_json(db, fraud_spec):
    run("create", "-f", str(fraud_spec), db=db)
    listed = as_json("list", db=db)
    assert [e["name"] for e in listed] == [NAME]
    assert set(listed[0]) == {"name", "state", "version", "allocation", "stage", "updated_at"}
    shown = as_json("show", NAME, db=db)
    assert shown["next"] == ["shadow", "start", "stop"]
    assert shown["spec"]["champion"] == "v1_3"
    with Registry(db) as registry:
        assert registry.spec(NAME) == load_spec(fraud_spec)  # the CLI stored the file's spec


def test_complete_and_rollback(db, fraud_spec, make_yaml):
    run("create", "-f", str(fraud_spec), db=db)
    run("create", "-f", str(make_yaml("other")), db=db)
    ends = [(NAME, "complete", "completed"), ("other", "rollback", "rolled_back")]
    for name, action, state in ends:
        run("start", name, db=db)
        assert as_json(action, name, "--reason", "decided", db=db)["state"] == state


def test_human_output_names_state_version_and_shares(db, fraud_spec):
    out = run("create", "-f", str(fraud_spec), db=db).stdout
    assert f"{NAME} is draft at version 1: v1_3 100%, v2_0 0%" in out
    run("start", NAME, db=db)
    out = run("ramp", NAME, "--to", "25", db=db).stdout
    assert "running at version 3: v1_3 75%, v2_0 25%, rollout stage 2 of 4 (25%)" in out
    assert NAME in run("list", db=db).stdout
    assert "ramp, pause, stop, complete, promote, rollback" in run("show", NAME, db=db).stdout
    assert "ramp" in run("history", NAME, db=db).stdout


def test_database_comes_from_the_environment(tmp_path, fraud_spec, monkeypatch):
    path = tmp_path / "env.db"
    monkeypatch.setenv("CHAMPION_DB", str(path))
    run("create", "-f", str(fraud_spec))
    assert path.is_file()
    assert json.loads(run("list", "--json").stdout)[0]["name"] == NAME


def test_expect_version_refuses_a_stale_write(db, fraud_spec):
    run("create", "-f", str(fraud_spec), db=db)
    run("start", NAME, db=db)
    result = run("ramp", NAME, "--to", "25", "--expect-version", "1", db=db, ok=False)
    assert result.exit_code == 2
    assert "expected version 1 but it is at version 2; re-read and retry" in result.stderr
    assert as_json("show", NAME, db=db)["version"] == 2


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "ghost"], "no experiment named 'ghost'"),
        (["history", "ghost"], "no experiment named 'ghost'"),
        (["start", "ghost"], "no experiment named 'ghost'"),
        (["ramp", NAME, "--to", "120"], "to=120.0 is invalid: a percentage between 0 and 100"),
        (["ramp", NAME, "--to", "10", "--challenger", "v9"], "challenger='v9' is invalid"),
        (["create", "-f", "missing.yaml"], "file not found"),
        (["stop", NAME, "--reason", " "], "reason=' ' is invalid: say why"),
        (["rollback", NAME, "--reason", "x"], "is running: cannot rollback it"),
    ],
)
def test_bad_input_is_one_readable_line_and_exit_2(db, fraud_spec, args, message):
    run("create", "-f", str(fraud_spec), db=db)
    run("start", NAME, "--shadow", db=db)
    if args[0] != "rollback":
        run("start", NAME, db=db)
    else:
        message = "is shadow: cannot rollback it; allowed next: start (-> running)"
    result = run(*args, db=db, ok=False)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_creating_twice_says_it_exists(db, fraud_spec):
    run("create", "-f", str(fraud_spec), db=db)
    result = run("create", "-f", str(fraud_spec), db=db, ok=False)
    assert result.exit_code == 2
    assert f"experiment '{NAME}' already exists (state draft, version 1)" in result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://ann:pw@127.0.0.1:{port}/reg", "Connection refused"),
        ("sqlite:////no/such/dir/reg.db", "folder /no/such/dir does not exist"),
    ],
)
def test_unreachable_database_is_one_line_and_exit_2(url, message):
    result = run("list", db=url.format(port=_port()), ok=False)
    assert result.exit_code == 2
    assert message in result.stderr
    assert ":pw@" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_reason_is_required_to_stop(db, fraud_spec):
    run("create", "-f", str(fraud_spec), db=db)
    result = run("stop", NAME, db=db, ok=False)
    assert result.exit_code == 2
    assert "Missing option '--reason'" in result.output


def test_lifecycle_against_postgresql(postgres_url, fraud_spec):
    run("create", "-f", str(fraud_spec), "--by", "alice", db=postgres_url)
    run("start", NAME, db=postgres_url)
    ramped = as_json("ramp", NAME, "--to", "50", db=postgres_url)
    assert (ramped["version"], ramped["stage"]) == (3, 2)
    run("complete", NAME, "--reason", "v2_0 wins", db=postgres_url)
    history = as_json("history", NAME, db=postgres_url)
    assert [h["action"] for h in history] == ["create", "start", "ramp", "complete"]
    assert as_json("list", db=postgres_url)[0]["state"] == "completed"


@pytest.fixture
def make_yaml(tmp_path, fraud_spec):
    def build(name: str):
        path = tmp_path / f"{name}.yaml"
        path.write_text(fraud_spec.read_text().replace(f"name: {NAME}", f"name: {name}"))
        models = fraud_spec.parent / "fraud_models.py"  # create loads the models beside the spec
        (tmp_path / models.name).write_text(models.read_text())
        return path

    return build
