#!/usr/bin/env python3
"""Breaks a tuning database or a tuning export in one named way (for lit tests).

usage: make_bad_tune_db.py corrupt SRC.db DST.db
       make_bad_tune_db.py KIND SRC.json DST.json

corrupt: a copy of the database whose records table's root page is
overwritten: the file still opens (its first page, the schema and the meta
table are whole), but reading the records fails with SQLITE_CORRUPT.

Every other KIND writes the first two records of the export, then a third
(a copy of the first under another key) broken in that way:
  no-field       without its "kernel"
  tile-n-zero    its schedule's tile_n = 0
  negative-time  objective_us = -1
  infinite-time  default_decode_us = 1e999 (infinity once parsed)
  bad-schedule   a schedule xfmr does not read
"""
import json
import shutil
import sqlite3
import sys


def corrupt(src, dst):
    # Fold the WAL into the file first, so its bytes hold every record.
    c = sqlite3.connect(src)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    shutil.copyfile(src, dst)
    c = sqlite3.connect(dst)
    (root,) = c.execute("SELECT rootpage FROM sqlite_master WHERE name='records'").fetchone()
    (page,) = c.execute("PRAGMA page_size").fetchone()
    c.close()
    assert root > 2, "the records table shares the header or meta page"
    with open(dst, "r+b") as f:
        f.seek((root - 1) * page)
        f.write(b"\xff" * page)  # no valid b-tree page type


def break_export(kind, src, dst):
    with open(src) as f:
        doc = json.load(f)
    records = doc["records"]
    assert len(records) >= 2
    bad = dict(records[0])
    bad["kernel"] += " (another key)"
    placeholder = None
    if kind == "no-field":
        del bad["kernel"]
    elif kind == "tile-n-zero":
        s = bad["schedule"]
        start = s.index("tile_n = ") + len("tile_n = ")
        bad["schedule"] = s[:start] + "0" + s[s.index(",", start):]
    elif kind == "negative-time":
        bad["objective_us"] = -1
    elif kind == "infinite-time":
        placeholder = "@INFINITY@"  # json.dump writes no valid JSON for inf
        bad["default_decode_us"] = placeholder
    elif kind == "bad-schedule":
        bad["schedule"] = "#xfmr.schedule<fast>"
    else:
        sys.exit("unknown kind " + kind)
    doc["records"] = records[:2] + [bad]
    text = json.dumps(doc, indent=1)
    if placeholder:
        text = text.replace('"' + placeholder + '"', "1e999")
    with open(dst, "w") as f:
        f.write(text)


def main():
    kind, src, dst = sys.argv[1:4]
    if kind == "corrupt":
        corrupt(src, dst)
    else:
        break_export(kind, src, dst)


if __name__ == "__main__":
    main()
