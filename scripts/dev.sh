#!/usr/bin/env bash
# Set up this machine for the booth (Debian packages, a venv in .venv), then run one job:
#   scripts/dev.sh simulate [ARGS...]   the simulator window on the bundled sample set
#   scripts/dev.sh headless [ARGS...]   the simulator with commands on stdin, JSON on stdout
#   scripts/dev.sh test [PYTEST ARGS...] ruff, mypy and the whole test suite
#   scripts/dev.sh bench                 the benchmarks in bench/ (bench live: live calls only;
#                                        bench live-hub: live calls relayed by the hub;
#                                        bench dial: dial -> sound, idle CPU with a dial)
# Works on a fresh Debian 12 / Raspberry Pi OS Bookworm machine, as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:-simulate}
shift || true

packages=(python3 python3-venv python3-dev gcc pkg-config libsystemd-dev libportaudio2
  libsndfile1 libasound2-plugins alsa-utils pulseaudio pulseaudio-utils espeak-ng sox systemd
  nginx curl postgresql openssl baresip-core sip-tester shellcheck e2fsprogs chromium
  chromium-driver softhsm2 redis-server jackd2)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

stamp=.venv/.installed
if [ ! -x .venv/bin/python ] || [ pyproject.toml -nt "$stamp" ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi

# The embedded default: a local hub (SQLite + a data folder) serving the signed sample set, and
# a simulated booth syncing from it. Admin keys live in .hub-data too, unencrypted
# (--no-passphrase): fine for a demo only (docs/keys.md).
start_local_hub() {
  data=.hub-data
  port=${KIOSK_HUB_PORT:-8765}
  if [ ! -f "$data/repo/metadata/root.json" ]; then
    .venv/bin/kiosk-admin --repo "$data/repo" --keys "$data/admin-keys" \
      --online-keys "$data/online-keys" init --no-passphrase >&2
  fi
  .venv/bin/kiosk-hub serve --data "$data" --port "$port" >"$data/hub.log" 2>&1 &
  hub_pid=$!
  trap 'kill $hub_pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  hub_url="http://127.0.0.1:$port"
  # Tokens travel in the environment or on stdin, never in argv (ps shows argv to everyone).
  KIOSK_HUB_TOKEN=$(.venv/bin/kiosk-hub token --data "$data")
  export KIOSK_HUB_TOKEN
  .venv/bin/kiosk-admin --hub "$hub_url" \
    --keys "$data/admin-keys" publish kiosk/data/sample-set --set sample >&2
  cat >"$data/booth.yaml" <<YAML
state_dir: $PWD/$data/booth
clips:
  path: $PWD/$data/booth/sets/current
sync:
  url: http://127.0.0.1:$port/repo
  root: $PWD/$data/repo/metadata/1.root.json
  set: sample
  interval: 30
fleet:
  heartbeat_interval: 15
  upload_interval: 2
YAML
  .venv/bin/kiosk sync --config "$data/booth.yaml" >&2
  # The simulated booth joins the local hub's fleet: its lifts and heartbeats reach the hub.
  if [ ! -f "$data/booth/fleet.json" ]; then
    .venv/bin/kiosk-admin --hub "$hub_url" booth add --group lobby --name simulator |
      .venv/bin/kiosk enroll --hub "$hub_url" --token-file - --config "$data/booth.yaml" >&2
  fi
  echo "the fleet dashboard: $hub_url/dashboard (log in with the token in $data/admin-token)" >&2
}

case "$job" in
  simulate) start_local_hub; .venv/bin/kiosk simulate --config .hub-data/booth.yaml "$@" ;;
  headless) start_local_hub; .venv/bin/kiosk simulate --headless --config .hub-data/booth.yaml "$@" ;;
  test)
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/mypy
    exec .venv/bin/pytest "$@"
    ;;
  bench)
    if [ "${1:-}" = live ]; then shift; exec .venv/bin/python -m bench.live "$@"; fi
    if [ "${1:-}" = live-hub ]; then shift; exec .venv/bin/python -m bench.live_hub "$@"; fi
    if [ "${1:-}" = dial ]; then shift; exec .venv/bin/python -m bench.dial "$@"; fi
    exec .venv/bin/python -m bench "$@"
    ;;
  *) echo "usage: scripts/dev.sh simulate|headless|test|bench [ARGS...]" >&2; exit 64 ;;
esac
