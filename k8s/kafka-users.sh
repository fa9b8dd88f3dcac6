#!/usr/bin/env bash
# Creates (or updates: the same command sets a new password) the SCRAM-SHA-512 credential of each idsync program's
# Kafka principal, connected as the admin over SASL_SSL. Run in the apache/kafka image by the setup Job
# (k8s/ops/kafka-setup-job.yaml, init container) and by the kafka-users service of docker-compose.yml, before
# `idsync kafka-acls --apply`. From the environment:
#   KAFKA_BROKERS, KAFKA_CA_FILE                      where Kafka is, the CA its certificate is signed by
#   IDSYNC_KAFKA_ADMIN_USERNAME/_PASSWORD             the admin principal (super.users in kafka-server.properties)
#   IDSYNC_KAFKA_USERS                                "<username>=<variable> ...": each principal of the
#                                                     configuration (kafka.sasl.principals) and the variable that
#                                                     holds its password, e.g. idsync-mapper=KAFKA_MAPPER_PASSWORD
#   and each variable IDSYNC_KAFKA_USERS names.
set -euo pipefail

: "${KAFKA_BROKERS:?must be set}" "${KAFKA_CA_FILE:?must be set}" "${IDSYNC_KAFKA_USERS:?must be set}"
: "${IDSYNC_KAFKA_ADMIN_USERNAME:?must be set}" "${IDSYNC_KAFKA_ADMIN_PASSWORD:?must be set}"
# --add-config 'SCRAM-SHA-512=[password=...]' splits on commas and brackets, JAAS on quotes: keep passwords plain.
plain() {
  case $2 in
    '') echo "kafka-users: $1 is not set" >&2; exit 1 ;;
    *[!A-Za-z0-9._~-]*) echo "kafka-users: $1: letters, digits and . _ ~ - only (openssl rand -hex 32)" >&2; exit 1 ;;
  esac
}
plain IDSYNC_KAFKA_ADMIN_PASSWORD "$IDSYNC_KAFKA_ADMIN_PASSWORD"

umask 077
admin=/tmp/kafka-admin.properties
trap 'rm -f "$admin"' EXIT
cat > "$admin" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$IDSYNC_KAFKA_ADMIN_USERNAME" password="$IDSYNC_KAFKA_ADMIN_PASSWORD";
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_CA_FILE
EOF

for pair in $IDSYNC_KAFKA_USERS; do
  username=${pair%%=*}
  variable=${pair#*=}
  password=${!variable:-}
  plain "$variable" "$password"
  echo "kafka-users: SCRAM-SHA-512 credential of $username (from $variable)"
  /opt/kafka/bin/kafka-configs.sh --bootstrap-server "$KAFKA_BROKERS" --command-config "$admin" \
    --alter --add-config "SCRAM-SHA-512=[password=$password]" --entity-type users --entity-name "$username"
done
