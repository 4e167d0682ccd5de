#!/usr/bin/env bash
# Makes sure a ClickHouse server binary exists for the tests and the demo,
# which start their own servers (internal/chlocal) on free loopback ports,
# and, with --zookeeper, ZooKeeper for the cluster tests (replicated tables
# and ON CLUSTER DDL on a local 2x2 cluster; the demo does not need it, and
# it pulls in a JRE). Installs Debian's clickhouse-server, clickhouse-client
# and zookeeper when missing, and keeps the packages from starting their
# system services: nothing should listen on the default ports behind the
# tests' back. Idempotent.
#
#   scripts/ensure-clickhouse.sh               ClickHouse only (demo)
#   scripts/ensure-clickhouse.sh --zookeeper   ClickHouse and ZooKeeper (tests)
set -euo pipefail

want_zookeeper=""
case ${1:-} in
--zookeeper) want_zookeeper=1 ;;
"") ;;
*) echo "usage: $0 [--zookeeper]" >&2; exit 2 ;;
esac

have_server() {
	command -v clickhouse-server >/dev/null 2>&1 ||
		[ -x /usr/sbin/clickhouse-server ] ||
		[ -x /usr/bin/clickhouse-server ] ||
		command -v clickhouse >/dev/null 2>&1
}

have_zookeeper() { [ -f /usr/share/java/zookeeper.jar ]; }

pkgs=()
have_server || pkgs+=(clickhouse-server clickhouse-client)
[ -z "$want_zookeeper" ] || have_zookeeper || pkgs+=(zookeeper)
if [ ${#pkgs[@]} -eq 0 ]; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

# policy-rc.d exit status 101 tells invoke-rc.d (the package's postinst)
# not to start the service. Only remove it if we created it.
created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	created_policy=1
fi
cleanup() { if [ -n "$created_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

echo "ensure-clickhouse: installing ${pkgs[*]} (apt)" >&2
# Update the package lists once, only when they are missing or the
# install fails on stale lists.
# A fresh image has no package index (only lock, partial/, auxfiles/).
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
	$SUDO apt-get update -qq
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; then
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# A service started anyway (systemd ignores policy-rc.d) is stopped and
# disabled; failures here just mean there was none.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	$SUDO systemctl disable --now clickhouse-server zookeeper >/dev/null 2>&1 || true
fi

have_server || { echo "ensure-clickhouse: clickhouse-server still missing after apt-get install" >&2; exit 1; }
[ -z "$want_zookeeper" ] || have_zookeeper || { echo "ensure-clickhouse: zookeeper still missing after apt-get install" >&2; exit 1; }
