"""The benchmark's CPU accounting: what the database server used is read from its processes."""

from __future__ import annotations

from django.db import connection

from bench.api_load import postgres_cpu_s


def test_the_database_servers_cpu_grows_with_the_work_it_is_given(db):
    if connection.vendor == "sqlite":
        # on SQLite there is no server: the database's work is the web processes' own
        assert postgres_cpu_s() is None
        return
    # given the server's CPU so far
    before = postgres_cpu_s()
    assert before is not None and before > 0

    # when a query keeps one of its processes busy for a while
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM generate_series(1, 5000000)")

    # then its CPU has grown by about that while (ticks are 10 ms)
    assert postgres_cpu_s() - before >= 0.05
