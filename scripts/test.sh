#!/usr/bin/env bash
# The README's test command (`make test`), also what CI runs (.ci/run).
# Installs what is missing, starts a real Apache Kafka broker (ClickHouse
# servers are started by the tests themselves), runs vet and every test
# against the real broker, a one-minute fuzz run of the event decoder and a
# half-minute one of the webhook mappers, and stops the broker whatever
# happens.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh test

export KAFKA_STATE_DIR
KAFKA_STATE_DIR=$(mktemp -d -t impact-kafka-XXXXXX)
stop_kafka() { bash scripts/kafka-broker.sh stop || true; rm -rf "$KAFKA_STATE_DIR"; }
trap stop_kafka EXIT

eval "$(bash scripts/kafka-broker.sh start)"
export IMPACT_KAFKA_BROKERS
export IMPACT_TEST_KAFKA=real
echo "real Kafka broker at $IMPACT_KAFKA_BROKERS"

echo "== go vet"
go vet ./...

echo "== golangci-lint (pinned in tools/go.mod, settings in .golangci.yml)"
bash scripts/lint.sh

echo "== go test (real Kafka, local ClickHouse servers started by the tests)"
go test -count=1 -timeout 40m ${TEST_FLAGS:-} ./...

echo "== fuzz the event decoder for one minute"
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime "${FUZZTIME:-60s}" ./schemas/

echo "== fuzz the webhook mappers for half a minute"
go test -run '^$' -fuzz '^FuzzMappers$' -fuzztime "${FUZZTIME_MAPPERS:-30s}" ./ingest/gateway/
