#!/usr/bin/env bash
# The README's test command (`make test`), also what CI runs (.ci/run).
# Installs what is missing, starts a real Apache Kafka broker (ClickHouse
# servers are started by the tests themselves), runs vet, golangci-lint
# (scripts/lint.sh) and every test against the real broker (those of the
# packages that start goroutines with -race), a one-minute fuzz run of the
# event decoder and a half-minute one of the webhook mappers, and stops the
# broker whatever happens.
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

# The packages that start goroutines, or whose tests run concurrent clients,
# run under the race detector; the others (pure functions, the CPU-heavy
# decoder and SQL checks) without it, where it would only slow them 2-10x.
# The child processes that tests start (`impact ingest`, `impact demo`) are
# built without it: the crash, soak and memory tests measure their RSS.
RACE_PKGS=(./cmd/impact ./dashboards/... ./deploy ./ingest/... ./internal/chconn ./internal/chlocal ./internal/demo
	./internal/kafkaio ./internal/kafkalocal ./internal/mail/... ./internal/simulate ./schemas/migrations ./transform/...)
race_pkgs=$(go list "${RACE_PKGS[@]}")
other_pkgs=$(go list ./... | grep -vxF -f <(printf '%s\n' "$race_pkgs"))
# A package whose code starts a goroutine must be in RACE_PKGS.
for dir in $(grep -rlE --include='*.go' --exclude='*_test.go' '^[[:space:]]+go (func|[A-Za-z_][A-Za-z0-9_.]*\()' . | xargs -n1 dirname | sort -u); do
	pkg=$(go list "$dir")
	if ! grep -qxF "$pkg" <<<"$race_pkgs"; then
		echo "scripts/test.sh: $pkg starts goroutines: add it to RACE_PKGS" >&2
		exit 1
	fi
done

echo "== go test -race (real Kafka, local ClickHouse servers started by the tests)"
go test -race -count=1 -timeout 40m ${TEST_FLAGS:-} $race_pkgs

echo "== go test, the other packages"
go test -count=1 -timeout 40m ${TEST_FLAGS:-} $other_pkgs

echo "== fuzz the event decoder for one minute"
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime "${FUZZTIME:-60s}" ./schemas/

echo "== fuzz the webhook mappers for half a minute"
go test -run '^$' -fuzz '^FuzzMappers$' -fuzztime "${FUZZTIME_MAPPERS:-30s}" ./ingest/gateway/
