#!/usr/bin/env bash
# kafka.sh runs a single-node Apache Kafka broker (KRaft, broker and controller in
# one JVM) on loopback for ropcwatch's integration tests. Not for production.
#
#   kafka.sh start DIR   fetch the jars if needed, configure DIR on first use, start,
#                        wait until every listener answers
#   kafka.sh env DIR     print the ROPCWATCH_TEST_KAFKA* exports for the tests,
#                        DIR itself among them (ROPCWATCH_TEST_KAFKA_DIR):
#                        eval "$(deploy/kafka/kafka.sh env DIR)"
#   kafka.sh stop DIR    stop the broker (TERM, then KILL); safe to repeat
#   kafka.sh tool CLASS [ARGS...]
#                        run a Kafka command-line tool from the same jars, e.g.
#                        org.apache.kafka.tools.TopicCommand --bootstrap-server ... --list
#
# DIR holds everything of one broker: its configuration, data, TLS files,
# passwords (mode 600), kafka.log and kafka.pid. A second start on the same DIR
# keeps the data, the ports, the passwords and the CA; delete DIR to start afresh.
#
# Environment: JAVA_HOME (else java on PATH); KAFKA_VERSION (default: the pom's);
# KAFKA_START_TIMEOUT seconds (default 90).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lib=$here/target/lib
stamp=$lib/.fetched

die() {
	printf 'kafka.sh: %s\n' "$*" >&2
	exit 1
}

find_jdk_tool() {
	if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/$1" ]; then
		printf '%s\n' "$JAVA_HOME/bin/$1"
	elif command -v "$1" >/dev/null; then
		command -v "$1"
	else
		die "$1 not found: set JAVA_HOME or put a JDK (17 or newer) on PATH"
	fi
}

# fetch_jars copies Kafka and its runtime dependencies into target/lib with
# Maven, once per version: the stamp records the version and must be newer
# than the pom.
fetch_jars() {
	local want=${KAFKA_VERSION:-}
	if [ -f "$stamp" ] && [ "$stamp" -nt "$here/pom.xml" ] && [ "$(cat "$stamp")" = "$want" ]; then
		return
	fi
	command -v mvn >/dev/null || die "mvn not found: Maven fetches the Kafka jars"
	echo "kafka.sh: fetching Kafka ${want:-(pom version)} jars with Maven into $lib" >&2
	rm -rf "$lib"
	local out
	if ! out=$(mvn -q -B -f "$here/pom.xml" ${want:+-Dkafka.version="$want"} dependency:copy-dependencies 2>&1); then
		printf '%s\n' "$out" >&2
		die "Maven could not fetch the Kafka jars"
	fi
	compgen -G "$lib/kafka_2.13-*.jar" >/dev/null || die "no kafka_2.13 jar in $lib after fetching"
	printf '%s' "$want" >"$stamp"
}

# java_run runs a main class from the jars; extra JVM options come first.
java_run() {
	"$(find_jdk_tool java)" -cp "$lib/*" "$@"
}

# tool runs a command-line tool with a small heap, logging warnings only.
tool() {
	fetch_jars
	java_run -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn "$@"
}

# cluster_id prints a random KRaft cluster id as kafka-storage random-uuid
# does (16 bytes, URL-safe base64 without padding, not starting with "-"),
# without starting a JVM for it.
cluster_id() {
	local id=-
	while [ "${id#-}" != "$id" ]; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
	done
	printf '%s\n' "$id"
}

random_secret() {
	# 24 alphanumeric characters: nothing to quote in JAAS, properties or shells.
	LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24 || true
}

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_ports prints N distinct loopback ports that nothing listens on, below
# Linux's ephemeral range so that outgoing connections do not take them later.
free_ports() {
	local n=$1 picked=" " p tries=0
	while [ "$n" -gt 0 ]; do
		tries=$((tries + 1))
		[ "$tries" -lt 1000 ] || die "no free loopback port found"
		p=$((20000 + RANDOM % 12000))
		case $picked in *" $p "*) continue ;; esac
		port_in_use "$p" && continue
		picked="$picked$p "
		n=$((n - 1))
	done
	echo "${picked# }"
}

