#!/usr/bin/env bash
# The local stack: Apache Kafka (KRaft), a Samba 4 AD DC, 389 Directory Server with the Retro Changelog and a schema
# registry (Apicurio), on loopback. Usage: stack.sh up|down|status|reset [--all]|env
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${IDSYNC_STACK_DIR:-/var/lib/idsync-stack}"
CACHE_DIR="${IDSYNC_CACHE_DIR:-/var/cache/idsync}"
STACK_ENV="$STACK_DIR/stack.env"

KAFKA_VERSION="4.1.1"
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
# SCRAM without TLS, loopback, for benchmarks only (the TLS listener's cost); see kafka-server.properties.
KAFKA_PLAIN_PORT=9094
KAFKA_DIR="$STACK_DIR/kafka"
KAFKA_LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
# The broker's own principal (super user, inter-broker traffic, ACL setup); every program has its own (config/demo.yaml).
KAFKA_ADMIN_USER="kafka-admin"
KAFKA_PROGRAMS="ad-detector ds-detector mapper ad-writer ds-writer password-agent cli"
# Bump when the broker's security set-up changes: a Kafka formatted under another one is formatted again.
KAFKA_SECURITY_VERSION="sasl-ssl-scram-2"

# A Confluent-compatible schema registry for the registry-mode tests: Apicurio Registry (in-memory storage, so its
# ids last as long as the process), from Maven Central's distribution; 3.3.x needs Java 21+, 3.0.x runs on 17.
REGISTRY_PORT=18081
REGISTRY_MANAGEMENT_PORT=18082
REGISTRY_DIR="$STACK_DIR/registry"
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"

SAMBA_DIR="$STACK_DIR/samba"
SAMBA_REALM="EXAMPLE.TEST"
SAMBA_BASE="DC=example,DC=test"
# Provisioned instances are cached per version of the provisioning: the 389-ds templates in scripts/stack/ and the functions
# that provision and seed (computed below, once they are defined). A changed seed re-provisions; other edits don't.

DS_INSTANCE="idsync"
DS_PORT=3389
DS_SECURE_PORT=3636
DS_SUFFIX="dc=example,dc=com"
DS_CONF="/etc/dirsrv/slapd-$DS_INSTANCE"
DS_SOCKET="/run/slapd-$DS_INSTANCE.socket"

SECRETS="$CACHE_DIR/secrets.env"

# Set when a directory is (re)created in this run: Kafka's checkpoints then point at servers that are gone.
DIRECTORIES_RECREATED=0

log() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" = 0 ] || die "the local stack installs Debian packages and runs servers as root; run as root (sudo npm run stack -- up)"
}

