# Runs SQL statements through chdb (an embedded current ClickHouse) and
# reports, as JSON on stdout, which ones failed. Input, as JSON on stdin:
# {"database": "impact", "parse_only": false, "statements": ["...", ...]}.
# Exit status 3 means chdb could not be imported.
import json
import shutil
import sys
import tempfile

try:
    import chdb
    from chdb import session as chs
except Exception as e:  # ImportError, or a broken wheel
    sys.stderr.write("import chdb: %s: %s\n" % (type(e).__name__, e))
    sys.exit(3)

req = json.load(sys.stdin)
path = tempfile.mkdtemp(prefix="impact-chdb-")
out = {"version": "", "results": []}
try:
    s = chs.Session(path)
    out["version"] = str(s.query("SELECT version()", "TabSeparated")).strip()
    db = req.get("database") or "impact"
    # The database is created for real even in parse mode, so statements
    # naming it resolve; it uses the current default (Atomic) engine.
    s.query("CREATE DATABASE IF NOT EXISTS %s" % db)
    s.query("USE %s" % db)
    parse_only = bool(req.get("parse_only"))
    for i, stmt in enumerate(req["statements"]):
        q = ("EXPLAIN AST " + stmt) if parse_only else stmt
        try:
            s.query(q, "TabSeparated")
            out["results"].append({"index": i, "ok": True})
        except Exception as e:
            out["results"].append({"index": i, "ok": False, "error": str(e).strip()})
    s.close()
finally:
    shutil.rmtree(path, ignore_errors=True)
json.dump(out, sys.stdout)