# make_tls writes a throwaway CA (DIR/ca.pem for clients) and a server
# certificate for IP 127.0.0.1 and DNS localhost signed by it (DIR/tls/server.p12).
make_tls() {
	local dir=$1 pass=$2 keytool
	keytool=$(find_jdk_tool keytool)
	mkdir -p "$dir/tls"
	local ca=$dir/tls/ca.p12 server=$dir/tls/server.p12
	rm -f "$ca" "$server" "$dir/ca.pem" "$dir/tls/server.pem"
	local common=(-storetype PKCS12 -storepass "$pass" -keyalg EC -groupname secp256r1 -validity 3650)
	"$keytool" -genkeypair -alias ca -keystore "$ca" "${common[@]}" \
		-dname "CN=ropcwatch test CA" -ext bc:c -ext KeyUsage:c=keyCertSign,cRLSign 2>/dev/null
	"$keytool" -exportcert -rfc -alias ca -keystore "$ca" -storepass "$pass" -file "$dir/ca.pem" 2>/dev/null
	"$keytool" -genkeypair -alias kafka -keystore "$server" "${common[@]}" -dname "CN=localhost" 2>/dev/null
	"$keytool" -certreq -alias kafka -keystore "$server" -storepass "$pass" 2>/dev/null |
		"$keytool" -gencert -alias ca -keystore "$ca" -storepass "$pass" -validity 3650 -rfc \
			-ext SAN=IP:127.0.0.1,DNS:localhost -ext KeyUsage:c=digitalSignature \
			-ext ExtendedKeyUsage=serverAuth -outfile "$dir/tls/server.pem" 2>/dev/null
	"$keytool" -importcert -noprompt -alias ca -file "$dir/ca.pem" -keystore "$server" -storepass "$pass" 2>/dev/null
	"$keytool" -importcert -noprompt -alias kafka -file "$dir/tls/server.pem" -keystore "$server" -storepass "$pass" 2>/dev/null
	chmod 644 "$dir/ca.pem"
}

# configure writes everything DIR needs before its first start: ports,
# passwords, TLS files, server.properties, client properties and the env file.
configure() {
	local dir=$1
	local plaintext sasl tls controller
	read -r plaintext sasl tls controller <<<"$(free_ports 4)"
	[ -n "$controller" ] || die "no free loopback ports"
	local scram_user=ropcwatch scram_pass plain_user=ropcwatch-plain plain_pass tls_pass
	scram_pass=$(random_secret)
	plain_pass=$(random_secret)
	tls_pass=$(random_secret)
	make_tls "$dir" "$tls_pass"

	cat >"$dir/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh: a single-node broker for tests, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$plaintext,SASL_PLAINTEXT://127.0.0.1:$sasl,SSL://127.0.0.1:$tls,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$plaintext,SASL_PLAINTEXT://127.0.0.1:$sasl,SSL://127.0.0.1:$tls
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data

# SASL: SCRAM users live in the cluster metadata (added when DIR is formatted);
# PLAIN users are the user_NAME entries below.
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$plain_user="$plain_pass";

# TLS: server authentication only; clients trust DIR/ca.pem.
listener.name.ssl.ssl.keystore.type=PKCS12
listener.name.ssl.ssl.keystore.location=$dir/tls/server.p12
listener.name.ssl.ssl.keystore.password=$tls_pass
listener.name.ssl.ssl.key.password=$tls_pass
listener.name.ssl.ssl.client.auth=none

# One node: every internal topic has one replica; tests create their topics.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF

	local sasl_props='security.protocol=SASL_PLAINTEXT'
	printf '%s\nsasl.mechanism=SCRAM-SHA-256\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="%s";\n' \
		"$sasl_props" "$scram_user" "$scram_pass" >"$dir/client-scram-sha-256.properties"
	printf '%s\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="%s";\n' \
		"$sasl_props" "$scram_user" "$scram_pass" >"$dir/client-scram-sha-512.properties"
	printf '%s\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="%s" password="%s";\n' \
		"$sasl_props" "$plain_user" "$plain_pass" >"$dir/client-plain.properties"
	printf 'security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=%s\n' \
		"$dir/ca.pem" >"$dir/client-ssl.properties"

	# The format step reads these; env prints the exports.
	printf '%s\n' "$scram_user" "$scram_pass" >"$dir/scram"
	{
		printf 'export ROPCWATCH_TEST_KAFKA=%q\n' "127.0.0.1:$plaintext"
		printf 'export ROPCWATCH_TEST_KAFKA_SCRAM=%q\n' "127.0.0.1:$sasl"
		printf 'export ROPCWATCH_TEST_KAFKA_SCRAM_USER=%q\n' "$scram_user"
		printf 'export ROPCWATCH_TEST_KAFKA_SCRAM_PASSWORD=%q\n' "$scram_pass"
		printf 'export ROPCWATCH_TEST_KAFKA_PLAIN_USER=%q\n' "$plain_user"
		printf 'export ROPCWATCH_TEST_KAFKA_PLAIN_PASSWORD=%q\n' "$plain_pass"
		printf 'export ROPCWATCH_TEST_KAFKA_TLS=%q\n' "127.0.0.1:$tls"
		printf 'export ROPCWATCH_TEST_KAFKA_TLS_CA=%q\n' "$dir/ca.pem"
	} >"$dir/env.tmp"
	mv "$dir/env.tmp" "$dir/env"
}

