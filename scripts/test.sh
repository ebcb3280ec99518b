#!/usr/bin/env bash
# The test command (README, "The two commands"; .ci/run runs exactly this): headless Chromium
# for the report's browser test, the Rust workspace's tests, the Python virtualenvs as the main
# job creates them (`benchmarks setup`), then the Python comparisons' tests in each.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
cargo test --workspace --release
# Run the binaries that `cargo test` has just built. `cargo run` would build gen-runtime and
# everything above it again: a plain build resolves other dependency features than the test
# build (dev-dependencies enable some), and on 2 cores that rebuild took 13 minutes.
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
"$target_dir/release/benchmarks" setup
GEN_RUNTIME_EXAMPLES="$target_dir/release/examples" bash comparisons/test.sh
