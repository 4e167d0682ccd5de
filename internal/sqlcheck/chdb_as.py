# Runs setup statements as chdb's unrestricted default user, then queries as
# a restricted user, and reports each query's answer as JSON on stdout.
# chdb (clickhouse-local) always runs as the user "default", so the
# restricted user is the users file's "default": the second session opens
# the same data directory with a configuration whose users_config is that
# file. Input, as JSON on stdin:
# {"setup": ["...", ...], "users_xml": "<clickhouse>...", "queries": ["...", ...]}
# Exit status 3 means chdb could not be imported.
import json
import os
import shutil
import sys
import tempfile

try:
    from chdb import session as chs
except Exception as e:  # ImportError, or a broken wheel
    sys.stderr.write("import chdb: %s: %s\n" % (type(e).__name__, e))
    sys.exit(3)

req = json.load(sys.stdin)
tmp = tempfile.mkdtemp(prefix="impact-chdb-as-")
out = {"version": "", "setup": [], "results": []}
try:
    data = os.path.join(tmp, "data")
    s = chs.Session(data)
    out["version"] = str(s.query("SELECT version()", "TabSeparated")).strip()
    for i, stmt in enumerate(req["setup"]):
        try:
            s.query(stmt, "TabSeparated")
        except Exception as e:
            out["setup"].append({"index": i, "error": str(e).strip()})
    s.close()
    users = os.path.join(tmp, "users.xml")
    with open(users, "w") as f:
        f.write(req["users_xml"])
    cfg = os.path.join(tmp, "config.xml")
    with open(cfg, "w") as f:
        f.write("<clickhouse><users_config>%s</users_config></clickhouse>" % users)
    s = chs.Session(data + "?config-file=" + cfg)
    out["user"] = str(s.query("SELECT currentUser()", "TabSeparated")).strip()
    for i, q in enumerate(req["queries"]):
        try:
            rows = str(s.query(q, "TabSeparated"))
            out["results"].append({"index": i, "ok": True, "rows": rows})
        except Exception as e:
            out["results"].append({"index": i, "ok": False, "error": str(e).strip()})
    s.close()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
json.dump(out, sys.stdout)
