"""Archive: takes an experiment out of service from any state, without reading its spec."""

import pytest
import sqlalchemy as sa

from champion.errors import InvalidArgument, InvalidTransition, StaleVersion
from champion.registry import State, allowed_actions


@pytest.mark.parametrize("steps", [[], ["start"], ["start", "stop"], ["start", "rollback"]])
def test_archive_works_from_any_state_and_keeps_the_allocation(registry, spec, steps):
    registry.create(spec, by="alice")
    for step in steps:
        if step == "start":
            registry.start(spec.name)
        else:
            getattr(registry, step)(spec.name, reason="done")
    before = registry.get(spec.name)
    archived = registry.archive(spec.name, reason="clean up", by="bob")
    assert archived.state is State.ARCHIVED
    assert archived.version == before.version + 1
    assert archived.allocation == before.allocation
    last = registry.history(spec.name)[-1]
    assert (last.action, last.state, last.by, last.reason) == (
        "archive", State.ARCHIVED, "bob", "clean up")  # fmt: skip
    assert registry.global_version() == archived.seq


def test_archive_never_parses_the_spec(registry, spec):
    registry.create(spec)
    with registry._writer.begin() as conn:  # edited by hand into something invalid
        conn.execute(sa.text("UPDATE champion_experiments SET spec = 'name: [' WHERE name = :n"),
                     {"n": spec.name})  # fmt: skip
    assert registry.archive(spec.name, reason="corrupt spec").state is State.ARCHIVED


def test_archive_needs_a_reason_and_checks_the_version(registry, spec):
    registry.create(spec)
    with pytest.raises(InvalidArgument, match="reason"):
        registry.archive(spec.name, reason=" ")
    with pytest.raises(StaleVersion, match="expected version 7 but it is at version 1"):
        registry.archive(spec.name, reason="x", expected_version=7)


def test_archived_is_final(registry, spec):
    registry.create(spec)
    registry.archive(spec.name, reason="x")
    assert allowed_actions(State.ARCHIVED) == []
    with pytest.raises(InvalidTransition, match="is archived: cannot archive it; archived is"):
        registry.archive(spec.name, reason="again")
    with pytest.raises(InvalidTransition, match="is archived: cannot start it"):
        registry.start(spec.name)
