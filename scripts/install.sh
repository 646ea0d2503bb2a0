#!/usr/bin/env bash
# Turn a Raspberry Pi OS Bookworm (Debian 12) machine into an enrolled, self-tested booth:
#   sudo scripts/install.sh --hub URL --token-file F [--root root.json --root-sha256 HEX] [--pin 17]
# Every step says "changed" or "unchanged"; a second run with the same flags changes nothing and
# says so. `--uninstall` removes what it laid down except the state directory (/var/lib/kiosk);
# `--uninstall --purge` removes that too. Run with --help for every flag and exit code.
set -euo pipefail
umask 022 # the kiosk user reads the venv, the config and the generated files

EX_USAGE=64
readonly EX_USAGE
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly SRC

usage() {
  cat <<'USAGE'
usage: sudo scripts/install.sh --hub URL --token-file FILE [options]
       sudo scripts/install.sh --uninstall [--purge] [--root-dir DIR]

  --hub URL           the hub, e.g. https://hub.example.com (required to install)
  --token-file FILE   a file holding the one-time enrollment token from the hub's admin
                      (- for standard input; or set KIOSK_ENROLL_TOKEN; required to install)
  --token TOKEN       the same on the command line (other users see it in ps: prefer the above)
  --insecure          allow a plain http:// hub off this machine (the token travels readable)
  --root FILE         the content repository's trusted root metadata (1.root.json); with it the
                      booth syncs its clips from URL/repo
  --root-sha256 HEX   required with --root: the root's fingerprint, copied from the admin (what
                      `kiosk-admin init` printed); a FILE with another sha256 is refused
  --set NAME          follow this clip set (default: the set the hub assigns to --group)
  --group NAME        this booth's group in the hub's signed assignments
  --pin N             BCM GPIO number of the hook switch, 0-27 (default 17)
  --led-pin N         BCM GPIO number of the optional status lamp (LED), 0-27
  --bell-pin N        BCM GPIO number of the optional bell's relay, 0-27
  --audio-card NAME   ALSA name of the USB sound card (default: the first USB card found)
  --no-enroll         do not enroll now (no token needed); re-run without it later
  --no-selftest       do not run `kiosk selftest` at the end (e.g. no handset attached yet)
  --uninstall         remove the booth software, config and units; keep /var/lib/kiosk
  --purge             with --uninstall: remove /var/lib/kiosk too
  --root-dir DIR      lay every file under DIR instead of / (tests, inspection); apt and the
                      service start are skipped, users go into DIR/etc/passwd (useradd --root),
                      units are enabled with systemctl --root
  --venv-from VENV    reuse VENV's packages (the project included) instead of installing from
                      the network: for CI and offline images
  --wheel FILE        install the booth software from this wheel (its version names the venv)
                      instead of this source tree; with --venv-from, its packages serve the
                      wheel's dependencies
  -h, --help          this text

exit codes: 0 done, 1 a step failed, 2 the hub refused the token, 3 the hub was unreachable,
            4 the self-test failed, 5 --root does not match --root-sha256, 64 bad flags
USAGE
}

die_usage() {
  echo "install.sh: $*" >&2
  echo "install.sh: see scripts/install.sh --help" >&2
  exit "$EX_USAGE"
}

fail() {
  echo "install.sh: $1" >&2
  exit "${2:-1}"
}

hub="" token=${KIOSK_ENROLL_TOKEN:-} token_file="" insecure="" root_json="" root_sha256="" set_name="" group="" pin=17 led_pin="" bell_pin="" card=""
selftest=1 enroll=1
uninstall=0 purge=0 root_dir="" venv_from="" wheel=""
need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then die_usage "$1 needs a value"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --hub) need_value "$@"; hub=$2; shift 2 ;;
    --token) need_value "$@"; token=$2; shift 2
      echo "warning: --token shows the token to every user (ps); prefer --token-file" >&2 ;;
    --token-file) need_value "$@"; token_file=$2; shift 2 ;;
    --insecure) insecure=--insecure; shift ;;
    --root) need_value "$@"; root_json=$2; shift 2 ;;
    --root-sha256) need_value "$@"; root_sha256=$2; shift 2 ;;
    --set) need_value "$@"; set_name=$2; shift 2 ;;
    --group) need_value "$@"; group=$2; shift 2 ;;
    --pin) need_value "$@"; pin=$2; shift 2 ;;
    --led-pin) need_value "$@"; led_pin=$2; shift 2 ;;
    --bell-pin) need_value "$@"; bell_pin=$2; shift 2 ;;
    --audio-card) need_value "$@"; card=$2; shift 2 ;;
    --root-dir) need_value "$@"; root_dir=$2; shift 2 ;;
    --venv-from) need_value "$@"; venv_from=$2; shift 2 ;;
    --wheel) need_value "$@"; wheel=$2; shift 2 ;;
    --no-selftest) selftest=0; shift ;;
    --no-enroll) enroll=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --*=*) die_usage "write '${1%%=*} ${1#*=}' (a space, not '=')" ;;
    *) die_usage "unknown option '$1'" ;;
  esac
