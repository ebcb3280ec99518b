#!/usr/bin/env bash
# Installs what the test command needs beyond the Rust toolchain and Python: a headless
# Chromium for benchmarks/tests/report.rs (it renders report.html). Idempotent: does nothing when
# a Chromium binary is already on PATH. Runs as root (CI) or through sudo when available.
set -euo pipefail

for candidate in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$candidate" >/dev/null 2>&1; then
        echo "install-test-deps: $candidate already on PATH ($(command -v "$candidate"))"
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: no chromium on PATH and no apt-get to install it; install Chromium" \
        "by hand, or set BENCHMARKS_SKIP_BROWSER_TESTS=1 to skip the browser tests" >&2
    exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "install-test-deps: not root and no sudo; run 'apt-get install -y chromium' as root," \
            "or set BENCHMARKS_SKIP_BROWSER_TESTS=1 to skip the browser tests" >&2
        exit 1
    fi
fi

echo "install-test-deps: installing chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
# fonts-dejavu-core: text in the rendered page (a bare image may have no font at all).
# Debian calls it `chromium`; Ubuntu's `chromium-browser` is a snap shim, so try `chromium` first.
"${sudo[@]}" apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core \
    || "${sudo[@]}" apt-get install -y -q --no-install-recommends chromium-browser fonts-dejavu-core
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
