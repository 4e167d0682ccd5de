#!/usr/bin/env bash
# Makes sure python3 can import chdb (an embedded current ClickHouse; the
# SQL checks of internal/sqlcheck run every migration, model and dashboard
# query through it). Idempotent.
set -euo pipefail

CHDB_VERSION=${CHDB_VERSION:-4.4.0}
PY=${IMPACT_PYTHON:-python3}

if "$PY" -c "import chdb" >/dev/null 2>&1; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

if ! "$PY" -m pip --version >/dev/null 2>&1; then
	echo "ensure-chdb: installing python3-pip (apt)" >&2
	export DEBIAN_FRONTEND=noninteractive
	# A fresh image has no package index (only lock, partial/, auxfiles/).
	if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
		$SUDO apt-get update -qq
	fi
	$SUDO apt-get install -y -qq python3-pip >/dev/null || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-pip >/dev/null; }
fi

echo "ensure-chdb: installing chdb==$CHDB_VERSION (pip)" >&2
# Debian's own python refuses pip installs into the system environment
# (PEP 668); chdb is a self-contained wheel, so override that there.
if ! "$PY" -m pip install --quiet "chdb==$CHDB_VERSION" 2>/tmp/ensure-chdb.$$; then
	if grep -q externally-managed /tmp/ensure-chdb.$$; then
		"$PY" -m pip install --quiet --break-system-packages "chdb==$CHDB_VERSION"
	else
		cat /tmp/ensure-chdb.$$ >&2
		rm -f /tmp/ensure-chdb.$$
		exit 1
	fi
fi
rm -f /tmp/ensure-chdb.$$

"$PY" -c "import chdb" || { echo "ensure-chdb: chdb installed but not importable by $PY" >&2; exit 1; }
