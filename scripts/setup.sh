#!/usr/bin/env bash
# Everything a fresh machine of this kind (Debian 12 with Node 20, npm, python3, make, g++) needs
# before ambit builds and its lab runs: Debian tools, npm packages, the TypeScript build and the
# native addon. Idempotent: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have nft || need_pkgs+=(nftables)
have ip || need_pkgs+=(iproute2)
have tc || need_pkgs+=(iproute2)
have curl || need_pkgs+=(curl)
have openssl || need_pkgs+=(openssl)
have haproxy || need_pkgs+=(haproxy)
have tcpdump || need_pkgs+=(tcpdump)
have setpriv || need_pkgs+=(util-linux)
have pgrep || need_pkgs+=(procps)
have ping || need_pkgs+=(iputils-ping)
[ -f /etc/ssl/certs/ca-certificates.crt ] || need_pkgs+=(ca-certificates)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages (${need_pkgs[*]}); run as root or install them: apt-get install ${need_pkgs[*]}" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ package-lock.json -nt node_modules ]; then
  echo "setup: installing npm packages"
  npm install --no-audit --no-fund --loglevel=error 2>&1 | grep -v 'Unknown user config' || true
  touch node_modules
fi

echo "setup: building (tsc + native addon)"
npx --no-install tsc -p tsconfig.json
npx --no-install node-gyp rebuild --directory native --loglevel=error >/dev/null
