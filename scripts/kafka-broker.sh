#!/usr/bin/env bash
# A real Apache Kafka broker for tests and CI: KRaft, one node acting as
# broker and controller, on free loopback ports, data in a temporary state
# directory. Needs only Java 17+ and Maven; installs both with apt-get when
# missing and fetches the Kafka jars from Maven Central (scripts/kafka/pom.xml).
#
#   scripts/kafka-broker.sh fetch    download the jars (once; cached)
#   scripts/kafka-broker.sh start    start; prints IMPACT_KAFKA_BROKERS=127.0.0.1:PORT
#   scripts/kafka-broker.sh stop     stop and delete the state directory
#   scripts/kafka-broker.sh status   print the env line if running, else exit 1
#   scripts/kafka-broker.sh cluster-id  print a new KRaft cluster id
#
# Typical use:  eval "$(scripts/kafka-broker.sh start)"; export IMPACT_KAFKA_BROKERS
#
# Environment:
#   KAFKA_STATE_DIR  where data, config, pid, env and log files go
#                    (default ${TMPDIR:-/tmp}/impact-kafka-$UID); one broker per directory
#   KAFKA_LIB_DIR    jar cache (default ~/.cache/impact/kafka-$KAFKA_VERSION/lib)
#   KAFKA_HEAP_OPTS  JVM heap (default -Xms256m -Xmx512m)
#   KAFKA_START_TIMEOUT  seconds to wait for the broker (default 120)
#   KAFKA_OWNER_PID  when set, the broker is stopped and its state removed once
#                    that process is gone (the Go launcher sets it to itself)
#
# Only the env line goes to stdout; progress and errors go to stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POM="$ROOT/scripts/kafka/pom.xml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
LIB_DIR=${KAFKA_LIB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/impact/kafka-$KAFKA_VERSION/lib}
STATE_DIR=${KAFKA_STATE_DIR:-${TMPDIR:-/tmp}/impact-kafka-$(id -u)}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}

log() { echo "kafka-broker: $*" >&2; }
die() { log "$*"; exit 1; }

# java_major prints the major version of the java on PATH (8 for 1.8), or 0.
java_major() {
	local v
	v=$(java -version 2>&1 | sed -n 's/.* version "\([0-9][0-9.]*\).*/\1/p' | head -1)
	case $v in
	1.*) v=${v#1.} ;;
	esac
	echo "${v%%.*}" | grep -E '^[0-9]+$' || echo 0
}

