#!/usr/bin/env bash
# Debian packages the browser and PostgreSQL tests need: chromium (driven by Python Playwright through
# executable_path=/usr/bin/chromium, so no browser is ever downloaded) and postgresql (initdb/pg_ctl/postgres
# for a private test cluster). Idempotent: packages already installed are skipped, and apt is not touched at
# all when nothing is missing. Runs as root, or through sudo when that is available.
#
#   scripts/install-system-deps.sh            # install what is missing
#   scripts/install-system-deps.sh --check    # only report; exit 1 if something is missing
set -euo pipefail

PACKAGES=(chromium postgresql)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        echo "install-system-deps: $pkg already installed"
    else
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-system-deps: nothing to install"
    exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
    echo "install-system-deps: missing ${missing[*]}" >&2
    exit 1
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "install-system-deps: need root or passwordless sudo to install ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-system-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -q
# --no-install-recommends keeps chromium from pulling a desktop's worth of extras; the packages' own
# dependencies are all the tests need. The postgresql package's post-install may try to start a cluster
# through systemd/init; that is harmless where neither runs — the tests start their own private cluster.
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-system-deps: done"
