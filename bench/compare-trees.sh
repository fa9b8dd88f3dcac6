#!/usr/bin/env bash
# The pipeline benchmark of this checkout against another revision's, under one protocol for both trees, in pairs:
#   each measured run on a stack just reset and started, after one unmeasured run that warms the broker; the two
#   trees take turns (pair 1 the other revision first, pair 2 this one first, and so on).
# Without it the order of the runs decides the figure: after a reset the broker compiles its TLS, SASL and
# transaction paths for two or three runs, 389-ds slows with every run's writes, and these shared machines run
# faster or slower for half an hour at a time, so one tree's runs all before the other's compare two periods
# (README, Benchmarks).
#
# usage: sudo bash bench/compare-trees.sh <revision> [pairs of runs, default 3] [pipeline bench arguments, default
#        ad-to-ds 3000 100 10]
# The other revision is checked out in $IDSYNC_COMPARE_DIR/<revision> (default /var/tmp/idsync-compare) and its
# packages installed there once; logs go to $IDSYNC_COMPARE_OUT (default a new /tmp/idsync-compare-* directory).
# It stops and resets the local stack (both directories and Kafka): run it alone, on a machine otherwise idle.
# IDSYNC_COMPARE_DIRECTORY_FIRST=1 runs 389-ds's threads under SCHED_RR (priority 1), so that they get a core as soon
# as they can run, as on a directory server of its own: on two shared cores the pipeline's processes otherwise
# compete with 389-ds's one-at-a-time write path, and a tree that spends more CPU per change slows 389-ds as well.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
other_revision="${1:-}"
pairs="${2:-3}"
shift $(($# < 2 ? $# : 2))
bench_args=("$@")
[ ${#bench_args[@]} -gt 0 ] || bench_args=(ad-to-ds 3000 100 10)
if [ -z "$other_revision" ] || ! [[ "$pairs" =~ ^[1-9][0-9]*$ ]]; then
  sed -n '10,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
[ "$(id -u)" = 0 ] || { echo "compare-trees: needs root (it stops and resets the local stack's servers)" >&2; exit 2; }
commit="$(git -C "$ROOT" rev-parse --verify --quiet "$other_revision^{commit}")" || { echo "compare-trees: '$other_revision' is not a revision of $ROOT" >&2; exit 2; }
short="${commit:0:7}"
other="${IDSYNC_COMPARE_DIR:-/var/tmp/idsync-compare}/$short"
out="${IDSYNC_COMPARE_OUT:-$(mktemp -d /tmp/idsync-compare-XXXXXX)}"
mkdir -p "$out"
ds_pidfile=/run/dirsrv/slapd-idsync.pid
log() { printf '[compare] %s %s\n' "$(date +%T)" "$*"; }

if [ ! -d "$other/.git" ] && [ ! -f "$other/.git" ]; then
  log "checking out $short in $other"
  git -C "$ROOT" worktree add --detach -f "$other" "$commit" > /dev/null
fi
if [ ! -d "$other/node_modules" ]; then
  log "installing $short's packages"
  (cd "$other" && bash scripts/with-node.sh npm ci > "$out/npm-ci-$short.log" 2>&1)
fi

bench() { (cd "$1" && timeout 1800 bash scripts/with-node.sh npm run bench -- pipeline "${bench_args[@]}") > "$2" 2>&1; }

# label tree run: one measured run on a stack just reset and started, after one unmeasured run.
measure() {
  local label="$1" tree="$2" run="$3"
  log "$label: run $run of $pairs: resetting and starting the stack ($tree)"
  (cd "$ROOT" && bash scripts/stack.sh down) > /dev/null 2>&1 || true
  (cd "$other" && bash scripts/stack.sh down) > /dev/null 2>&1 || true
  pkill -9 -x ns-slapd || true
  pkill -9 samba || true
  pkill -9 -f 'kafka\.Kafka' || true
  sleep 1
  (cd "$tree" && bash scripts/stack.sh reset && bash scripts/stack.sh up) > "$out/$label-stack$run.log" 2>&1
  if [ "${IDSYNC_COMPARE_DIRECTORY_FIRST:-}" = 1 ]; then chrt -a -r -p 1 "$(cat "$ds_pidfile")"; fi
  log "$label: run $run of $pairs: warming the broker (unmeasured run)"
  bench "$tree" "$out/$label-warm-up$run.log" || { echo "compare-trees: $label's warm-up run failed: $out/$label-warm-up$run.log" >&2; exit 1; }
  log "$label: run $run of $pairs"
  bench "$tree" "$out/$label-run$run.log" || { echo "compare-trees: $label's run $run failed: $out/$label-run$run.log" >&2; exit 1; }
}

# One figure per run: "<rate> <warmed rate or ->" of a drain ("creates" or "modifies").
figures() {
  awk -v what="$2" '
    $0 ~ "^pipeline: [0-9]+ " what " drained" { match($0, /= [0-9]+ changes/); rate = substr($0, RSTART + 2, RLENGTH - 10); warmed = "-"; seen = 1; next }
    seen && $0 ~ "warmed: the last [0-9]+ " what { match($0, /at [0-9]+ changes/); warmed = substr($0, RSTART + 3, RLENGTH - 11) }
    seen && $0 !~ "warmed:" && $0 !~ "^  " { print rate, warmed; seen = 0 }
    END { if (seen) print rate, warmed }' "$1"
}
# label run what: that run's figure, or nothing.
run_figure() { [ -f "$out/$1-run$2.log" ] || return 0; figures "$out/$1-run$2.log" "$3" | head -1; }
summary() {
  local what="$1" label run line
  for label in "$short" this; do
    local rates=()
    for run in $(seq "$pairs"); do
      line="$(run_figure "$label" "$run" "$what")"
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

for run in $(seq "$pairs"); do
  if [ $((run % 2)) = 1 ]; then
    measure "$short" "$other" "$run"
    measure this "$ROOT" "$run"
  else
    measure this "$ROOT" "$run"
    measure "$short" "$other" "$run"
  fi
done
log "done; logs in $out"
for what in creates modifies; do summary "$what"; done
# "<what> <label>: r1, r2 (mean M; median D...)" -> "M D"
mean_and_median() { summary "$1" | awk -v head="$1 $2:" 'index($0, head) == 1 && /mean/ { sub(/^[^(]*[(]mean /, ""); sub(/; median /, " "); sub(/[;)].*/, ""); print }'; }
# Each pair's ratio: the two runs of a pair are the closest in time.
pair_ratios() {
  local run ratios=() a b
  for run in $(seq "$pairs"); do
    a="$(run_figure this "$run" "$1" | cut -d' ' -f1)"
    b="$(run_figure "$short" "$run" "$1" | cut -d' ' -f1)"
    [ -n "$a" ] && [ -n "$b" ] && ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f%%", 100 * a / b }')")
  done
  [ ${#ratios[@]} -gt 0 ] && echo "$1 per pair, this tree / $short: $(IFS=,; echo "${ratios[*]}" | sed 's/,/, /g')"
  return 0
}
for what in creates modifies; do
  pair_ratios "$what"
  read -r this_mean this_median <<< "$(mean_and_median "$what" this)" || true
  read -r other_mean other_median <<< "$(mean_and_median "$what" "$short")" || true
  if [ -n "${this_mean:-}" ] && [ -n "${other_mean:-}" ]; then
    awk -v a="$this_mean" -v b="$other_mean" -v c="$this_median" -v d="$other_median" -v w="$what" -v s="$short" \
      'BEGIN { printf "%s: this tree at %.0f%% of %s (means), %.0f%% (medians)\n", w, 100 * a / b, s, 100 * c / d }'
  fi
done
