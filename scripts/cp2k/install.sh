#!/usr/bin/env bash
# Install CP2K (Debian packages `cp2k` and `cp2k-data`) when it is absent.
#
# Idempotent: when both packages are installed it only prints the paths. Needs root (apt-get);
# prefixes sudo only when not root and sudo exists. Never needed by `make test` or `make demo`:
# the CP2K tests skip with a reason when no cp2k binary is found.
#
# Prints, on the last lines:
#   CP2K_BINARY=/usr/bin/cp2k...
#   CP2K_DATA_DIR=/usr/share/cp2k/data
set -euo pipefail

pkgs=(cp2k cp2k-data)
missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then SUDO="sudo"; else
            echo "install.sh: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1
        fi
    fi
    echo "installing: ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
    echo "cp2k and cp2k-data already installed" >&2
fi

bin=""
for name in cp2k cp2k.ssmp cp2k.psmp cp2k.sopt cp2k.popt; do
    if command -v "$name" >/dev/null; then bin="$(command -v "$name")"; break; fi
done
if [ -z "$bin" ]; then
    echo "install.sh: packages installed but no cp2k binary on PATH" >&2; exit 1
fi
data=""
for d in /usr/share/cp2k/data /usr/share/cp2k; do
    if [ -f "$d/BASIS_MOLOPT" ]; then data="$d"; break; fi
done
if [ -z "$data" ]; then
    echo "install.sh: BASIS_MOLOPT not found under /usr/share/cp2k" >&2; exit 1
fi
echo "CP2K_BINARY=$bin"
echo "CP2K_DATA_DIR=$data"
