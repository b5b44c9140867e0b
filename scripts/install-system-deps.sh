#!/usr/bin/env bash
# Debian packages the tests need: chromium (driven by Python Playwright through executable_path=/usr/bin/chromium,
# so no browser is ever downloaded), postgresql (initdb/pg_ctl/postgres for a private test cluster), faketime
# (CI re-runs the time-sensitive tests at fixed dates, `.ci/run`), and what builds and runs the project's
# Dockerfile without a Docker engine (sector_forecast_tests/deploy/test_deploy_image.py): podman, runc (crun
# cannot set the containers' rlimits on these machines), mmdebstrap (makes the local Debian base image),
# uidmap and fuse-overlayfs (podman's user-namespace and overlay helpers), catatonit (the init podman puts in
# a container for compose's `init: true`: it reaps the code server's finished run processes). Idempotent:
# packages already installed are skipped, and apt is not touched at all when nothing is missing.
#
# Needs root or passwordless sudo, and Debian's package archive (the apt sources of a stock Debian 12 image).
# When another apt/dpkg holds the lock (unattended upgrades on a freshly booted machine), it waits for it up to
# APT_LOCK_TIMEOUT seconds (default 300) instead of failing at once with "Could not get lock".
#
#   scripts/install-system-deps.sh            # install what is missing
#   scripts/install-system-deps.sh --check    # only report; exit 1 if something is missing
set -euo pipefail

PACKAGES=(chromium postgresql faketime podman runc mmdebstrap uidmap fuse-overlayfs catatonit)
LOCK_TIMEOUT="${APT_LOCK_TIMEOUT:-300}"

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

# apt 2.6 waits for the dpkg frontend lock when given DPkg::Lock::Timeout, but not for the lists lock
# (`update`) nor the archives lock (`install`): those fail at once with "Could not get lock". So each apt-get
# is retried while its error is a held lock, all within one bounded deadline; any other error fails at once.
deadline=$((SECONDS + LOCK_TIMEOUT))
apt_get() {
    local err rc
    err=$(mktemp)
    while true; do
        rc=0
        "${SUDO[@]}" apt-get -q -o "DPkg::Lock::Timeout=$((deadline > SECONDS ? deadline - SECONDS : 0))" "$@" \
            2>"$err" || rc=$?
        cat "$err" >&2
        if [[ $rc -eq 0 ]] || ! grep -q "Could not get lock" "$err"; then
            rm -f "$err"
            return "$rc"
        fi
        if ((SECONDS >= deadline)); then
            rm -f "$err"
            echo "install-system-deps: gave up after ${LOCK_TIMEOUT}s waiting for the apt/dpkg lock" >&2
            return "$rc"
        fi
        echo "install-system-deps: another apt/dpkg holds the lock; retrying (gives up in $((deadline - SECONDS))s)"
        sleep 5
    done
}

export DEBIAN_FRONTEND=noninteractive
echo "install-system-deps: installing ${missing[*]} (waits up to ${LOCK_TIMEOUT}s for the apt/dpkg locks)"
apt_get update
# --no-install-recommends keeps chromium from pulling a desktop's worth of extras; the packages' own
# dependencies are all the tests need. The postgresql package's post-install may try to start a cluster
# through systemd/init; that is harmless where neither runs — the tests start their own private cluster.
apt_get install -y --no-install-recommends "${missing[@]}"
echo "install-system-deps: done"