ensure_tools() {
	local missing=() sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	# Kafka 4.x brokers need Java 17 or later.
	if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
		missing+=(openjdk-17-jre-headless)
	fi
	command -v mvn >/dev/null 2>&1 || missing+=(maven)
	[ ${#missing[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null 2>&1 || die "need ${missing[*]} (java 17+ and mvn) and apt-get is not available"
	log "installing ${missing[*]} with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	# A fresh image has no package index (only lock, partial/, auxfiles/).
	ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || $sudo apt-get update -qq >&2
	$sudo apt-get install -y -qq "${missing[@]}" >&2 || { $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq "${missing[@]}" >&2; }
	[ "$(java_major)" -ge 17 ] || die "java on PATH is $(java_major), Kafka needs 17+ (update-alternatives --config java)"
	command -v mvn >/dev/null 2>&1 || die "mvn still missing after apt-get install"
}

# fetch downloads the broker jars once. The pom's hash is kept beside them
# so that a version change in the pom fetches again.
fetch() {
	local want marker
	want=$(sha256sum "$POM" | cut -d' ' -f1)
	marker="$LIB_DIR/.fetched"
	if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then
		return 0
	fi
	ensure_tools
	mkdir -p "$LIB_DIR"
	# Two test runs may fetch at once; the lock keeps the directory whole.
	exec 9>"$LIB_DIR/../.fetch.lock"
	flock 9
	if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then
		exec 9>&-
		return 0
	fi
	log "fetching Apache Kafka $KAFKA_VERSION jars with Maven into $LIB_DIR"
	rm -f "$LIB_DIR"/*.jar
	# Maven 3.8 prints colour resets even with -B -q; strip them from the log.
	mvn -B -q -f "$POM" dependency:copy-dependencies -DoutputDirectory="$LIB_DIR" 2>&1 |
		sed 's/\x1b\[[0-9;]*m//g' >&2 ||
		die "maven could not fetch the Kafka jars (see above)"
	echo "$want" >"$marker"
	exec 9>&-
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
	local p i
	for i in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		port_in_use "$p" || { echo "$p"; return 0; }
	done
	die "no free loopback port found"
}

running_pid() {
	local pid
	[ -f "$STATE_DIR/broker.pid" ] || return 1
	pid=$(cat "$STATE_DIR/broker.pid")
	kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

write_config() {
	local bport=$1 cport=$2
	cat >"$STATE_DIR/server.properties" <<EOF
# A fast single-node test broker; see scripts/kafka-broker.sh.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$STATE_DIR/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.segment.bytes=67108864
# Events over the contract's 1 MiB limit must reach ingest to be rejected there.
message.max.bytes=4194304
replica.fetch.max.bytes=4194304
EOF
	cat >"$STATE_DIR/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $STATE_DIR/broker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
EOF
}

java_run() {
	# shellcheck disable=SC2086 # HEAP_OPTS is a list of JVM flags
	java $HEAP_OPTS -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$STATE_DIR/log4j2.properties" \
		-cp "$LIB_DIR/*" "$@"
}

# cluster_id prints a new KRaft cluster id: 16 random bytes in URL-safe
# base64 without padding. Like Kafka's own Uuid.randomUuid it never starts
# with '-': the storage tool's argument parser takes such an id for an option
# ("argument --cluster-id/-t: expected one argument"), which failed one start
# in 64. Nor is it the all-zero id Kafka reserves.
cluster_id() {
	local id
	while :; do
		id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
		case $id in
		-* | AAAAAAAAAAAAAAAAAAAAAA) continue ;;
		esac
		echo "$id"
		return
	done
}

# try_start starts the broker on the given ports and waits until it serves
# the broker port. Returns 2 when a port was taken meanwhile (retry), 1 on
# another failure.
try_start() {
	local bport=$1 cport=$2 cluster pid waited=0
	rm -rf "$STATE_DIR/data" "$STATE_DIR/broker.log"
	mkdir -p "$STATE_DIR/data"
	write_config "$bport" "$cport"
	cluster=$(cluster_id)
	java_run kafka.tools.StorageTool format -t "$cluster" -c "$STATE_DIR/server.properties" \
		>"$STATE_DIR/format.log" 2>&1 || { cat "$STATE_DIR/format.log" >&2; die "kafka storage format failed"; }
	# setsid: the broker outlives this script and is not hit by the caller's
	# terminal signals; stop kills it by pid.
	setsid bash -c 'exec "$@"' _ java $HEAP_OPTS -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$STATE_DIR/log4j2.properties" \
		-cp "$LIB_DIR/*" kafka.Kafka "$STATE_DIR/server.properties" \
		>"$STATE_DIR/stdout.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$STATE_DIR/broker.pid"
	if [ -n "${KAFKA_OWNER_PID:-}" ]; then
		# The owner (a test binary) may die without calling stop; then this
		# watchdog stops the broker and removes its state, so nothing leaks.
		setsid bash -c '
			owner=$1 broker=$2 state=$3
			while kill -0 "$owner" 2>/dev/null && kill -0 "$broker" 2>/dev/null; do sleep 1; done
			kill -0 "$broker" 2>/dev/null || exit 0
			kill -TERM "$broker" 2>/dev/null
			for i in $(seq 1 100); do kill -0 "$broker" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$broker" 2>/dev/null
			rm -rf "$state"' _ "$KAFKA_OWNER_PID" "$pid" "$STATE_DIR" >/dev/null 2>&1 </dev/null &
	fi
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$STATE_DIR/broker.pid"
			if grep -qs "Address already in use" "$STATE_DIR/broker.log" "$STATE_DIR/stdout.log"; then
				return 2
			fi
			tail -n 40 "$STATE_DIR/broker.log" "$STATE_DIR/stdout.log" >&2 || true
			log "broker exited during start"
			return 1
		fi
		if port_in_use "$bport" && grep -qs "Kafka Server started" "$STATE_DIR/broker.log"; then
			return 0
		fi
		if [ "$waited" -ge $((START_TIMEOUT * 10)) ]; then
			tail -n 40 "$STATE_DIR/broker.log" "$STATE_DIR/stdout.log" >&2 || true
			kill -KILL "$pid" 2>/dev/null || true
			rm -f "$STATE_DIR/broker.pid"
			log "broker not ready after ${START_TIMEOUT}s"
			return 1
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
}

start() {
	if running_pid >/dev/null; then
		log "already running (state $STATE_DIR)"
		cat "$STATE_DIR/broker.env"
		return 0
	fi
	fetch
	command -v java >/dev/null 2>&1 || ensure_tools
	mkdir -p "$STATE_DIR"
	local t0 bport cport attempt rc
	t0=${EPOCHREALTIME/./}
	for attempt in 1 2 3; do
		bport=$(free_port)
		cport=$(free_port)
		[ "$bport" != "$cport" ] || continue
		rc=0
		try_start "$bport" "$cport" || rc=$?
		[ "$rc" -eq 0 ] && break
		[ "$rc" -eq 2 ] || exit 1
		log "port taken during start (attempt $attempt); retrying on other ports"
	done
	[ "$rc" -eq 0 ] || die "could not start the broker"
	echo "IMPACT_KAFKA_BROKERS=127.0.0.1:$bport" >"$STATE_DIR/broker.env"
	log "Apache Kafka $KAFKA_VERSION ready at 127.0.0.1:$bport in $(((${EPOCHREALTIME/./} - t0) / 1000)) ms (state $STATE_DIR, log $STATE_DIR/broker.log)"
	cat "$STATE_DIR/broker.env"
}

stop() {
	local pid i
	if pid=$(running_pid); then
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 300); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "broker $pid did not stop in 30s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	# Only delete what looks like our state directory.
	if [ -f "$STATE_DIR/server.properties" ] || [ -f "$STATE_DIR/broker.pid" ]; then
		rm -rf "$STATE_DIR"
	fi
}

status() {
	running_pid >/dev/null || { log "not running (state $STATE_DIR)"; exit 1; }
	cat "$STATE_DIR/broker.env"
}

case "${1:-}" in
fetch) fetch ;;
start) start ;;
stop) stop ;;
status) status ;;
cluster-id) cluster_id ;;
*) echo "usage: $0 fetch|start|stop|status|cluster-id" >&2; exit 2 ;;
esac
