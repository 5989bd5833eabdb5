"""The registry's tables, in SQLAlchemy Core so SQLite and PostgreSQL share one schema.

- ``champion_experiments``: one row per experiment, its current state. Every write bumps
  ``version`` under ``WHERE version = :expected`` (optimistic concurrency) and stamps ``seq``.
- ``champion_audit_log``: one row per change, inserted and never updated or deleted.
- ``champion_meta``: small integer settings; ``global_version`` is bumped in the same
  transaction as every change, so its row lock orders commits and pollers never miss one.
- ``champion_looks``: the look ledger, one row per decision point of a challenger,
  inserted once and never updated. NaN is stored as NULL (SQLite cannot hold NaN) and read
  back as NaN; infinities are stored as they are.
- ``champion_evidence``: the numbers behind a change (a monitor's stop: window, estimate,
  bound, limit, k/K), one JSON row per audit row that has any, written in its transaction.
- ``champion_monitor_windows``: the monitor's window ledger: serving sums of one variant in
  one closed guardrail window, inserted once (the first monitor to close a window wins)
  and never updated, so monitors keep no state of their own.

Adding a table does not change ``SCHEMA_VERSION``: ``create_all`` adds a missing table to a
database made before it existed, and an older champion ignores a table it does not know.
"""

from __future__ import annotations

import sqlalchemy as sa

from champion.errors import RegistryUnavailable
from champion.registry.connection import translate_errors

__all__ = [
    "GLOBAL_VERSION",
    "SCHEMA_VERSION",
    "audit_log",
    "ensure_schema",
    "evidence",
    "experiments",
    "looks",
    "meta",
    "metadata",
    "windows",
]

SCHEMA_VERSION = 1
GLOBAL_VERSION = "global_version"

metadata = sa.MetaData()

experiments = sa.Table(
    "champion_experiments",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("allocation", sa.JSON, nullable=False),
    sa.Column("stage", sa.Integer, nullable=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=False),
    # The global version of this row's last change: pollers ask for ``seq > since``.
    sa.Column("seq", sa.BigInteger, nullable=False, index=True),
)

audit_log = sa.Table(
    "champion_audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "experiment", sa.String(128), sa.ForeignKey("champion_experiments.name"), nullable=False
    ),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("allocation", sa.JSON, nullable=False),
    sa.Column("stage", sa.Integer, nullable=True),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    # A second writer of the same version fails here even if the version check were bypassed.
    sa.UniqueConstraint("experiment", "version", name="uq_champion_audit_version"),
)

meta = sa.Table(
    "champion_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)


looks = sa.Table(
    "champion_looks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "experiment", sa.String(128), sa.ForeignKey("champion_experiments.name"), nullable=False
    ),
    sa.Column("variant", sa.String(128), nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("information_fraction", sa.Double, nullable=False),
    # NULL stands for NaN (a statistic that could not be computed, a fixed design's spend).
    sa.Column("statistic", sa.Double, nullable=True),
    sa.Column("boundary", sa.Double, nullable=True),
    sa.Column("alpha_spent", sa.Double, nullable=True),
    sa.Column("max_information", sa.Double, nullable=True),
    sa.Column("decision", sa.String(32), nullable=False),
    sa.Column("final", sa.Boolean, nullable=False),
    # The first writer of a look wins; a second insert of the same look fails here.
    sa.UniqueConstraint("experiment", "variant", "idx", name="uq_champion_look"),
)


evidence = sa.Table(
    "champion_evidence",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "experiment", sa.String(128), sa.ForeignKey("champion_experiments.name"), nullable=False
    ),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.UniqueConstraint("experiment", "version", name="uq_champion_evidence"),
)

windows = sa.Table(
    "champion_monitor_windows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "experiment", sa.String(128), sa.ForeignKey("champion_experiments.name"), nullable=False
    ),
    sa.Column("start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("seconds", sa.Double, nullable=False),
    sa.Column("variant", sa.String(128), nullable=False),
    sa.Column("requests", sa.BigInteger, nullable=False),
    sa.Column("errors", sa.BigInteger, nullable=False),
    # per unit bucket: requests, errors, latency sums; latency histogram bins {bin: count}
    sa.Column("sums", sa.JSON, nullable=False),
    sa.UniqueConstraint("experiment", "start", "variant", name="uq_champion_window"),
)


def ensure_schema(engine: sa.Engine, shown: str) -> None:
    """Create missing tables and the counter row; refuse a schema from a newer champion.

    Two processes opening a fresh PostgreSQL database at once may both try to create the
    tables; the loser's transaction fails and is retried once, finding them in place.
    """
    for attempt in (1, 2):
        try:
            with translate_errors(shown), engine.begin() as conn:
                metadata.create_all(conn, checkfirst=True)
                found = {r.key: r.value for r in conn.execute(sa.select(meta.c.key, meta.c.value))}
                if "schema_version" not in found:
                    conn.execute(
                        sa.insert(meta),
                        [
                            {"key": "schema_version", "value": SCHEMA_VERSION},
                            {"key": GLOBAL_VERSION, "value": 0},
                        ],
                    )
                elif found["schema_version"] > SCHEMA_VERSION:
                    raise RegistryUnavailable(
                        shown,
                        f"its tables use schema {found['schema_version']}, newer than this "
                        f"champion's {SCHEMA_VERSION}",
                        "upgrade champion (pip install -U champion)",
                    )
            return
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError) as e:
            if attempt == 2:
                raise RegistryUnavailable(
                    shown, f"cannot create the registry tables ({e.orig})", "check permissions"
                ) from e
