"""Real Postgres clients against `minerva serve`, one scenario per run.

    python clients.py HOST PORT SCENARIO [ARG…]

Exits 0 and prints what it checked, or raises. Used by tests/integration/pg_server.rs.
"""
import datetime
import decimal
import sys
import threading
import time

import psycopg
import sqlalchemy

HOST, PORT, SCENARIO, *ARGS = sys.argv[1:]
DSN = f"host={HOST} port={PORT} user=analyst dbname=minerva connect_timeout=20"


def types_and_parameters():
    """Simple and extended protocol, text and binary results, typed parameters."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        # The simple protocol (no parameters) and the extended one agree.
        simple = conn.execute("SELECT count(*) FROM views").fetchone()[0]
        extended = conn.execute("SELECT count(*) FROM views WHERE dt >= %s", (datetime.date(2000, 1, 1),)).fetchone()[0]
        assert simple == extended > 0, (simple, extended)
        # Parameters of each type, compared with the same literal in SQL.
        (day,) = conn.execute("SELECT min(dt) FROM views").fetchone()
        assert isinstance(day, datetime.date), day
        by_param = conn.execute("SELECT count(*) FROM views WHERE dt = %s", (day,)).fetchone()[0]
        by_literal = conn.execute(f"SELECT count(*) FROM views WHERE dt = DATE '{day.isoformat()}'").fetchone()[0]
        assert by_param == by_literal > 0, (by_param, by_literal)
        (region,) = conn.execute("SELECT region FROM views ORDER BY region LIMIT 1").fetchone()
        n_text = conn.execute("SELECT count(*) FROM views WHERE region = %s", (region,)).fetchone()[0]
        n_lit = conn.execute("SELECT count(*) FROM views WHERE region = '" + region.replace("'", "''") + "'").fetchone()[0]
        assert n_text == n_lit > 0, (region, n_text, n_lit)
        (listing,) = conn.execute("SELECT max(listing_id) FROM views").fetchone()
        n_int = conn.execute("SELECT count(*) FROM views WHERE listing_id = %s", (listing,)).fetchone()[0]
        assert n_int > 0
        # Types round trip, in text and in binary.
        sql = ("SELECT DATE '2024-02-29' AS d, TIMESTAMP '2024-01-02 03:04:05.123456' AS ts, "
               "CAST(12.34 AS DECIMAL(10, 2)) AS dec, CAST(1.5 AS DOUBLE) AS f, "
               "CAST(7 AS BIGINT) AS i, 'é 서울' AS s, true AS b, CAST(NULL AS VARCHAR) AS n, "
               "ARRAY[1, 2, 3] AS a")
        expected = (datetime.date(2024, 2, 29), datetime.datetime(2024, 1, 2, 3, 4, 5, 123456),
                    decimal.Decimal("12.34"), 1.5, 7, "é 서울", True, None, [1, 2, 3])
        for binary in (False, True):
            row = conn.cursor(binary=binary).execute(sql).fetchone()
            assert row == expected, (binary, row)
        # A parameter of the wrong kind is the client's error, with a SQLSTATE.
        try:
            conn.execute("SELECT count(*) FROM views WHERE listing_id = %s", ("not a number",))
            raise AssertionError("a text parameter for a bigint was accepted")
        except psycopg.Error as error:
            assert error.sqlstate, error
        # A prepared statement runs many times.
        for _ in range(3):
            conn.execute("SELECT count(*) FROM views WHERE listing_id = %s", (listing,), prepare=True)
        # A server-side cursor streams in pieces.
        with conn.transaction():
            with conn.cursor(name="pages") as cursor:
                cursor.execute("SELECT listing_id FROM views ORDER BY listing_id")
                first = cursor.fetchmany(10)
                rest = cursor.fetchall()
        assert len(first) == 10 and len(first) + len(rest) == simple, (len(first), len(rest))
        # Errors name the problem and carry a SQLSTATE.
        try:
            conn.execute("SELECT * FROM no_such_table")
            raise AssertionError("an unknown table was accepted")
        except psycopg.errors.UndefinedTable as error:
            assert "no_such_table" in str(error), error
        # The connection still works after an error.
        assert conn.execute("SELECT 1").fetchone() == (1,)
    print("types and parameters: ok")


def sqlalchemy_inspector():
    """What Superset and Metabase-like tools do: reflect schemas, tables and columns."""
    engine = sqlalchemy.create_engine(f"postgresql+psycopg://analyst@{HOST}:{PORT}/minerva")
    inspector = sqlalchemy.inspect(engine)
    schemas = inspector.get_schema_names()
    assert "default" in schemas, schemas
    tables = inspector.get_table_names(schema="default")
    assert "views" in tables, tables
    columns = {c["name"]: str(c["type"]) for c in inspector.get_columns("views", schema="default")}
    assert columns.get("dt") == "DATE", columns
    assert columns.get("user_id") == "BIGINT", columns
    assert columns.get("region") in ("TEXT", "VARCHAR"), columns
    with engine.connect() as conn:
        n = conn.execute(sqlalchemy.text("SELECT count(*) FROM views WHERE dt >= :d"), {"d": datetime.date(2000, 1, 1)}).scalar()
        assert n > 0
    print(f"sqlalchemy: {len(tables)} tables, {len(columns)} columns of views: ok")


def concurrent(n_clients, expected):
    """Many connections at once, each running a query: every answer right."""
    answers, errors = [], []

    def client(i):
        try:
            with psycopg.connect(DSN, autocommit=True) as conn:
                answers.append(conn.execute("SELECT count(*) FROM views WHERE listing_id >= %s", (i - i,)).fetchone()[0])
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert answers == [expected] * n_clients, answers
    print(f"{n_clients} concurrent clients: ok")


def cancel():
    """A cancel request stops a long query; the connection goes on."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        timer = threading.Timer(1.0, conn.cancel)
        timer.start()
        started = time.monotonic()
        try:
            conn.execute("SELECT count(*) FROM views a CROSS JOIN views b CROSS JOIN views c").fetchone()
            raise AssertionError("the long query was not cancelled")
        except psycopg.errors.QueryCanceled:
            pass
        took = time.monotonic() - started
        assert took < 30, took
        assert conn.execute("SELECT 1").fetchone() == (1,)
    print(f"cancel: stopped after {took:.1f} s: ok")


def connection_limit(limit):
    """Past the limit a connection is refused with SQLSTATE 53300; below it, served."""
    held = [psycopg.connect(DSN) for _ in range(limit)]
    try:
        psycopg.connect(DSN)
        raise AssertionError("a connection past the limit was served")
    except psycopg.OperationalError as error:
        assert "too many clients" in str(error), error
    held.pop().close()
    time.sleep(0.5)
    with psycopg.connect(DSN) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    for conn in held:
        conn.close()
    print("connection limit: ok")


SCENARIOS = {
    "types": types_and_parameters,
    "sqlalchemy": sqlalchemy_inspector,
    "concurrent": lambda: concurrent(int(ARGS[0]), int(ARGS[1])),
    "cancel": cancel,
    "limit": lambda: connection_limit(int(ARGS[0])),
}

SCENARIOS[SCENARIO]()
