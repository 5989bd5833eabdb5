"""The PostgreSQL fixture gives a real, empty, writable database."""

import sqlalchemy as sa


def test_fresh_database_is_real_and_empty(postgres_url):
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        assert (
            conn.execute(
                sa.text("select count(*) from pg_tables where schemaname = 'public'")
            ).scalar()
            == 0
        )
        conn.execute(sa.text("create table t (x int)"))
        conn.execute(sa.text("insert into t values (1), (2)"))
        assert conn.execute(sa.text("select sum(x) from t")).scalar() == 3
    engine.dispose()
