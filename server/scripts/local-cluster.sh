#!/usr/bin/env bash
# Starts a 3-member Keel cluster on 127.0.0.1, like etcd's Procfile for goreman:
#   infra1 clients 2379 peers 12380, infra2 22379/22380, infra3 32379/32380.
# Data and logs go to ./local-cluster (kept between runs: a second run restarts the same cluster).
# Ctrl-C stops all three members.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
jar=${KEEL_JAR:-$here/../target/quarkus-app/quarkus-run.jar}
[ -f "$jar" ] || { echo "build first: mvn -B -q -DskipTests package" >&2; exit 1; }
dir=${KEEL_CLUSTER_DIR:-./local-cluster}
mkdir -p "$dir"
cluster="infra1=http://127.0.0.1:12380,infra2=http://127.0.0.1:22380,infra3=http://127.0.0.1:32380"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' INT TERM EXIT
for m in 1:2379:12380 2:22379:22380 3:32379:32380; do
  IFS=: read -r n client peer <<<"$m"
  java -Xmx1g -jar "$jar" --name "infra$n" --data-dir "$dir/infra$n" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster-token keel-local --initial-cluster "$cluster" --initial-cluster-state new \
    >"$dir/infra$n.log" 2>&1 &
  pids+=($!)
done
echo "members starting; logs in $dir/infra{1,2,3}.log; try:"
echo "  etcdctl --endpoints=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 member list -w table"
wait