# format initialises the data directory as a one-voter KRaft quorum with the
# SCRAM user's SHA-256 and SHA-512 credentials.
format() {
	local dir=$1 user pass
	{
		read -r user
		read -r pass
	} <"$dir/scram"
	rm -rf "$dir/data"
	java_run -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn kafka.tools.StorageTool format \
		--config "$dir/server.properties" \
		--cluster-id "$(cluster_id)" \
		--standalone \
		--add-scram "SCRAM-SHA-256=[name=$user,password=$pass]" \
		--add-scram "SCRAM-SHA-512=[name=$user,password=$pass]" >>"$dir/kafka.log" 2>&1 ||
		die "formatting $dir/data failed; see $dir/kafka.log"
}

# running succeeds when DIR's pid file names a live Kafka broker.
running() {
	local pid
	[ -f "$1/kafka.pid" ] || return 1
	pid=$(cat "$1/kafka.pid")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'
}

fail_with_log() {
	local dir=$1
	shift
	printf 'kafka.sh: %s; last lines of %s:\n' "$*" "$dir/kafka.log" >&2
	tail -n 40 "$dir/kafka.log" >&2 || true
	exit 1
}

# wait_ready waits until every listener accepts connections and the broker
# answers a metadata request on the PLAINTEXT listener.
wait_ready() {
	local dir=$1 deadline port
	deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90}))
	local ports
	ports=$(sed -n 's/^listeners=//p' "$dir/server.properties" | tr ',' '\n' | sed 's/.*://')
	for port in $ports; do
		until port_in_use "$port"; do
			running "$dir" || fail_with_log "$dir" "the broker exited during start"
			[ "$SECONDS" -lt "$deadline" ] || fail_with_log "$dir" "port $port not open after ${KAFKA_START_TIMEOUT:-90}s"
			sleep 0.2
		done
	done
	local bootstrap
	bootstrap=$(sed -n 's/^export ROPCWATCH_TEST_KAFKA=//p' "$dir/env")
	until tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --list >/dev/null 2>&1; do
		running "$dir" || fail_with_log "$dir" "the broker exited during start"
		[ "$SECONDS" -lt "$deadline" ] || fail_with_log "$dir" "the broker did not answer within ${KAFKA_START_TIMEOUT:-90}s"
		sleep 0.5
	done
}

start() {
	local dir=$1
	fetch_jars
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if running "$dir"; then
		echo "kafka.sh: already running in $dir (pid $(cat "$dir/kafka.pid"))" >&2
		wait_ready "$dir"
		return
	fi
	umask 077
	[ -f "$dir/env" ] || configure "$dir"
	[ -f "$dir/data/meta.properties" ] || format "$dir"
	local port
	for port in $(sed -n 's/^listeners=//p' "$dir/server.properties" | tr ',' '\n' | sed 's/.*://'); do
		! port_in_use "$port" || die "port $port, configured in $dir, is in use: stop what holds it, or delete $dir"
	done

	local java
	java=$(find_jdk_tool java)
	printf '=== kafka.sh start %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$dir/kafka.log"
	"$java" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
		-Djava.awt.headless=true \
		-Dorg.slf4j.simpleLogger.showDateTime=true \
		-Dorg.slf4j.simpleLogger.dateTimeFormat="yyyy-MM-dd'T'HH:mm:ss.SSSZ" \
		-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config.AbstractConfig=warn \
		-cp "$lib/*" kafka.Kafka "$dir/server.properties" \
		</dev/null >>"$dir/kafka.log" 2>&1 &
	echo $! >"$dir/kafka.pid"
	wait_ready "$dir"
	# shellcheck disable=SC2016 # the $( ) is for the reader to paste
	printf 'kafka.sh: broker ready in %s (pid %s); for the tests: eval "$(%q env %q)"\n' \
		"$dir" "$(cat "$dir/kafka.pid")" "$0" "$dir" >&2
}

stop() {
	local dir=$1 pid _
	if ! running "$dir"; then
		rm -f "$dir/kafka.pid"
		return
	fi
	pid=$(cat "$dir/kafka.pid")
	kill -TERM "$pid" 2>/dev/null || true
	# A controlled shutdown takes a few seconds; give it 30 before KILL.
	for _ in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "kafka.sh: broker $pid ignored TERM for 30s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	fi
	rm -f "$dir/kafka.pid"
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
start | stop | env)
	[ $# -eq 1 ] || usage
	case $cmd in
	start) start "$1" ;;
	stop) stop "$1" ;;
	env)
		[ -f "$1/env" ] || die "$1 has no broker configuration: run kafka.sh start $1 first"
		cat "$1/env"
		# For tests that stop and start this broker themselves.
		printf 'export ROPCWATCH_TEST_KAFKA_DIR=%q\n' "$(cd "$1" && pwd)"
		;;
	esac
	;;
tool)
	[ $# -ge 1 ] || usage
	tool "$@"
	;;
*) usage ;;
esac