# The PID listening on a TCP port on loopback, or nothing.
port_owner() { ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Fails with a clear message when a port we need is held by a process that is not ours.
ensure_port_free() {
  local port=$1 what=$2 owner
  owner=$(port_owner "$port")
  if [ -n "$owner" ]; then
    die "port $port (needed by $what) is taken by PID $owner ($(tr '\0\n' '  ' < "/proc/$owner/cmdline" 2>/dev/null | cut -c1-80)); stop that process, then run 'npm run stack -- up' again"
  fi
}

wait_for_port() {
  local port=$1 what=$2 logfile=$3 seconds=${4:-60}
  for _ in $(seq $((seconds * 4))); do
    port_open "$port" && return 0
    sleep 0.25
  done
  tail -n 30 "$logfile" >&2 || true
  die "$what did not open port $port within ${seconds}s; its log is $logfile"
}

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" > "$STACK_DIR/apt.log" 2>&1 ||
    { apt-get update -q >> "$STACK_DIR/apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >> "$STACK_DIR/apt.log" 2>&1; }; }; then
    tail -n 15 "$STACK_DIR/apt.log" >&2
    die "installing ${missing[*]} failed (full log: $STACK_DIR/apt.log); check that Debian's package mirror is reachable and dpkg is not locked"
  fi
}

random_secret() { printf 'Idsync-%s-9a' "$(openssl rand -hex 8)"; }

load_secrets() {
  mkdir -p "$CACHE_DIR"
  if [ ! -f "$SECRETS" ]; then
    umask 077
    {
      echo "AD_ADMIN_PASSWORD=$(random_secret)"
      echo "AD_WRITER_PASSWORD=$(random_secret)"
      echo "DS_ROOT_PASSWORD=$(random_secret)"
      echo "DS_WRITER_PASSWORD=$(random_secret)"
      echo "SEED_USER_PASSWORD=$(random_secret)"
    } > "$SECRETS"
    umask 022
  fi
  # AES-256 key sealing passwords on topics (added later: older secrets files get it appended).
  if ! grep -q '^IDSYNC_PASSWORD_KEY_K1=' "$SECRETS"; then
    (umask 077 && echo "IDSYNC_PASSWORD_KEY_K1=$(openssl rand -base64 32)" >> "$SECRETS")
  fi
  # HMAC key the mapper signs write requests with and the writers check (secrets.operationKeys).
  if ! grep -q '^IDSYNC_OPERATION_KEY_O1=' "$SECRETS"; then
    (umask 077 && echo "IDSYNC_OPERATION_KEY_O1=$(openssl rand -base64 32)" >> "$SECRETS")
  fi
  # Kafka: the admin's and the controller connection's passwords, and one SCRAM password per program.
  local name var
  for name in admin controller $KAFKA_PROGRAMS; do
    var="$(kafka_password_variable "$name")"
    grep -q "^$var=" "$SECRETS" || (umask 077 && echo "$var=$(random_secret)" >> "$SECRETS")
  done
  # shellcheck disable=SC1090
  . "$SECRETS"
}

# KAFKA_<PROGRAM>_PASSWORD, the variable config/demo.yaml names for a program's SCRAM password.
kafka_password_variable() { printf 'KAFKA_%s_PASSWORD' "$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')"; }

# ---------------------------------------------------------------- Kafka
kafka_install() {
  command -v java >/dev/null || die "Java is missing: Kafka 4 needs Java 17 or newer (apt-get install openjdk-17-jre-headless)"
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${major:-0}" -ge 17 ] || die "Java $major found; Kafka 4 needs Java 17 or newer (apt-get install openjdk-17-jre-headless)"
  [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] && return 0
  command -v mvn >/dev/null || apt_install maven
  log "resolving Apache Kafka $KAFKA_VERSION (org.apache.kafka:kafka_2.13) from Maven Central"
  local work="$CACHE_DIR/kafka-$KAFKA_VERSION/resolve"
  mkdir -p "$work"
  sed "s/@KAFKA_VERSION@/$KAFKA_VERSION/" "$ROOT/scripts/stack/kafka-pom.xml" > "$work/pom.xml"
  if ! mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIBS.tmp" -DincludeScope=runtime > "$work/mvn.log" 2>&1; then
    tail -n 20 "$work/mvn.log" >&2
    die "Maven could not resolve Kafka $KAFKA_VERSION (log: $work/mvn.log); check access to Maven Central"
  fi
  rm -rf "$KAFKA_LIBS" && mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
}

# The SCRAM users the storage is formatted with, a line "<user> <password>" each: the administrator, and
# idsync-<program> for every program (the usernames config/demo.yaml gives them).
kafka_scram_users() {
  local name var
  echo "$KAFKA_ADMIN_USER $KAFKA_ADMIN_PASSWORD"
  for name in $KAFKA_PROGRAMS; do var="$(kafka_password_variable "$name")"; echo "idsync-$name ${!var}"; done
}

# A CA and the broker's certificate (127.0.0.1, localhost), PEM; the key is unencrypted and readable by root only.
kafka_tls() {
  local tls="$KAFKA_DIR/tls"
  [ -f "$tls/broker.pem" ] && [ -f "$tls/ca.crt" ] && return 0
  mkdir -p "$tls"
  make_certificate "$tls" broker "idsync local stack Kafka CA" localhost "DNS:localhost,IP:127.0.0.1"
  (umask 077 && openssl pkcs8 -topk8 -nocrypt -in "$tls/broker.key" -out "$tls/broker.pem.tmp" && cat "$tls/broker.crt" >> "$tls/broker.pem.tmp")
  mv "$tls/broker.pem.tmp" "$tls/broker.pem"
  chmod 644 "$tls/ca.crt"
}

kafka_running() { pid_alive "$KAFKA_DIR/kafka.pid" && port_open "$KAFKA_PORT"; }

kafka_java() { java -Xms256m -Xmx768m -Dlog4j2.configurationFile="$ROOT/scripts/stack/kafka-log4j2.properties" \
  -Dkafka.logs.dir="$KAFKA_DIR/logs" -cp "$KAFKA_LIBS/*" "$@"; }

kafka_up() {
  local security
  # Which users with which passwords the storage was formatted with, without the passwords themselves.
  security="$KAFKA_SECURITY_VERSION $(kafka_scram_users | sha256sum | cut -c1-16)"
  if kafka_running && [ "$(cat "$KAFKA_DIR/security" 2>/dev/null)" != "$security" ]; then
    log "kafka: running with other security settings; stopping it"
    stop_pidfile "$KAFKA_DIR/kafka.pid" kafka
  fi
  if kafka_running; then log "kafka: already running on 127.0.0.1:$KAFKA_PORT"; return 0; fi
  ensure_port_free "$KAFKA_PORT" Kafka
  ensure_port_free "$KAFKA_CONTROLLER_PORT" "Kafka's controller"
  ensure_port_free "$KAFKA_PLAIN_PORT" "Kafka's benchmark listener"
  kafka_install
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  # The SCRAM users are created when the storage is formatted; a storage formatted with other users or none is
  # formatted again (its topics are lost, as after a reset).
  if [ -f "$KAFKA_DIR/data/meta.properties" ] && [ "$(cat "$KAFKA_DIR/security" 2>/dev/null)" != "$security" ]; then
    log "kafka: its storage was formatted with other users or security settings; formatting it again (topics cleared)"
    rm -rf "$KAFKA_DIR/data" && mkdir -p "$KAFKA_DIR/data"
  fi
  kafka_tls
  (umask 077 && sed -e "s#@DATA@#$KAFKA_DIR/data#" -e "s#@TLS@#$KAFKA_DIR/tls#g" -e "s/@PORT@/$KAFKA_PORT/g" \
    -e "s/@PLAIN_PORT@/$KAFKA_PLAIN_PORT/g" -e "s/@CONTROLLER_PORT@/$KAFKA_CONTROLLER_PORT/g" -e "s/@ADMIN_USER@/$KAFKA_ADMIN_USER/g" \
    -e "s/@ADMIN_PASSWORD@/$KAFKA_ADMIN_PASSWORD/g" -e "s/@CONTROLLER_PASSWORD@/$KAFKA_CONTROLLER_PASSWORD/g" \
    "$ROOT/scripts/stack/kafka-server.properties" > "$KAFKA_DIR/server.properties")
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local scram=() user password
    while read -r user password; do scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$password]"); done < <(kafka_scram_users)
    kafka_java kafka.tools.StorageTool format -t "$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)" \
      -c "$KAFKA_DIR/server.properties" "${scram[@]}" > "$KAFKA_DIR/logs/format.log" 2>&1 ||
      { cat "$KAFKA_DIR/logs/format.log" >&2; die "formatting Kafka's storage failed"; }
    echo "$security" > "$KAFKA_DIR/security"
  fi
  setsid nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Dlog4j2.configurationFile="$ROOT/scripts/stack/kafka-log4j2.properties" \
    -Dkafka.logs.dir="$KAFKA_DIR/logs" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    > "$KAFKA_DIR/logs/console.log" 2>&1 < /dev/null &
  echo $! > "$KAFKA_DIR/kafka.pid"
  wait_for_port "$KAFKA_PORT" Kafka "$KAFKA_DIR/logs/console.log" 90
  log "kafka: running on 127.0.0.1:$KAFKA_PORT (KRaft, single node)"
}

