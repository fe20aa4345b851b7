#!/usr/bin/env python3
"""clean_dump.py sqlite|postgres RAW.sql OUT.sql

Turn `sqlite3 DB .dump` or `pg_dump --no-owner --no-privileges --inserts
--schema=public` output into one plain SQL script that recreates the store
in a fresh, empty database (SQLite) or in whatever schema is first on the
search_path (PostgreSQL), executable in a single multi-statement Exec.
"""
import re
import sys

mode, raw, out = sys.argv[1:4]
lines = open(raw, encoding="utf-8").read().split("\n")
keep = []
if mode == "sqlite":
    header = ("-- uapid a03dd4e (a03dd4e252c3559c74c937a56b46aeb586528c46): SQLite store (<data>/uapid.db)\n"
              "-- written by the old release; produced with `sqlite3 uapid.db .dump` minus PRAGMA/BEGIN/COMMIT.\n"
              "-- Load into a fresh, empty database.\n")
    for l in lines:
        if l in ("PRAGMA foreign_keys=OFF;", "BEGIN TRANSACTION;", "COMMIT;"):
            continue
        if l.startswith("PRAGMA ") or l.startswith("ANALYZE "):
            raise SystemExit("unexpected line: " + l)
        keep.append(l)
else:
    header = ("-- uapid a03dd4e (a03dd4e252c3559c74c937a56b46aeb586528c46): PostgreSQL store\n"
              "-- written by the old release; produced with `pg_dump --no-owner --no-privileges --inserts --schema=public`,\n"
              "-- then unqualified (no `public.`), without SET/set_config lines, psql meta-commands and comments.\n"
              "-- Objects are created in the first schema of the search_path. bytea values are '\\x..' literals\n"
              "-- (standard_conforming_strings = on, the server default).\n")
    stmt_start = True
    prev_tbl = None
    for l in lines:
        if stmt_start:
            if l.startswith("--") or l == "":
                continue
            if l.startswith("\\"):          # \restrict, \unrestrict, \connect ...
                continue
            if l.startswith("SET ") or l.startswith("SELECT pg_catalog.set_config("):
                assert l.endswith(";"), l
                continue
            if l in ("CREATE SCHEMA public;",) or l.startswith("COMMENT ON SCHEMA public "):
                continue
        if stmt_start and keep:
            tbl = l.split(" VALUES")[0] if l.startswith("INSERT ") else None
            if tbl is None or tbl != prev_tbl:
                keep.append("")
            prev_tbl = tbl
        if l.startswith("INSERT INTO public."):
            l = "INSERT INTO " + l[len("INSERT INTO public."):]
        elif not l.startswith("INSERT "):
            l = re.sub(r'(?<![\w."])public\.', "", l)
        keep.append(l)
        stmt_start = l.rstrip().endswith(";")
    body = "\n".join(keep)
    if re.search(r'(?<![\w."])public\.', "\n".join(x for x in keep if not x.startswith("INSERT "))):
        raise SystemExit("public. left")
# collapse blank runs
text = re.sub(r"\n{3,}", "\n\n", "\n".join(keep)).strip("\n") + "\n"
open(out, "w", encoding="utf-8").write(header + "\n" + text)
