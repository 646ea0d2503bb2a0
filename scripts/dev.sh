#!/usr/bin/env bash
# Set up this machine for the booth (Debian packages, a venv in .venv), then run one job:
#   scripts/dev.sh simulate [ARGS...]   the simulator window on the bundled sample set
#   scripts/dev.sh headless [ARGS...]   the simulator with commands on stdin, JSON on stdout
#   scripts/dev.sh test [PYTEST ARGS...] ruff, mypy and the whole test suite
#   scripts/dev.sh bench                 the benchmarks in bench/
# Works on a fresh Debian 12 / Raspberry Pi OS Bookworm machine, as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:-simulate}
shift || true

packages=(python3 python3-venv python3-dev gcc pkg-config libsystemd-dev libportaudio2
  libsndfile1 libasound2-plugins alsa-utils pulseaudio pulseaudio-utils espeak-ng sox systemd
  nginx curl)
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

case "$job" in
  simulate) exec .venv/bin/kiosk simulate "$@" ;;
  headless) exec .venv/bin/kiosk simulate --headless "$@" ;;
  test)
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/mypy
    exec .venv/bin/pytest "$@"
    ;;
  bench) exec .venv/bin/python -m bench "$@" ;;
  *) echo "usage: scripts/dev.sh simulate|headless|test|bench [ARGS...]" >&2; exit 64 ;;
esac
