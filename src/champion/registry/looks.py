"""The look ledger: every decision point of a challenger on the primary metric, once.

A read-out that can decide spends alpha. ``champion analyze`` records each such read-out
here, so the next one computes its boundary from the information fractions actually
observed, and a decision once made is not made again. A look is written once and never
updated: recording a look whose (experiment, variant, index) is already stored returns the
stored one, so of two writers of the same look the first wins and both get its row.

Looks are not changes to an experiment: recording one leaves its version, the global
version and the audit log alone (pollers do not wake up for read-outs).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from numbers import Integral, Real
from typing import Any

import sqlalchemy as sa

from champion.errors import InvalidArgument
from champion.registry.connection import translate_errors
from champion.registry.records import LookRecord, rebuild_spec
from champion.registry.rows import nan_as_null, not_found, to_look
from champion.registry.schema import experiments, looks

__all__ = ["DECISIONS", "check_look", "read_looks", "record_look"]

# What a look may decide; "keep" and "extend" decide nothing yet.
DECISIONS = ("rollout_full", "rollout_gradual", "keep", "extend", "rollback")

_FLOATS = ("statistic", "boundary", "alpha_spent", "max_information")


def _name(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 128:
        raise InvalidArgument(field, value, "a non-empty name of at most 128 characters")
    return value


def _number(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidArgument(field, value, "a number (NaN and infinities allowed)")
    return float(value)


def _is_bool(value: object) -> bool:
    """A bool, or numpy's (what ``t >= 1.0`` gives for a numpy float), without importing it."""
    kind = type(value)
    return kind is bool or (kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"))


def check_look(look: LookRecord) -> dict[str, Any]:
    """The row ``look`` is stored as; InvalidArgument naming the first field out of range."""
    if not isinstance(look, LookRecord):
        raise InvalidArgument("look", type(look).__name__, "a LookRecord")
    row: dict[str, Any] = {
        "experiment": _name("experiment", look.experiment),
        "variant": _name("variant", look.variant),
    }
    if isinstance(look.index, bool) or not isinstance(look.index, Integral) or look.index < 1:
        raise InvalidArgument("index", look.index, "the look's number, counted from 1")
    row["idx"] = int(look.index)
    if not isinstance(look.at, datetime) or look.at.utcoffset() is None:
        raise InvalidArgument("at", look.at, "a timezone-aware datetime (e.g. datetime.now(UTC))")
    row["at"] = look.at.astimezone(UTC)
    fraction = _number("information_fraction", look.information_fraction)
    if not math.isfinite(fraction) or fraction < 0:
        raise InvalidArgument(
            "information_fraction", look.information_fraction, "a finite number, 0 or more"
        )
    row["information_fraction"] = fraction
    for field in _FLOATS:
        row[field] = nan_as_null(_number(field, getattr(look, field)))
    if row["alpha_spent"] is not None and not 0 <= row["alpha_spent"] <= 1:
        raise InvalidArgument("alpha_spent", look.alpha_spent, "a probability in [0, 1], or NaN")
    if look.decision not in DECISIONS:
        raise InvalidArgument("decision", look.decision, f"one of {', '.join(DECISIONS)}")
    row["decision"] = look.decision
    if not _is_bool(look.final):
        raise InvalidArgument("final", look.final, "True or False")
    row["final"] = bool(look.final)
    return row


def _one(experiment: str, variant: str, index: int) -> sa.Select:
    return sa.select(looks).where(
        looks.c.experiment == experiment, looks.c.variant == variant, looks.c.idx == index
    )


def _stored(conn: sa.Connection, experiment: str, variant: str, index: int) -> LookRecord | None:
    row = conn.execute(_one(experiment, variant, index)).one_or_none()
    return None if row is None else to_look(row)


def _exists(conn: sa.Connection, name: str) -> bool:
    found = conn.execute(sa.select(experiments.c.name).where(experiments.c.name == name))
    return found.first() is not None


def record_look(writer: sa.Engine, shown: str, look: LookRecord) -> LookRecord:
    """Store ``look`` unless its (experiment, variant, index) is stored; return the stored row.

    ``writer`` is the registry's writing engine (BEGIN IMMEDIATE on SQLite, so a second
    writer finds the first one's row). On PostgreSQL two writers can both find nothing;
    the second's insert waits for the first to commit, fails on the unique constraint and
    reads the first one's row instead.
    """
    row = check_look(look)
    key = (row["experiment"], row["variant"], row["idx"])
    try:
        with translate_errors(shown), writer.begin() as conn:
            text = conn.execute(
                sa.select(experiments.c.spec).where(experiments.c.name == key[0])
            ).scalar_one_or_none()
            if text is None:
                raise not_found(conn, key[0])
            found = _stored(conn, *key)
            if found is not None:
                return found
            challengers = rebuild_spec(text, key[0]).challengers
            if key[1] not in challengers:
                raise InvalidArgument(
                    "variant",
                    key[1],
                    f"one of the challengers of {key[0]!r}: {', '.join(challengers)}",
                )
            conn.execute(sa.insert(looks).values(**row))
            return to_look(conn.execute(_one(*key)).one())  # as every later reader gets it
    except sa.exc.IntegrityError:  # a concurrent writer stored this look first
        with translate_errors(shown), writer.connect() as conn:
            found = _stored(conn, *key)
        if found is None:
            raise
        return found


def read_looks(engine: sa.Engine, shown: str, name: str, variant: str | None) -> list[LookRecord]:
    """The looks of ``name`` (of one ``variant`` if given), by variant, then index."""
    query = sa.select(looks).where(looks.c.experiment == name)
    if variant is not None:
        query = query.where(looks.c.variant == variant)
    with translate_errors(shown), engine.connect() as conn:
        rows = conn.execute(query.order_by(looks.c.variant, looks.c.idx)).all()
        if not rows and not _exists(conn, name):
            raise not_found(conn, name)
    return [to_look(r) for r in rows]
