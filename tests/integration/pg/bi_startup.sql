-- What BI tools and drivers send at connect time, replayed statement by statement
-- (tests/integration/pg_server.rs runs each through psql and expects no error).

-- PostgreSQL JDBC driver (DBeaver, Metabase, Tableau's JDBC connector)
SET extra_float_digits = 3;
SET application_name = 'PostgreSQL JDBC Driver';
SELECT current_schema(), session_user;
SHOW search_path;
SELECT n.oid, n.*, d.description FROM pg_catalog.pg_namespace n LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid = n.oid AND d.objsubid = 0 AND d.classoid = 'pg_namespace'::regclass ORDER BY nspname;
SELECT db.oid, db.* FROM pg_catalog.pg_database db WHERE datname = 'minerva';
SELECT * FROM pg_catalog.pg_settings WHERE name = 'standard_conforming_strings';
SELECT version();
SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME, CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'v' THEN 'VIEW' ELSE NULL END AS TABLE_TYPE, d.description AS REMARKS FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0) WHERE c.relnamespace = n.oid AND c.relname LIKE '%' ORDER BY TABLE_TYPE, TABLE_SCHEM, TABLE_NAME;
SELECT n.nspname, c.relname, a.attname, a.atttypid, a.attnotnull, a.atttypmod, a.attlen, a.attnum, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid) JOIN pg_catalog.pg_attribute a ON (a.attrelid = c.oid) WHERE c.relkind IN ('r', 'p', 'v', 'f', 'm') AND a.attnum > 0 AND NOT a.attisdropped AND c.relname LIKE 'views' ORDER BY nspname, c.relname, attnum;

-- Tableau (its PostgreSQL connector)
SET DateStyle = 'ISO';
SHOW transaction_isolation;
SELECT oid, typbasetype FROM pg_type WHERE typname = 'lo';
SELECT nspname FROM pg_namespace WHERE nspname = 'default';
BEGIN;
DECLARE "SQL_CUR0001" CURSOR WITH HOLD FOR SELECT relname, nspname, relkind FROM pg_catalog.pg_class c, pg_catalog.pg_namespace n WHERE relkind IN ('r', 'v', 'm', 'f', 'p') AND nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.oid = relnamespace ORDER BY nspname, relname;
FETCH 2048 IN "SQL_CUR0001";
CLOSE "SQL_CUR0001";
COMMIT;
SELECT "views"."region" AS "region", SUM(1) AS "sum:Number of Records:ok" FROM "default"."views" "views" GROUP BY 1;

-- Power BI and other ODBC/Npgsql-style clients
SELECT current_database();
SELECT current_setting('server_version_num');
SHOW server_version;
DISCARD ALL;

-- psql's \l, \dn, \dt and \d views (the last one's main query)
SELECT d.datname AS "Name", pg_catalog.pg_get_userbyid(d.datdba) AS "Owner", pg_catalog.pg_encoding_to_char(d.encoding) AS "Encoding" FROM pg_catalog.pg_database d ORDER BY 1;
SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(views)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3;
