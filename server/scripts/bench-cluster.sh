#!/usr/bin/env bash
# Benchmarks etcd 3.4 (3 members) and Keel (3 members, a cold and a warm pass) in one run of ../shared/bench/bench-etcd.sh, on this
# machine, one after the other, so the two can be compared as ratios:
#   server/scripts/bench-cluster.sh [bench-etcd.sh]
# Knobs: WORKLOADS (default "put range"), SCALE (default 0.3), REPEAT (default 1), OUT_DIR, as bench-etcd.sh takes
# them; MEMBERS=1 compares single members instead (etcd 'single', Keel k1 alone); KEEL_JAVA_OPTS adds JVM options to
# every Keel member after server/bin/keel's defaults (e.g. a profiler agent; "%n" in it becomes the member's number);
# JAVA (default java).
# Keel's members listen on 127.0.0.1 (clients 42379/42479/42579, peers 42380/42480/42580), keep their data in
# a temp dir and are stopped at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${1:-$here/../../../shared/bench/bench-etcd.sh}
jar=${KEEL_JAR:-$here/../target/quarkus-app/quarkus-run.jar}
[ -f "$jar" ] || { echo "build first: mvn -B -q -DskipTests package" >&2; exit 1; }
export WORKLOADS=${WORKLOADS:-"put range"} SCALE=${SCALE:-0.3} REPEAT=${REPEAT:-1}
export OUT_DIR=${OUT_DIR:-$(mktemp -d -t keel-bench.XXXXXX)}

members=${MEMBERS:-3}
case "$members" in
  1) bash "$bench" single ;;
  3) bash "$bench" cluster3 ;;
  *) echo "MEMBERS must be 1 or 3" >&2; exit 2 ;;
esac

dir=$(mktemp -d -t keel-bench-data.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
cluster="k1=http://127.0.0.1:42380,k2=http://127.0.0.1:42480,k3=http://127.0.0.1:42580"
all=(1:42379:42380 2:42479:42480 3:42579:42580)
[ "$members" = 1 ] && cluster="k1=http://127.0.0.1:42380" && all=(1:42379:42380)
eps=()
metrics=()
for m in "${all[@]}"; do
  IFS=: read -r n client peer <<<"$m"
  opts=${KEEL_JAVA_OPTS:-}
  # the launcher users run (its JVM defaults), with the heap etcd's benchmark runs have used and any extra options
  KEEL_JAR=$jar KEEL_JAVA_OPTS="-Xmx1g ${opts//%n/$n}" "$here/../bin/keel" --name "k$n" --data-dir "$dir/k$n" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster-token keel-bench --initial-cluster "$cluster" --initial-cluster-state new \
    >"$OUT_DIR/keel-k$n.log" 2>&1 &
  pids+=($!)
  eps+=("127.0.0.1:$client")
  metrics+=("http://127.0.0.1:$client/metrics")
done
for i in $(seq 1 120); do
  if etcdctl --endpoints="$(IFS=,; echo "${eps[*]}")" endpoint health >/dev/null 2>&1; then break; fi
  sleep 0.5
done
export ENDPOINTS=$(IFS=,; echo "${eps[*]}") SERVER_PIDS=$(IFS=,; echo "${pids[*]}") \
  METRICS_URLS=$(IFS=,; echo "${metrics[*]}")
# first pass on fresh JVMs (cold: the JIT compiles while it runs), second pass on the same, now warm, members
REP_START=1 bash "$bench" external
REP_START=$((REPEAT + 1)) bash "$bench" external
echo "outputs: $OUT_DIR"