done

if [ "$purge" = 1 ] && [ "$uninstall" = 0 ]; then
  die_usage "--purge goes with --uninstall"
fi
if [ -n "$token_file" ]; then
  if [ "$token_file" = - ]; then token=$(cat); else token=$(cat -- "$token_file") ||
    die_usage "--token-file: cannot read '$token_file'"; fi
  token=$(printf '%s' "$token" | tr -d '[:space:]')
fi
if [ "$uninstall" = 0 ]; then
  [ -n "$hub" ] || die_usage "--hub URL is required"
  [ -n "$token" ] || [ "$enroll" = 0 ] || die_usage "an enrollment token is required: --token-file FILE (- for stdin) or KIOSK_ENROLL_TOKEN (or --no-enroll)"
  [[ "$hub" =~ ^https?://[^[:space:]/]+(/[^[:space:]]*)?$ ]] ||
    die_usage "--hub: expected http(s)://host[:port], got '$hub'"
  hub=${hub%/}
  check_pin() { # check_pin FLAG VALUE: a BCM GPIO number of the 40-pin header
    if ! [[ "$2" =~ ^[0-9]{1,2}$ ]] || [ "$((10#$2))" -gt 27 ]; then
      die_usage "$1: expected a BCM GPIO number 0-27, got '$2'"
    fi
  }
  check_pin --pin "$pin"
  pin=$((10#$pin))
  if [ -n "$led_pin" ]; then check_pin --led-pin "$led_pin"; led_pin=$((10#$led_pin)); fi
  if [ -n "$bell_pin" ]; then check_pin --bell-pin "$bell_pin"; bell_pin=$((10#$bell_pin)); fi
  used=" $pin "
  for p in "$led_pin" "$bell_pin"; do
    [ -z "$p" ] || [[ "$used" != *" $p "* ]] || die_usage "GPIO $p is given for two jobs"
    used+="$p "
  done
  if [ -n "$card" ] && ! [[ "$card" =~ ^[A-Za-z0-9_-]{1,31}$ ]]; then
    die_usage "--audio-card: expected an ALSA card name (letters, digits, _ or -), got '$card'"
  fi
  for name in "$set_name" "$group"; do
    [[ "$name" =~ ^[A-Za-z0-9._-]*$ ]] || die_usage "--set/--group: unexpected characters in '$name'"
  done
  if [ -n "$root_json" ]; then
    [ -f "$root_json" ] || die_usage "--root: no such file '$root_json'"
    [ -n "$root_sha256" ] ||
      die_usage "--root needs --root-sha256 HEX (the fingerprint kiosk-admin init printed)"
    root_sha256=${root_sha256,,}
    [[ "$root_sha256" =~ ^[0-9a-f]{64}$ ]] ||
      die_usage "--root-sha256: expected 64 hex digits, got '$root_sha256'"
    actual=$(sha256sum <"$root_json") actual=${actual%% *}
    [ "$actual" = "$root_sha256" ] ||
      fail "--root: $root_json has sha256 $actual, not $root_sha256 from --root-sha256; refusing it (ask the admin for the fingerprint and the file again)" 5
  elif [ -n "$set_name$group$root_sha256" ]; then
    die_usage "--set/--group/--root-sha256 need --root (the repository's trusted root metadata)"
  fi
fi
if [ -n "$venv_from" ]; then
  [ -x "$venv_from/bin/python" ] || die_usage "--venv-from: '$venv_from' has no bin/python"
  venv_from=$(cd "$venv_from" && pwd)
fi
if [ -n "$wheel" ]; then
  [ -f "$wheel" ] || die_usage "--wheel: no such file '$wheel'"
  [[ "$(basename "$wheel")" =~ ^kiosk-([A-Za-z0-9.+!_]+)-[^-]+-[^-]+-[^-]+\.whl$ ]] ||
    die_usage "--wheel: expected a kiosk-VERSION-...whl file, got '$wheel'"
  wheel=$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")
fi
if [ -n "$root_dir" ]; then
  [ -d "$root_dir" ] || die_usage "--root-dir: no such directory '$root_dir'"
  root_dir=$(cd "$root_dir" && pwd)
  [ "$root_dir" != / ] || root_dir=""
  for f in passwd group; do
    [ -f "$root_dir/etc/$f" ] || die_usage "--root-dir: no $root_dir/etc/$f (expected a system root)"
  done
fi
[ "$(id -u)" -eq 0 ] || fail "run as root: sudo scripts/install.sh ..." 77

R=$root_dir # every path below is "$R/..."; empty on a real booth
live() { [ -z "$R" ]; }
# systemd is PID 1 here (sd_booted(3)): not so in a chroot that builds an SD-card image.
booted() { live && [ -d /run/systemd/system ]; }
# Each version in its own venv; `current` points at the running one (the update helper,
# kiosk.update.apply, flips it). /opt/kiosk/venv is the layout before releases.
if [ -n "$wheel" ]; then
  VERSION=$(basename "$wheel" | cut -d- -f2)
else
  VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/pyproject.toml")
fi
VENVS=/opt/kiosk/venvs
VENV=/opt/kiosk/current
OLD_VENV=/opt/kiosk/venv
UPDATE_UNITS=(kiosk-update.service kiosk-update.path)
ETC=/etc/kiosk
STATE=/var/lib/kiosk
UNIT=/etc/systemd/system/kiosk.service
JOURNALD=/etc/systemd/journald.conf.d/kiosk.conf
UDEV=/etc/udev/rules.d/60-kiosk-gpiochip.rules
ASOUND=/etc/asound.conf
MARK="# Written by the kiosk installer (scripts/install.sh); re-run it to change this file."

changes=0
report() { # report changed|unchanged|skipped STEP DETAIL
  printf '  %-9s %-9s %s\n' "$1" "$2" "$3"
  [ "$1" != changed ] || changes=$((changes + 1))
}

# --- helpers ---------------------------------------------------------------------------------

id_of() { # id_of passwd|group NAME: the numeric id in the target's files
  awk -F: -v n="$2" '$1 == n { print $3; found = 1 } END { exit !found }' "$R/etc/$1"
}

members_of() { # members_of GROUP: the comma-separated member list
  awk -F: -v n="$1" '$1 == n { print $4 }' "$R/etc/group"
}

put_file() { # put_file STEP CONTENT_FILE DEST MODE [OWNER GROUP]: write if different
  local step=$1 content=$2 dest=$3 mode=$4 owner=${5:-root} grp=${6:-root} uid gid
  uid=$(id_of passwd "$owner") || fail "$step: no user '$owner' in $R/etc/passwd"
  gid=$(id_of group "$grp") || fail "$step: no group '$grp' in $R/etc/group"
  if [ -f "$R$dest" ] && cmp -s "$content" "$R$dest" &&
    [ "$(stat -c '%a %u %g' "$R$dest")" = "$(printf '%o' "$((8#$mode))") $uid $gid" ]; then
    report unchanged "$step" "$dest"
    return 1
  fi
  mkdir -p "$(dirname "$R$dest")"
  install -m "$mode" -o "$uid" -g "$gid" "$content" "$R$dest.kiosk-new"
  mv -f "$R$dest.kiosk-new" "$R$dest"
  report changed "$step" "$dest"
}

remove_path() { # remove_path STEP PATH (absolute, below /)
  case "$2" in /?*) ;; *) fail "remove_path: refusing '$2'" ;; esac
  if [ -e "$R$2" ] || [ -L "$R$2" ]; then
    rm -rf -- "$R$2"
    report changed "$1" "removed $2"
  else
    report unchanged "$1" "$2 not present"
  fi
}

tmp=$(mktemp -d)
chmod 0755 "$tmp" # the kiosk user reads the generated config from here
trap 'rm -rf "$tmp"' EXIT

# --- steps -----------------------------------------------------------------------------------

# Debian's builds where compiling on a Pi is slow or fragile (numpy, systemd, gpiozero, lgpio);
# the venv sees them (--system-site-packages) and pip installs only what they do not satisfy.
PACKAGES=(python3 python3-venv python3-systemd python3-numpy python3-gpiozero libportaudio2
  libsndfile1 alsa-utils baresip-core fake-hwclock)

step_packages() {
  local want=("${PACKAGES[@]}") missing=() p
  # Raspberry Pi OS has python3-lgpio (gpiozero's pin factory on Bookworm); plain Debian does not.
  if apt-cache show python3-lgpio >/dev/null 2>&1; then want+=(python3-lgpio); fi
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    report unchanged packages "${#want[@]} Debian packages present"
  elif ! live; then
    report skipped packages "(--root-dir) would install: ${missing[*]}"
  else
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      >/dev/null || fail "packages: apt-get install ${missing[*]} failed"
    report changed packages "installed ${missing[*]}"
  fi
}

source_stamp() { # what the venv was built from: the source tree and the way it was installed
  {
    echo "venv-from=$venv_from"
    if [ -n "$wheel" ]; then sha256sum <"$wheel"; fi
    (cd "$SRC" && find pyproject.toml kiosk hub -type f ! -path '*/__pycache__/*' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
}

step_venv() {
  local stamp py site dest
  stamp=$(source_stamp)
  dest=$VENVS/$VERSION
  if [ -x "$R$dest/bin/kiosk" ] && [ "$(readlink "$R$VENV" 2>/dev/null)" = "venvs/$VERSION" ] &&
    [ "$(cat "$R/opt/kiosk/.source" 2>/dev/null)" = "$stamp" ]; then
    report unchanged venv "$VENV -> $dest (kiosk $VERSION)"
    return 0
  fi
  if [ -d "$R$OLD_VENV" ] && [ ! -L "$R$OLD_VENV" ]; then
    # A venv's scripts name its own path, so the old one cannot move: it is rebuilt below.
    rm -rf -- "$R$OLD_VENV"
    report changed venv "$OLD_VENV removed (migrated to $VENVS/$VERSION and $VENV)"
  fi
  rm -rf -- "$R$dest" "$R/opt/kiosk/.source"
  mkdir -p "$R$VENVS"
  if [ -n "$venv_from" ]; then
    # The same interpreter as VENV (its compiled packages), and VENV's site-packages (with its
    # .pth files, so an editable project install works too) on the path.
    py=$("$venv_from/bin/python" -c 'import sys; print(sys._base_executable)')
    "$py" -m venv --without-pip "$R$dest"
    site=$("$venv_from/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    "$R$dest/bin/python" - "$site" <<'PY'
import sys, sysconfig
from pathlib import Path
own = Path(sysconfig.get_path("purelib"))
(own / "kiosk-venv-from.pth").write_text(f"import site; site.addsitedir({sys.argv[1]!r})\n")
bindir = Path(sys.executable).parent
for name, target in (("kiosk", "kiosk.cli"), ("kiosk-hub", "hub.cli"), ("kiosk-admin", "kiosk.admin.cli"), ("kiosk-update", "kiosk.update.apply")):
    script = bindir / name
    script.write_text(
        f"#!{sys.executable}\nimport sys\nfrom {target} import main\nsys.exit(main())\n"
    )
    script.chmod(0o755)
PY
    if [ -n "$wheel" ]; then
      "$venv_from/bin/python" -m pip --python "$R$dest/bin/python" install -q --no-index \
        --disable-pip-version-check "$wheel" || fail "venv: pip install $wheel into $dest failed"
    fi
  else
    python3 -m venv --system-site-packages "$R$dest"
    "$R$dest/bin/pip" install -q --upgrade-strategy only-if-needed "${wheel:-$SRC}" ||
      fail "venv: pip install ${wheel:-$SRC} into $dest failed"
  fi
  "$R$dest/bin/kiosk" --help >/dev/null || fail "venv: $dest/bin/kiosk does not run"
  ln -sfn "venvs/$VERSION" "$R/opt/kiosk/.current.new"
  mv -Tf "$R/opt/kiosk/.current.new" "$R$VENV"
  echo "$stamp" >"$R/opt/kiosk/.source"
  report changed venv "$VENV -> $dest built from ${wheel:-$SRC}"
}

step_user() {
  local g rootopt=()
  [ -z "$R" ] || rootopt=(--root "$R")
  for g in gpio audio; do
    if id_of group "$g" >/dev/null; then
      report unchanged group "$g"
    else
      groupadd "${rootopt[@]}" --system "$g" || fail "group: groupadd $g failed"
      report changed group "$g created"
    fi
  done
  if ! id_of passwd kiosk >/dev/null; then
    useradd "${rootopt[@]}" --system --user-group --home-dir "$STATE" --no-create-home \
      --shell /usr/sbin/nologin --groups gpio,audio --comment "customer phone booth" kiosk ||
      fail "user: useradd kiosk failed"
    report changed user "kiosk created (groups gpio, audio)"
    return 0
  fi
  local missing=()
  for g in gpio audio; do
    [[ ",$(members_of "$g")," == *,kiosk,* ]] || missing+=("$g")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    report unchanged user "kiosk (groups gpio, audio)"
  else
    usermod "${rootopt[@]}" --append --groups "$(IFS=,; echo "${missing[*]}")" kiosk ||
      fail "user: usermod kiosk failed"
    report changed user "kiosk added to ${missing[*]}"
  fi
}

render_config() { # render_config PREFIX: kiosk.yaml with the booth's paths under PREFIX
  local p=$1
  cat <<YAML
$MARK
# Only what differs from the documented defaults (config/kiosk.yaml in the source).
hook:
  pin: $pin
audio:
  device: default   # ALSA's default: $ASOUND (dmix on the USB card${card:+ "$card"})
  rate: 48000
${led_pin:+status_led:
  pin: $led_pin
}${bell_pin:+bell:
  pin: $bell_pin
}state_dir: $p$STATE
clips:
  path: $p$STATE/sets/current
YAML
  if [ -n "$root_json" ]; then
    cat <<YAML
sync:
  url: "$hub/repo"
  root: $p$ETC/root.json
YAML
    [ -z "$set_name" ] || echo "  set: \"$set_name\""
    [ -z "$group" ] || echo "  group: \"$group\""
  fi
  return 0
}

step_config() {
  render_config "" >"$tmp/kiosk.yaml"
  # The same settings as this machine sees them (paths under --root-dir), for check-config,
  # enroll and the self-test.
  render_config "$R" >"$tmp/host.yaml"
  "$R$VENV/bin/kiosk" check-config "$tmp/host.yaml" >/dev/null ||
    fail "config: the generated config is invalid (see above)"
  mkdir -p "$R$ETC"
  chmod 0755 "$R$ETC"
  # No secrets in it (the token is spent by enroll; the credential lives in $STATE): 0644.
  if [ -f "$R$ETC/kiosk.yaml" ] && ! cmp -s "$tmp/kiosk.yaml" "$R$ETC/kiosk.yaml"; then
    cp -p "$R$ETC/kiosk.yaml" "$R$ETC/kiosk.yaml.old"
  fi
  put_file config "$tmp/kiosk.yaml" "$ETC/kiosk.yaml" 0644 || true
  if [ -n "$root_json" ]; then
    put_file config "$root_json" "$ETC/root.json" 0644 || true
  fi
}

detect_card() { # the id of the first USB sound card, from /proc/asound
  local d
  for d in /proc/asound/card[0-9]*; do
    [ -e "$d/usbid" ] && cat "$d/id" && return 0
  done
  return 1
}

resolve_card() { # without --audio-card: the first USB card of this machine (not under --root-dir)
  if [ -z "$card" ] && live && card=$(detect_card); then
    echo "  (found the USB sound card '$card')"
  fi
  return 0
}

step_alsa() {
  if [ -z "$card" ]; then
    report skipped alsa "no --audio-card and no USB sound card found: $ASOUND untouched"
    return 0
  fi
  sed "s/CARD_NAME/$card/g" "$SRC/config/asound.conf.example" |
    { echo "$MARK"; cat; } >"$tmp/asound.conf"
  # Keep a system config we did not write, once, so --uninstall can put it back.
  if [ -f "$R$ASOUND" ] && ! grep -qF "$MARK" "$R$ASOUND" && [ ! -e "$R$ASOUND.kiosk-orig" ]; then
    cp -p "$R$ASOUND" "$R$ASOUND.kiosk-orig"
  fi
  put_file alsa "$tmp/asound.conf" "$ASOUND" 0644 || true
}

step_journald() {
  cat >"$tmp/journald.conf" <<EOF
$MARK
# Bounded logs on the SD card; see docs/install.md (Storage=volatile keeps them in RAM only).
[Journal]
SystemMaxUse=64M
SystemKeepFree=256M
RuntimeMaxUse=32M
MaxRetentionSec=1month
SyncIntervalSec=15min
EOF
  if put_file journald "$tmp/journald.conf" "$JOURNALD" 0644 && booted; then
    systemctl restart systemd-journald || true
  fi
}

step_units() {
  local unit_changed=0 rootopt=()
  [ -z "$R" ] || rootopt=(--root="$R")
  # Plain Debian leaves /dev/gpiochip* to root; Raspberry Pi OS already gives it to gpio.
  printf '%s\nSUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"\n' "$MARK" \
    >"$tmp/udev.rules"
  if put_file udev "$tmp/udev.rules" "$UDEV" 0644 && booted; then
    udevadm control --reload-rules || true
    udevadm trigger --subsystem-match=gpio || true
  fi
  put_file unit "$SRC/systemd/kiosk.service" "$UNIT" 0644 && unit_changed=1
  local u
  for u in "${UPDATE_UNITS[@]}"; do
    put_file unit "$SRC/systemd/$u" "/etc/systemd/system/$u" 0644 && unit_changed=1
  done
  if [ "$unit_changed" = 1 ] && booted; then systemctl daemon-reload; fi
  for u in kiosk.service "${UPDATE_UNITS[@]}"; do
    if systemctl "${rootopt[@]}" is-enabled --quiet "$u" 2>/dev/null; then
      report unchanged unit "$u enabled"
    else
      systemctl "${rootopt[@]}" enable --quiet "$u" || fail "unit: systemctl enable $u failed"
      report changed unit "$u enabled"
    fi
  done
  local uid gid
  uid=$(id_of passwd kiosk) && gid=$(id_of group kiosk)
  if [ -d "$R$STATE" ] && [ "$(stat -c '%a %u %g' "$R$STATE")" = "700 $uid $gid" ]; then
    report unchanged state "$STATE"
  else
    install -d -m 0700 -o "$uid" -g "$gid" "$R$STATE"
    report changed state "$STATE (kiosk, 0700)"
  fi
}

has_command() { # has_command NAME: does the installed kiosk know this subcommand?
  "$R$VENV/bin/kiosk" "$1" --help >/dev/null 2>&1
}

as_kiosk() { # run as the kiosk user on a real booth; as ourselves under --root-dir
  if live; then runuser -u kiosk -- "$@"; else "$@"; fi
}

step_enroll() {
  local before after code=0
  if [ "$enroll" = 0 ]; then
    report skipped enroll "(--no-enroll)"
    return 0
  fi
  if ! has_command enroll; then
    report skipped enroll "this kiosk has no 'enroll' command (the fleet feature is not in it)"
    return 0
  fi
  before=$(sha256sum "$R$STATE/fleet.json" 2>/dev/null || true)
  # The token goes on stdin: never in an argv that ps shows.
  printf '%s\n' "$token" | as_kiosk "$R$VENV/bin/kiosk" enroll --hub "$hub" --token-file - \
    $insecure --config "$tmp/host.yaml" >"$tmp/enroll.out" 2>&1 || code=$?
  sed 's/^/    /' "$tmp/enroll.out"
  case "$code" in
    0) ;;
    2) fail "enroll: the hub at $hub refused the token (used, expired or mistyped?)" 2 ;;
    64) fail "enroll: not sent (plain http:// off this machine needs --insecure)" 1 ;;
    *) fail "enroll: could not reach the hub at $hub (network? URL?)" 3 ;;
  esac
  if ! live; then # give what enroll wrote under --root-dir to the target's kiosk user
    chown -R "$(id_of passwd kiosk):$(id_of group kiosk)" "$R$STATE"
  fi
  after=$(sha256sum "$R$STATE/fleet.json" 2>/dev/null || true)
  if [ "$before" = "$after" ]; then
    report unchanged enroll "enrolled with $hub"
  else
    report changed enroll "enrolled with $hub ($STATE/fleet.json)"
  fi
}

step_service() {
  if ! live; then
    report skipped service "(--root-dir) not started"
  elif ! booted; then
    report skipped service "systemd is not running here (a chroot?): starts at boot"
  elif [ "$changes" -gt 0 ]; then
    systemctl restart kiosk.service || fail "service: kiosk failed to start: journalctl -u kiosk"
    report changed service "kiosk restarted"
  elif systemctl is-active --quiet kiosk.service; then
    report unchanged service "kiosk running"
  else
    systemctl start kiosk.service || fail "service: kiosk failed to start: journalctl -u kiosk"
    report changed service "kiosk started"
  fi
}

step_selftest() {
  if [ "$selftest" = 0 ]; then
    report skipped selftest "(--no-selftest)"
  elif ! has_command selftest; then
    report skipped selftest "this kiosk has no 'selftest' command yet"
  elif as_kiosk "$R$VENV/bin/kiosk" selftest --unattended --config "$tmp/host.yaml"; then
    report unchanged selftest "passed"
  else
    echo "install.sh: installed, but the self-test failed (above); see docs/troubleshooting.md" >&2
    exit 4
  fi
}

install_booth() {
  echo "Installing the booth${R:+ under $R}:"
  step_packages
  step_venv
  step_user
  resolve_card
  step_config
  step_alsa
  step_journald
  step_units
  step_enroll
  step_service
  step_selftest
}

uninstall_booth() {
  echo "Uninstalling the booth${R:+ under $R}:"
  local rootopt=()
  [ -z "$R" ] || rootopt=(--root="$R")
  if [ -e "$R$UNIT" ]; then
    if booted; then systemctl disable --now --quiet kiosk.service || true; else
      systemctl "${rootopt[@]}" disable --quiet kiosk.service || true
    fi
  fi
  remove_path unit "$UNIT"
  local u
  for u in "${UPDATE_UNITS[@]}"; do
    if [ -e "$R/etc/systemd/system/$u" ]; then
      if booted; then systemctl disable --now --quiet "$u" || true; else
        systemctl "${rootopt[@]}" disable --quiet "$u" || true
      fi
    fi
    remove_path unit "/etc/systemd/system/$u"
  done
  if booted; then systemctl daemon-reload; fi
  remove_path udev "$UDEV"
  remove_path journald "$JOURNALD"
  if [ -f "$R$ASOUND" ] && grep -qF "$MARK" "$R$ASOUND"; then
    if [ -e "$R$ASOUND.kiosk-orig" ]; then
      mv -f "$R$ASOUND.kiosk-orig" "$R$ASOUND"
      report changed alsa "$ASOUND restored from before the install"
    else
      remove_path alsa "$ASOUND"
    fi
  else
    report unchanged alsa "$ASOUND not ours"
  fi
  remove_path config "$ETC"
  remove_path venv /opt/kiosk
  if id_of passwd kiosk >/dev/null; then
    local rootopt2=()
    [ -z "$R" ] || rootopt2=(--root "$R")
    userdel "${rootopt2[@]}" kiosk || fail "user: userdel kiosk failed"
    report changed user "kiosk removed"
  else
    report unchanged user "kiosk not present"
  fi
  if [ "$purge" = 1 ]; then
    remove_path state "$STATE"
  elif [ -e "$R$STATE" ]; then
    report unchanged state "$STATE kept (--purge removes it)"
  fi
}

if [ "$uninstall" = 1 ]; then uninstall_booth; else install_booth; fi
if [ "$changes" -eq 0 ]; then
  echo "no changes: the booth was already as asked"
elif [ "$changes" -eq 1 ]; then
  echo "1 change"
else
  echo "$changes changes"
fi
