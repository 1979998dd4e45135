#!/usr/bin/env bash
# Beamline set-up: everything `npm start`, `npm test` and `npm run bench` need on Debian 12.
# Idempotent and quick when nothing is missing:
#   1. Debian packages (FFmpeg 5.1 dev libraries, libsrt, redis, ffmpeg, chromium, build tools)
#   2. npm ci (only when package.json / package-lock.json changed since the last run)
#   3. native builds (our N-API addons: libsrt, the demuxer's packet reader, the ladder's codecs; when their sources changed)
#   4. the TypeScript build (incremental) and its non-TypeScript assets
# Usage: bash infra/setup.sh [--bench]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log() { printf '[setup] %s\n' "$*" >&2; }

packages=(
  ffmpeg libavcodec-dev libavformat-dev libavdevice-dev libavfilter-dev libavutil-dev
  libpostproc-dev libswresample-dev libswscale-dev libsrt-gnutls-dev srt-tools
  redis-server redis-tools chromium pkg-config build-essential python3 fonts-dejavu-core
)
if [[ "${1:-}" == "--bench" ]]; then packages+=(nginx libnginx-mod-rtmp); fi

# --- 1. Debian packages -------------------------------------------------------------------
missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if (( ${#missing[@]} )); then
  cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]}"
    log "run this as root, then run the npm command again:"
    printf '  sudo sh -c "%s"\n' "$cmd" >&2
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. npm ci ----------------------------------------------------------------------------
stamp=node_modules/.beamline-install-stamp
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  log "installing npm dependencies (npm ci; native addons approved in allowScripts)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# --- 3. native builds ---------------------------------------------------------------------
# Every folder with a binding.gyp under the role folders is one of our N-API addons (ingest/srt/native,
# ingest/demux-native, transcoders/av-native); it is rebuilt when
# any of its sources changed. node-gyp builds against Node's own headers in /usr/include/node.
while IFS= read -r gyp; do
  dir=$(dirname "$gyp")
  nstamp="$dir/build/.beamline-stamp"
  nwant=$(find "$dir" -path "$dir/build" -prune -o -type f -print | sort | xargs cat | sha256sum | cut -d' ' -f1)
  if [[ ! -f "$nstamp" || "$(cat "$nstamp")" != "$nwant" ]]; then
    log "building native addon in $dir"
    (cd "$dir" && "$root/node_modules/.bin/node-gyp" rebuild --nodedir=/usr --loglevel=warn >/dev/null)
    echo "$nwant" > "$nstamp"
  fi
done < <(find core ingest transcoders packager engine webrtc -name binding.gyp -not -path '*/node_modules/*' 2>/dev/null)

# --- 4. TypeScript build ------------------------------------------------------------------
node_modules/.bin/tsc -p tsconfig.json
node infra/copy-assets.js
