#!/usr/bin/env bash
# Starts the single-node Kafka of k8s/kafka.yaml and docker-compose.yml in the apache/kafka image, instead of the
# image's own start scripts (which cannot add a SCRAM credential when they format the storage): kafka-server.properties
# (mounted beside this script) plus, from the environment,
#   IDSYNC_KAFKA_ADVERTISED_LISTENERS   the client listener's address, BROKER://<name the services use>:9092
#   IDSYNC_KAFKA_CLUSTER_ID             used once, when the storage is formatted (kafka-storage.sh random-uuid)
#   IDSYNC_KAFKA_ADMIN_USERNAME/_PASSWORD
#       the admin principal (super.users): the broker's own SCRAM-SHA-512 login on BROKER and PLAIN login on
#       CONTROLLER, and the SCRAM credential written into the metadata log when the storage is first formatted
#       (KIP-900, kafka-storage.sh format --add-scram): the broker authenticates to itself before anything else runs.
# It writes the final configuration and a client configuration for the admin tools (the compose health check, or
# kubectl exec ... -- kafka-topics.sh --command-config /tmp/idsync-kafka/admin-client.properties) under /tmp, readable
# by this user only.
#
# Changing the admin password later: first set the new one in Kafka while the old one still works
#   kafka-configs.sh --bootstrap-server localhost:9092 --command-config /tmp/idsync-kafka/admin-client.properties \
#     --alter --add-config 'SCRAM-SHA-512=[password=NEW]' --entity-type users --entity-name admin
# then change the Secret (.env) and restart Kafka. A volume formatted before Kafka had SASL has no admin credential:
# add it the same way while Kafka still runs without authentication, before switching to this configuration.
set -euo pipefail

: "${IDSYNC_KAFKA_ADVERTISED_LISTENERS:?must be set, e.g. BROKER://idsync-kafka:9092}"
: "${IDSYNC_KAFKA_CLUSTER_ID:?must be set (kafka-storage.sh random-uuid)}"
: "${IDSYNC_KAFKA_ADMIN_USERNAME:?must be set}"
: "${IDSYNC_KAFKA_ADMIN_PASSWORD:?must be set}"
user=$IDSYNC_KAFKA_ADMIN_USERNAME
password=$IDSYNC_KAFKA_ADMIN_PASSWORD
# They go into JAAS options (the name in user_<name> too) and --add-scram's [name=...,password=...]: quotes, commas,
# brackets or spaces would break them.
case $user in
  [A-Za-z]*) case $user in *[!A-Za-z0-9_-]*) user= ;; esac ;;
  *) user= ;;
esac
[ -n "$user" ] || { echo "kafka-start: IDSYNC_KAFKA_ADMIN_USERNAME: a letter, then letters, digits, _ or -" >&2; exit 1; }
case $password in
  *[!A-Za-z0-9._~-]*) echo "kafka-start: IDSYNC_KAFKA_ADMIN_PASSWORD: letters, digits and . _ ~ - only (openssl rand -hex 32)" >&2; exit 1 ;;
esac

umask 077
dir=/tmp/idsync-kafka
mkdir -p "$dir"
config=$dir/server.properties
{
  cat /etc/kafka/idsync/server.properties
  echo
  echo "advertised.listeners=$IDSYNC_KAFKA_ADVERTISED_LISTENERS"
  echo "listener.name.broker.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$user\" password=\"$password\";"
  # PLAIN's server side checks user_<name>; its client side (the broker reaching its controller) logs in as username.
  echo "listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$user\" password=\"$password\" user_$user=\"$password\";"
} > "$config"

truststore=$(sed -n 's/^ssl\.truststore\.location=//p' /etc/kafka/idsync/server.properties)
cat > "$dir/admin-client.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$user" password="$password";
ssl.truststore.type=PEM
ssl.truststore.location=$truststore
EOF

# Formats the storage on the first start only (--ignore-formatted leaves a formatted one, and its credentials, alone).
/opt/kafka/bin/kafka-storage.sh format --config "$config" --cluster-id "$IDSYNC_KAFKA_CLUSTER_ID" --ignore-formatted \
  --add-scram "SCRAM-SHA-512=[name=$user,password=$password]"
exec /opt/kafka/bin/kafka-server-start.sh "$config"