# ---------------------------------------------------------------- schema registry (Apicurio)
registry_running() { pid_alive "$REGISTRY_DIR/registry.pid" && port_open "$REGISTRY_PORT"; }

# The newest Java at least $1, or nothing.
java_at_least() {
  local candidate major
  for candidate in $(ls -d /usr/lib/jvm/*/bin/java 2>/dev/null | sort -rV) "$(command -v java || true)"; do
    [ -x "$candidate" ] || continue
    major=$("$candidate" -XshowSettings:properties -version 2>&1 | awk -F= '/java.specification.version/ { gsub(/ /, "", $2); print $2 }')
    if [ "${major:-0}" -ge "$1" ] 2>/dev/null; then echo "$candidate"; return 0; fi
  done
}

registry_up() {
  if registry_running; then log "schema registry: already running ($REGISTRY_URL)"; return 0; fi
  ensure_port_free "$REGISTRY_PORT" "the schema registry"
  ensure_port_free "$REGISTRY_MANAGEMENT_PORT" "the schema registry's management port"
  local java version
  java=$(java_at_least 21)
  if [ -n "$java" ]; then version=3.3.3; else java=$(java_at_least 17); version=3.0.9; fi
  [ -n "$java" ] || die "the schema registry needs Java 17 or newer"
  local name="apicurio-registry-app-$version-all.tar.gz" app="$CACHE_DIR/apicurio-registry-$version"
  local url="https://repo1.maven.org/maven2/io/apicurio/apicurio-registry-app/$version/$name"
  if [ ! -f "$app/.unpacked" ]; then
    mkdir -p "$CACHE_DIR"
    log "schema registry: downloading Apicurio Registry $version from Maven Central"
    curl -fsS --retry 3 -o "$CACHE_DIR/$name.part" "$url" || die "could not download $url"
    echo "$(curl -fsS --retry 3 "$url.sha1" | awk '{ print $1 }')  $CACHE_DIR/$name.part" | sha1sum -c --quiet - || die "checksum of $url does not match"
    rm -rf "$app" && mkdir -p "$app"
    tar -xzf "$CACHE_DIR/$name.part" -C "$app" && rm -f "$CACHE_DIR/$name.part"
    touch "$app/.unpacked"
  fi
  local jar="$app/quarkus-run.jar"
  [ -f "$jar" ] || jar=$(ls "$app"/apicurio-registry-app-*-runner.jar)
  mkdir -p "$REGISTRY_DIR"
  # exec: the background job is the registry itself (its pid in the pidfile), holding none of this script's output.
  (cd "$REGISTRY_DIR" && exec setsid nohup "$java" -Xmx384m -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT" -jar "$jar" \
    > "$REGISTRY_DIR/registry.log" 2>&1 < /dev/null) &
  echo $! > "$REGISTRY_DIR/registry.pid"
  local deadline=$((SECONDS + 180))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$REGISTRY_URL/subjects" || true)" = 200 ]; do
    if ! pid_alive "$REGISTRY_DIR/registry.pid"; then tail -20 "$REGISTRY_DIR/registry.log" >&2; die "the schema registry exited while starting"; fi
    [ "$SECONDS" -lt "$deadline" ] || { tail -20 "$REGISTRY_DIR/registry.log" >&2; die "the schema registry did not answer within 180 s"; }
    sleep 0.5
  done
  log "schema registry: Apicurio Registry $version running ($REGISTRY_URL, in-memory)"
}

# ---------------------------------------------------------------- Samba AD DC
samba_install() {
  apt_install samba samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind ldb-tools ldap-utils openssl
}

samba_provision() {
  if [ -f "$SAMBA_DIR/etc/smb.conf" ] && [ "$(cat "$SAMBA_DIR/.stack-version" 2>/dev/null)" = "$STACK_VERSION" ]; then return 0; fi
  if [ -f "$SAMBA_DIR/etc/smb.conf" ]; then log "samba: the seed changed since this domain was provisioned; re-provisioning"; rm -rf "$SAMBA_DIR"; fi
  if [ -f "$SAMBA_CACHE" ]; then
    mkdir -p "$SAMBA_DIR"
    tar -xzf "$SAMBA_CACHE" -C "$SAMBA_DIR"
    sed -i "s#@SAMBA_DIR@#$SAMBA_DIR#g" "$SAMBA_DIR/etc/smb.conf"
    echo "$STACK_VERSION" > "$SAMBA_DIR/.stack-version"
    DIRECTORIES_RECREATED=1
    log "samba: restored the provisioned domain from $SAMBA_CACHE"
    return 0
  fi
  log "samba: provisioning domain $SAMBA_REALM"
  DIRECTORIES_RECREATED=1
  rm -rf "$SAMBA_DIR" && mkdir -p "$SAMBA_DIR"
  samba-tool domain provision --realm="$SAMBA_REALM" --domain=EXAMPLE --server-role=dc --dns-backend=SAMBA_INTERNAL \
    --use-rfc2307 --host-name=dc1 --adminpass="$AD_ADMIN_PASSWORD" --targetdir="$SAMBA_DIR" > "$STACK_DIR/samba-provision.log" 2>&1 ||
    { tail -n 20 "$STACK_DIR/samba-provision.log" >&2; die "samba-tool domain provision failed (log: $STACK_DIR/samba-provision.log)"; }
  local conf="$SAMBA_DIR/etc/smb.conf" tls="$SAMBA_DIR/tls"
  sed -i '/dns forwarder/d' "$conf"
  mkdir -p "$tls" "$SAMBA_DIR/run"
  make_certificate "$tls" server "idsync local stack CA" dc1.example.test "DNS:dc1.example.test,DNS:localhost,IP:127.0.0.1"
  sed -i "/^\[global\]/a\\
\tldap server require strong auth = no\\
\tinterfaces = lo\\
\tbind interfaces only = yes\\
\tdisable netbios = yes\\
\tserver services = -dns -nbt -wrepl -dnsupdate -s3fs\\
\tprefork children = 1\\
\told password allowed period = 0\\
\tpassword hash userPassword schemes = CryptSHA256 CryptSHA512\\
\ttls enabled = yes\\
\ttls keyfile = $tls/server.key\\
\ttls certfile = $tls/server.crt\\
\ttls cafile = $tls/ca.crt\\
\tpid directory = $SAMBA_DIR/run\\
\twinbindd socket directory = $SAMBA_DIR/run/winbindd\\
\tntp signd socket directory = $SAMBA_DIR/run/ntp_signd" "$conf"
  local sam="$SAMBA_DIR/private/sam.ldb"
  samba-tool domain passwordsettings set -H "$sam" --complexity=off --history-length=0 --min-pwd-age=0 --max-pwd-age=0 \
    --min-pwd-length=0 > /dev/null
  samba_seed "$sam"
  # Cache with placeholders for the only absolute paths (smb.conf), so a restore works from any stack dir.
  sed -i "s#$SAMBA_DIR#@SAMBA_DIR@#g" "$conf"
  rm -f "$CACHE_DIR"/samba-dc-*.tar.gz
  tar -czf "$SAMBA_CACHE.tmp" -C "$SAMBA_DIR" . && mv "$SAMBA_CACHE.tmp" "$SAMBA_CACHE"
  sed -i "s#@SAMBA_DIR@#$SAMBA_DIR#g" "$conf"
  echo "$STACK_VERSION" > "$SAMBA_DIR/.stack-version"
}

# A CA of its own (ca.crt, ca.key) and a server certificate it signs (<name>.key, <name>.crt) in a directory:
# make_certificate DIR NAME "CA's CN" "server's CN" "subjectAltName". The keys are readable by root only.
make_certificate() {
  local dir=$1 name=$2 ca_cn=$3 cn=$4 san=$5
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$ca_cn" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2> /dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn" -keyout "$dir/$name.key" -out "$dir/$name.csr" 2> /dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$dir/ext.cnf"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 3650 \
    -extfile "$dir/ext.cnf" -out "$dir/$name.crt" 2> /dev/null
  chmod 600 "$dir/$name.key" "$dir/ca.key"
}

samba_seed() {
  local sam=$1 t="samba-tool"
  log "samba: seeding OU=Corp with users and groups"
  {
    $t ou create "OU=Corp,$SAMBA_BASE" -H "$sam"
    for ou in Sales Engineering Support Groups; do $t ou create "OU=$ou,OU=Corp,$SAMBA_BASE" -H "$sam"; done
    $t user create jdoe "$SEED_USER_PASSWORD" --given-name=Jane --surname=Doe --mail-address=jdoe@example.test \
      --userou="OU=Sales,OU=Corp" -H "$sam"
    $t user create bjones "$SEED_USER_PASSWORD" --given-name=Bob --surname=Jones --mail-address=bjones@example.test \
      --userou="OU=Sales,OU=Corp" -H "$sam"
    $t user create asmith "$SEED_USER_PASSWORD" --given-name=Alice --surname=Smith --mail-address=asmith@example.test \
      --userou="OU=Engineering,OU=Corp" -H "$sam"
    $t group add "Sales Team" --groupou="OU=Groups,OU=Corp" -H "$sam"
    $t group add "Engineers" --groupou="OU=Groups,OU=Corp" -H "$sam"
    $t group addmembers "Sales Team" jdoe,bjones -H "$sam"
    $t group addmembers "Engineers" asmith -H "$sam"
    # The account ad-writer binds with (and ad-detector may ignore); writes into AD need Domain Admins here.
    $t user create idsync-writer "$AD_WRITER_PASSWORD" --description="idsync ad-writer" -H "$sam"
    $t group addmembers "Domain Admins" idsync-writer -H "$sam"
  } > "$STACK_DIR/samba-seed.log" 2>&1 || { tail -n 20 "$STACK_DIR/samba-seed.log" >&2; die "seeding Samba failed"; }
}

samba_running() { pid_alive "$SAMBA_DIR/samba.pid" && port_open 636; }
samba_current() { [ "$(cat "$SAMBA_DIR/.stack-version" 2>/dev/null)" = "$STACK_VERSION" ]; }

samba_up() {
  if samba_running && samba_current; then log "samba: already running (LDAP 389, LDAPS 636)"; return 0; fi
  if samba_running; then log "samba: stopping the DC to re-provision it with the current seed"; samba_stop; fi
  for port in 389 636 88; do ensure_port_free "$port" "the Samba AD DC"; done
  samba_install
  samba_provision
  mkdir -p "$SAMBA_DIR/run" "$SAMBA_DIR/log"
  setsid nohup samba -F -s "$SAMBA_DIR/etc/smb.conf" --debug-stdout -d 1 > "$SAMBA_DIR/log/samba.log" 2>&1 < /dev/null &
  echo $! > "$SAMBA_DIR/samba.pid"
  wait_for_port 636 "Samba AD DC" "$SAMBA_DIR/log/samba.log" 60
  wait_for_port 389 "Samba AD DC" "$SAMBA_DIR/log/samba.log" 30
  log "samba: AD DC $SAMBA_REALM running (ldap://127.0.0.1:389, ldaps://127.0.0.1:636)"
}

samba_stop() {
  # samba forks workers into its process group
  if pid_alive "$SAMBA_DIR/samba.pid"; then
    local pid
    pid=$(cat "$SAMBA_DIR/samba.pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill "$pid"
    for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    log "samba: stopped"
  fi
  rm -f "$SAMBA_DIR/samba.pid"
}

# ---------------------------------------------------------------- 389 Directory Server
ds_install() {
  apt_install 389-ds-base ldap-utils
  sed -i 's/^with_systemd = 1/with_systemd = 0/' /usr/share/dirsrv/inf/defaults.inf
}

ds_ldapmodify() { ldapmodify -Q -Y EXTERNAL -H "ldapi://${DS_SOCKET//\//%2F}" "$@"; }

ds_dirs() {
  mkdir -p /run/dirsrv "/run/lock/dirsrv/slapd-$DS_INSTANCE" "/var/log/dirsrv/slapd-$DS_INSTANCE"
  chown dirsrv:dirsrv /run/dirsrv "/run/lock/dirsrv/slapd-$DS_INSTANCE" "/var/log/dirsrv/slapd-$DS_INSTANCE"
}

ds_provision() {
  if [ -f "$DS_CONF/dse.ldif" ] && [ "$(cat "$STACK_DIR/389ds.version" 2>/dev/null)" = "$STACK_VERSION" ]; then return 0; fi
  if [ -f "$DS_CONF/dse.ldif" ]; then
    log "389-ds: the seed changed since instance $DS_INSTANCE was created; re-creating it"
    ds_remove_instance
  fi
  if [ -f "$DS_CACHE" ]; then
    tar -xzf "$DS_CACHE" -C /
    echo "$STACK_VERSION" > "$STACK_DIR/389ds.version"
    DIRECTORIES_RECREATED=1
    log "389-ds: restored instance $DS_INSTANCE from $DS_CACHE"
    return 0
  fi
  log "389-ds: creating instance $DS_INSTANCE"
  DIRECTORIES_RECREATED=1
  sed -e "s/@INSTANCE@/$DS_INSTANCE/" -e "s/@PORT@/$DS_PORT/" -e "s/@SECURE_PORT@/$DS_SECURE_PORT/" \
    -e "s/@ROOT_PASSWORD@/$DS_ROOT_PASSWORD/" -e "s/@SUFFIX@/$DS_SUFFIX/" "$ROOT/scripts/stack/389ds.inf" > "$STACK_DIR/389ds.inf"
  chmod 600 "$STACK_DIR/389ds.inf"
  dscreate from-file "$STACK_DIR/389ds.inf" > "$STACK_DIR/389ds-create.log" 2>&1 ||
    { tail -n 20 "$STACK_DIR/389ds-create.log" >&2; die "dscreate failed (log: $STACK_DIR/389ds-create.log)"; }
  rm -f "$STACK_DIR/389ds.inf"
  dsconf "$DS_INSTANCE" plugin retro-changelog enable > /dev/null
  ds_ldapmodify > /dev/null <<EOF
dn: cn=Retro Changelog Plugin,cn=plugins,cn=config
changetype: modify
replace: nsslapd-attribute
nsslapd-attribute: entryuuid:targetUniqueId
nsslapd-attribute: modifiersName:changeInitiatorsName
-
replace: nsslapd-include-suffix
nsslapd-include-suffix: $DS_SUFFIX
-
replace: nsslapd-changelogmaxage
nsslapd-changelogmaxage: 7d
-
replace: nsslapd-log-deleted
nsslapd-log-deleted: on

dn: cn=config
changetype: modify
replace: nsslapd-unhashed-pw-switch
nsslapd-unhashed-pw-switch: on
-
replace: passwordAdminDN
passwordAdminDN: uid=idsync-writer,ou=Services,$DS_SUFFIX
-
replace: nsslapd-listenhost
nsslapd-listenhost: 127.0.0.1
-
replace: nsslapd-securelistenhost
nsslapd-securelistenhost: 127.0.0.1
EOF
  ds_stop_instance
  ds_start_instance
  ds_seed
  ds_stop_instance
  rm -f "$CACHE_DIR/389ds-$DS_INSTANCE"-*.tar.gz
  tar -czf "$DS_CACHE.tmp" -C / "etc/dirsrv/slapd-$DS_INSTANCE" etc/dirsrv/ssca "var/lib/dirsrv/slapd-$DS_INSTANCE" &&
    mv "$DS_CACHE.tmp" "$DS_CACHE"
  echo "$STACK_VERSION" > "$STACK_DIR/389ds.version"
}

ds_remove_instance() {
  ds_stop_instance
  rm -rf "$DS_CONF" "/var/lib/dirsrv/slapd-$DS_INSTANCE" "/var/log/dirsrv/slapd-$DS_INSTANCE" "$STACK_DIR/389ds.version"
}

ds_seed() {
  log "389-ds: seeding ou=People, ou=Groups and the writer account"
  sed -e "s/@SUFFIX@/$DS_SUFFIX/g" -e "s/@SEED_USER_PASSWORD@/$SEED_USER_PASSWORD/g" \
    -e "s/@DS_WRITER_PASSWORD@/$DS_WRITER_PASSWORD/g" "$ROOT/scripts/stack/389ds-seed.ldif" |
    ldapadd -x -H "ldap://127.0.0.1:$DS_PORT" -D "cn=Directory Manager" -w "$DS_ROOT_PASSWORD" > "$STACK_DIR/389ds-seed.log" 2>&1 ||
    { tail -n 20 "$STACK_DIR/389ds-seed.log" >&2; die "seeding 389-ds failed"; }
}

ds_pidfile() { echo "/run/dirsrv/slapd-$DS_INSTANCE.pid"; }
ds_running() { pid_alive "$(ds_pidfile)" && port_open "$DS_SECURE_PORT"; }

ds_start_instance() {
  ds_dirs
  /usr/sbin/ns-slapd -D "$DS_CONF" -i "$(ds_pidfile)" > "$STACK_DIR/389ds-start.log" 2>&1 ||
    { tail -n 20 "$STACK_DIR/389ds-start.log" >&2; die "ns-slapd failed to start (errors: /var/log/dirsrv/slapd-$DS_INSTANCE/errors)"; }
  wait_for_port "$DS_SECURE_PORT" "389 Directory Server" "/var/log/dirsrv/slapd-$DS_INSTANCE/errors" 60
}

ds_stop_instance() {
  local pidfile
  pidfile=$(ds_pidfile)
  if pid_alive "$pidfile"; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$pidfile"
}

ds_up() {
  if ds_running && [ "$(cat "$STACK_DIR/389ds.version" 2>/dev/null)" = "$STACK_VERSION" ]; then
    log "389-ds: already running (ldap $DS_PORT, ldaps $DS_SECURE_PORT)"
    return 0
  fi
  if ds_running; then log "389-ds: stopping instance $DS_INSTANCE to re-create it with the current seed"; ds_stop_instance; fi
  ensure_port_free "$DS_PORT" "389 Directory Server"
  ensure_port_free "$DS_SECURE_PORT" "389 Directory Server"
  ds_install
  ds_provision
  ds_start_instance
  log "389-ds: instance $DS_INSTANCE running (ldap://127.0.0.1:$DS_PORT, ldaps://127.0.0.1:$DS_SECURE_PORT)"
}

# ---------------------------------------------------------------- the generated connection file
write_env() {
  umask 077
  cat > "$STACK_ENV.tmp" <<EOF
# Generated by 'npm run stack -- up'. Connection settings for the local stack; services and tests read this file.
KAFKA_BROKERS='127.0.0.1:$KAFKA_PORT'
KAFKA_PLAINTEXT_BROKERS='127.0.0.1:$KAFKA_PLAIN_PORT'
KAFKA_CA_FILE='$KAFKA_DIR/tls/ca.crt'
IDSYNC_KAFKA_ADMIN_USERNAME='$KAFKA_ADMIN_USER'
IDSYNC_KAFKA_ADMIN_PASSWORD='$KAFKA_ADMIN_PASSWORD'
$(for name in $KAFKA_PROGRAMS; do var="$(kafka_password_variable "$name")"; echo "$var='${!var}'"; done)
AD_URL='ldaps://127.0.0.1:636'
AD_BASE_DN='$SAMBA_BASE'
AD_BIND_DN='CN=Administrator,CN=Users,$SAMBA_BASE'
AD_BIND_PASSWORD='$AD_ADMIN_PASSWORD'
AD_WRITER_BIND_DN='CN=idsync-writer,CN=Users,$SAMBA_BASE'
AD_WRITER_PASSWORD='$AD_WRITER_PASSWORD'
AD_CA_FILE='$SAMBA_DIR/tls/ca.crt'
AD_TLS_SERVER_NAME='dc1.example.test'
DS_URL='ldaps://127.0.0.1:$DS_SECURE_PORT'
DS_BASE_DN='$DS_SUFFIX'
DS_BIND_DN='cn=Directory Manager'
DS_BIND_PASSWORD='$DS_ROOT_PASSWORD'
DS_WRITER_BIND_DN='uid=idsync-writer,ou=Services,$DS_SUFFIX'
DS_WRITER_PASSWORD='$DS_WRITER_PASSWORD'
DS_CA_FILE='$DS_CONF/ca.crt'
DS_TLS_SERVER_NAME='localhost'
SEED_USER_PASSWORD='$SEED_USER_PASSWORD'
IDSYNC_PASSWORD_KEY_K1='$IDSYNC_PASSWORD_KEY_K1'
IDSYNC_OPERATION_KEY_O1='$IDSYNC_OPERATION_KEY_O1'
SCHEMA_REGISTRY_URL='$REGISTRY_URL'
EOF
  mv "$STACK_ENV.tmp" "$STACK_ENV"
  umask 022
}

# ---------------------------------------------------------------- commands
stop_pidfile() {
  local pidfile=$1 what=$2
  if pid_alive "$pidfile"; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    log "$what: stopped"
  fi
  rm -f "$pidfile"
}

# Prometheus and promtool (Debian's package) for the operations kit's test (tests/integration/ops): installed, not
# started; the test runs its own Prometheus on a free port.
monitoring_tools() {
  apt_install prometheus
  [ -x /usr/bin/promtool ] || die "the prometheus package installed no /usr/bin/promtool"
}

cmd_up() {
  require_root
  mkdir -p "$STACK_DIR"
  load_secrets
  samba_up
  ds_up
  if [ "$DIRECTORIES_RECREATED" = 1 ] && [ -d "$KAFKA_DIR/data" ]; then
    # Detector checkpoints (DirSync cookies, change numbers) belong to the directories just replaced.
    log "kafka: directories were re-created, so its topics and checkpoints are cleared"
    stop_pidfile "$KAFKA_DIR/kafka.pid" kafka
    rm -rf "$KAFKA_DIR/data"
  fi
  kafka_up
  registry_up
  monitoring_tools
  write_env
  log "ready; connection settings in $STACK_ENV"
}

cmd_down() {
  require_root
  stop_pidfile "$KAFKA_DIR/kafka.pid" kafka
  stop_pidfile "$REGISTRY_DIR/registry.pid" "schema registry"
  samba_stop
  if pid_alive "$(ds_pidfile)"; then ds_stop_instance; log "389-ds: stopped"; fi
  log "down"
}

cmd_status() {
  local state
  state() { if "$1"; then echo running; else echo stopped; fi; }
  printf '%-8s %-8s %s\n' kafka "$(state kafka_running)" "127.0.0.1:$KAFKA_PORT"
  printf '%-8s %-8s %s\n' samba "$(state samba_running)" "ldap://127.0.0.1:389 ldaps://127.0.0.1:636 ($SAMBA_REALM)"
  printf '%-8s %-8s %s\n' 389-ds "$(state ds_running)" "ldap://127.0.0.1:$DS_PORT ldaps://127.0.0.1:$DS_SECURE_PORT ($DS_SUFFIX)"
  printf '%-8s %-8s %s\n' registry "$(state registry_running)" "$REGISTRY_URL"
  if [ -f "$STACK_ENV" ]; then echo "settings: $STACK_ENV"; fi
  kafka_running && samba_running && ds_running && registry_running
}

# One server at a time (fault tests, or an operator trying an outage): stop kafka|samba|ds, start it again.
cmd_stop_one() {
  require_root
  case "${1:-}" in
    kafka) stop_pidfile "$KAFKA_DIR/kafka.pid" kafka ;;
    registry) stop_pidfile "$REGISTRY_DIR/registry.pid" "schema registry" ;;
    samba) samba_stop ;;
    ds) if pid_alive "$(ds_pidfile)"; then ds_stop_instance; log "389-ds: stopped"; fi ;;
    *) die "stop what? kafka, samba, ds or registry (got '${1:-}')" ;;
  esac
}

cmd_start_one() {
  require_root
  load_secrets
  case "${1:-}" in
    kafka) kafka_up ;;
    registry) registry_up ;;
    samba) samba_up ;;
    ds)
      if ds_running; then log "389-ds: already running"; return 0; fi
      [ -d "$DS_CONF" ] || die "389-ds instance $DS_INSTANCE is not provisioned: run 'npm run stack -- up'"
      ds_start_instance
      log "389-ds: instance $DS_INSTANCE running (ldap://127.0.0.1:$DS_PORT, ldaps://127.0.0.1:$DS_SECURE_PORT)"
      ;;
    *) die "start what? kafka, samba, ds or registry (got '${1:-}')" ;;
  esac
}

cmd_reset() {
  require_root
  cmd_down
  rm -rf "$KAFKA_DIR" "$SAMBA_DIR" "$REGISTRY_DIR" "$STACK_ENV"
  ds_remove_instance
  if [ "${1:-}" = "--all" ]; then rm -rf "$CACHE_DIR"; log "removed caches in $CACHE_DIR"; fi
  log "reset: the next 'up' starts from freshly provisioned, seeded directories and an empty Kafka"
}

usage() {
  cat <<EOF
usage: npm run stack -- <command>
  up           install what is missing, provision (or restore from cache) and start Kafka, Samba AD, 389-ds and a
               schema registry (Apicurio, for the registry-mode tests); install Prometheus and promtool (not started)
  down         stop them all
  status       show what runs (exit 0 only when all four do)
  stop <server>  stop one server: kafka, samba, ds or registry (data kept, but the registry's is in memory)
  start <server> start one stopped server again
  reset [--all] stop and delete all data (--all: the download and provisioning caches too)
  env          print the path of the generated connection file
Settings: IDSYNC_STACK_DIR (default /var/lib/idsync-stack), IDSYNC_CACHE_DIR (default /var/cache/idsync).
EOF
}

# Only what the directories are provisioned from: a change to Kafka's files must not re-create them.
STACK_VERSION="$({ cat "$ROOT"/scripts/stack/389ds*; declare -f samba_provision make_certificate samba_seed ds_provision ds_seed; } | sha256sum | cut -c1-12)"
SAMBA_CACHE="$CACHE_DIR/samba-dc-$STACK_VERSION.tar.gz"
DS_CACHE="$CACHE_DIR/389ds-$DS_INSTANCE-$STACK_VERSION.tar.gz"

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop) shift; cmd_stop_one "$@" ;;
  start) shift; cmd_start_one "$@" ;;
  reset) shift; cmd_reset "$@" ;;
  env) echo "$STACK_ENV" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
