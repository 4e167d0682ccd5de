#!/usr/bin/env bash
# Installs what impact needs on a fresh Debian machine, skipping what is there.
#   scripts/deps.sh demo   ClickHouse server (the demo starts its own)
#   scripts/deps.sh test   + chdb (current ClickHouse engine for SQL checks),
#                            Chromium (brief rendering test), Kafka broker jars
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-demo}

bash scripts/ensure-clickhouse.sh
go mod download

if [ "$mode" = test ]; then
	bash scripts/ensure-chdb.sh
	if ! command -v chromium >/dev/null 2>&1; then
		export DEBIAN_FRONTEND=noninteractive
		[ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || apt-get update -qq
		apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	fi
	bash scripts/kafka-broker.sh fetch
fi
