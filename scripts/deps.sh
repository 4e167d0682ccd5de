#!/usr/bin/env bash
# Installs what impact needs on a fresh Debian machine, skipping what is there.
#   scripts/deps.sh demo   ClickHouse server (the demo starts its own)
#   scripts/deps.sh test   + ZooKeeper (cluster test), chdb (current ClickHouse
#                            engine for SQL checks), Chromium (brief rendering
#                            test), Kafka broker jars (Java 17+, Maven),
#                            golangci-lint (tools/go.mod)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-demo}

if [ "$mode" = test ]; then
	bash scripts/ensure-clickhouse.sh --zookeeper
else
	bash scripts/ensure-clickhouse.sh
fi
go mod download

if [ "$mode" = test ]; then
	# The linter of scripts/lint.sh (golangci-lint, pinned in tools/go.mod),
	# built once per version into the Go build cache: about 2.5 CPU minutes
	# on a fresh machine.
	go -C tools tool -n golangci-lint >/dev/null
	bash scripts/ensure-chdb.sh
	if ! command -v chromium >/dev/null 2>&1; then
		SUDO=""
		[ "$(id -u)" -eq 0 ] || SUDO="sudo"
		export DEBIAN_FRONTEND=noninteractive
		# A fresh image has no package index (only lock, partial/, auxfiles/).
		ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || $SUDO apt-get update -qq
		$SUDO apt-get install -y -qq chromium >/dev/null || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null; }
		command -v chromium >/dev/null 2>&1 || { echo "deps: chromium still missing after apt-get install" >&2; exit 1; }
	fi
	bash scripts/kafka-broker.sh fetch
fi
