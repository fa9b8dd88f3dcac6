#!/usr/bin/env bash
# The pipeline benchmark of this checkout against another revision's, under one protocol for both trees:
#   reset the tree's stack and start it; keep both directories (Samba AD, 389-ds) as they are then; warm the broker
#   with one unmeasured run; then, before each measured run, put both directories back as they were (Kafka keeps
#   running, warm).
# Without it the order of the runs decides the figure: after a reset the broker compiles its TLS, SASL and
# transaction paths for two or three runs, and 389-ds slows with every run's writes (README, Benchmarks).
#
# usage: sudo bash bench/compare-trees.sh <revision> [runs per tree, default 3] [pipeline bench arguments, default
#        ad-to-ds 3000 100 10]
# The other revision is checked out in $IDSYNC_COMPARE_DIR/<revision> (default /var/tmp/idsync-compare) and its
# packages installed there once; logs go to $IDSYNC_COMPARE_OUT (default a new /tmp/idsync-compare-* directory).
# It stops and resets the local stack (both directories and Kafka): run it alone, on a machine otherwise idle.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
other_revision="${1:-}"
runs="${2:-3}"
shift $(($# < 2 ? $# : 2))
bench_args=("$@")
[ ${#bench_args[@]} -gt 0 ] || bench_args=(ad-to-ds 3000 100 10)
if [ -z "$other_revision" ] || ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  sed -n '9,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
[ "$(id -u)" = 0 ] || { echo "compare-trees: needs root (it stops, resets and restores the local stack's servers)" >&2; exit 2; }
commit="$(git -C "$ROOT" rev-parse --verify --quiet "$other_revision^{commit}")" || { echo "compare-trees: '$other_revision' is not a revision of $ROOT" >&2; exit 2; }
short="${commit:0:7}"
other="${IDSYNC_COMPARE_DIR:-/var/tmp/idsync-compare}/$short"
out="${IDSYNC_COMPARE_OUT:-$(mktemp -d /tmp/idsync-compare-XXXXXX)}"
mkdir -p "$out"
stack_dir="${IDSYNC_STACK_DIR:-/var/lib/idsync-stack}"
ds_instance=idsync
ds_pidfile="/run/dirsrv/slapd-$ds_instance.pid"
log() { printf '[compare] %s %s\n' "$(date +%T)" "$*"; }

if [ ! -d "$other/.git" ] && [ ! -f "$other/.git" ]; then
  log "checking out $short in $other"
  git -C "$ROOT" worktree add --detach -f "$other" "$commit" > /dev/null
fi
if [ ! -d "$other/node_modules" ]; then
  log "installing $short's packages"
  (cd "$other" && bash scripts/with-node.sh npm ci > "$out/npm-ci-$short.log" 2>&1)
fi

port_open() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
wait_port() {
  local _
  for _ in $(seq 240); do port_open "$1" && return 0; sleep 0.25; done
  echo "compare-trees: port $1 did not open" >&2
  return 1
}
stop_pid() {
  local pid="$1" _
  for _ in $(seq 120); do kill -0 "$pid" 2> /dev/null || return 0; sleep 0.25; done
  kill -9 "$pid" 2> /dev/null || true
}
# Both directories, the way the stack scripts start and stop them (the older tree's may have no stop/start commands).
stop_directories() {
  if [ -f "$stack_dir/samba/samba.pid" ]; then
    local pid
    pid="$(cat "$stack_dir/samba/samba.pid")"
    kill -TERM -- "-$pid" 2> /dev/null || kill "$pid" 2> /dev/null || true
    stop_pid "$pid"
    rm -f "$stack_dir/samba/samba.pid"
  fi
  if [ -f "$ds_pidfile" ]; then
    local pid
    pid="$(cat "$ds_pidfile")"
    kill "$pid" 2> /dev/null || true
    stop_pid "$pid"
    rm -f "$ds_pidfile"
  fi
}
start_directories() {
  (
    cd "$stack_dir/samba"
    setsid nohup samba -F -s "$stack_dir/samba/etc/smb.conf" --debug-stdout -d 1 > "$stack_dir/samba/log/samba.log" 2>&1 < /dev/null &
    echo $! > "$stack_dir/samba/samba.pid"
  )
  mkdir -p /run/dirsrv "/run/lock/dirsrv/slapd-$ds_instance" "/var/log/dirsrv/slapd-$ds_instance"
  chown dirsrv:dirsrv /run/dirsrv "/run/lock/dirsrv/slapd-$ds_instance" "/var/log/dirsrv/slapd-$ds_instance"
  /usr/sbin/ns-slapd -D "/etc/dirsrv/slapd-$ds_instance" -i "$ds_pidfile" > "$out/ns-slapd-start.log" 2>&1
  wait_port 636 && wait_port 389 && wait_port 3636
}
directories=("${stack_dir#/}/samba" "var/lib/dirsrv/slapd-$ds_instance" "etc/dirsrv/slapd-$ds_instance")
snapshot_directories() {
  stop_directories
  tar -C / -cf "$out/directories.tar" --warning=no-file-ignored "${directories[@]}"
  start_directories
}
restore_directories() {
  stop_directories
  local path
  for path in "${directories[@]}"; do rm -rf "/${path:?}"; done
  tar -C / -xf "$out/directories.tar"
  start_directories
}
bench() { (cd "$1" && timeout 1800 bash scripts/with-node.sh npm run bench -- pipeline "${bench_args[@]}") > "$2" 2>&1; }

# label tree
measure() {
  local label="$1" tree="$2" run
  log "$label: resetting and starting the stack ($tree)"
  (cd "$ROOT" && bash scripts/stack.sh down) > /dev/null 2>&1 || true
  (cd "$other" && bash scripts/stack.sh down) > /dev/null 2>&1 || true
  pkill -9 -x ns-slapd || true
  pkill -9 samba || true
  pkill -9 -f 'kafka\.Kafka' || true
  sleep 1
  (cd "$tree" && bash scripts/stack.sh reset && bash scripts/stack.sh up) > "$out/$label-stack.log" 2>&1
  snapshot_directories
  log "$label: warming the broker (unmeasured run)"
  bench "$tree" "$out/$label-warm-up.log" || { echo "compare-trees: $label's warm-up run failed: $out/$label-warm-up.log" >&2; exit 1; }
  for run in $(seq "$runs"); do
    restore_directories
    log "$label: run $run of $runs"
    bench "$tree" "$out/$label-run$run.log" || { echo "compare-trees: $label's run $run failed: $out/$label-run$run.log" >&2; exit 1; }
  done
}

# One figure per run: "<rate> <warmed rate or ->" of a drain ("creates" or "modifies").
figures() {
  awk -v what="$2" '
    $0 ~ "^pipeline: [0-9]+ " what " drained" { match($0, /= [0-9]+ changes/); rate = substr($0, RSTART + 2, RLENGTH - 10); warmed = "-"; seen = 1; next }
    seen && $0 ~ "warmed: the last [0-9]+ " what { match($0, /at [0-9]+ changes/); warmed = substr($0, RSTART + 3, RLENGTH - 11) }
    seen && $0 !~ "warmed:" && $0 !~ "^  " { print rate, warmed; seen = 0 }
    END { if (seen) print rate, warmed }' "$1"
}
summary() {
  local what="$1" label file line
  for label in "$short" this; do
    local rates=()
    for file in "$out/$label"-run*.log; do
      line="$(figures "$file" "$what" | head -1)"
      [ -n "$line" ] && rates+=("$line")
    done
    printf '%s %s: ' "$what" "$label"
    if [ ${#rates[@]} -eq 0 ]; then
      echo "none (its benchmark has no such drain)"
      continue
    fi
    # The median too: one run of an otherwise idle shared machine can be far off the others.
    local median
    median="$(printf '%s\n' "${rates[@]}" | cut -d' ' -f1 | sort -n | awk '{ r[NR] = $1 } END { print NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }')"
    printf '%s\n' "${rates[@]}" | awk -v median="$median" '{ r[NR] = $1; s += $1; if ($2 != "-") { ws += $2; wn++ } }
      END {
        for (i = 1; i <= NR; i++) printf "%s%s", (i > 1 ? ", " : ""), r[i]
        printf " (mean %.0f; median %.0f", s / NR, median; if (wn) printf "; warmed mean %.0f", ws / wn; print ")" }'
  done
}

measure "$short" "$other"
measure this "$ROOT"
log "done; logs in $out"
for what in creates modifies; do summary "$what"; done
# "<what> <label>: r1, r2 (mean M; median D...)" -> "M D"
mean_and_median() { summary "$1" | awk -v head="$1 $2:" 'index($0, head) == 1 && /mean/ { sub(/^[^(]*[(]mean /, ""); sub(/; median /, " "); sub(/[;)].*/, ""); print }'; }
for what in creates modifies; do
  read -r this_mean this_median <<< "$(mean_and_median "$what" this)" || true
  read -r other_mean other_median <<< "$(mean_and_median "$what" "$short")" || true
  if [ -n "${this_mean:-}" ] && [ -n "${other_mean:-}" ]; then
    awk -v a="$this_mean" -v b="$other_mean" -v c="$this_median" -v d="$other_median" -v w="$what" -v s="$short" \
      'BEGIN { printf "%s: this tree at %.0f%% of %s (means), %.0f%% (medians)\n", w, 100 * a / b, s, 100 * c / d }'
  fi
done
