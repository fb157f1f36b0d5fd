#!/usr/bin/env bash
# Prints the ConfigMap inlet-config, made from the repository's config/ (dataset schemas and
# settings, pipeline.json, enrichment.json, reference/), for the services to read:
#
#   infra/deploy/k8s/config-map.sh | kubectl apply -f -            # after 00-namespace.yaml
#   infra/deploy/k8s/config-map.sh path/to/config | kubectl apply -f -
#
# A ConfigMap key cannot hold "/", so each file's path is flattened: datasets/clicks/1.avsc becomes
# the key datasets--clicks--1.avsc. The init container of every service turns the keys back into
# the tree at /app/config. The services read config/ when they start: after a change, apply again
# and restart them:
#   kubectl -n inlet rollout restart deployment/collector deployment/processor \
#     deployment/enricher deployment/query statefulset/lake-writer
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
config="$(cd "${1:-$root/config}" && pwd)"

args=()
while IFS= read -r path; do
  args+=("--from-file=${path//\//--}=$config/$path")
done < <(cd "$config" && find . -type f ! -name '.*' | sed 's|^\./||' | sort)

kubectl create configmap inlet-config --namespace inlet --dry-run=client --output yaml "${args[@]}"
