#!/usr/bin/env bash
# Runs the Python comparisons' tests once per virtualenv that exists; a missing env is
# skipped (`cargo run --release -p benchmarks -- setup` creates them, as the test command does
# before this script), so this never installs anything.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
ran=0
for env in comparisons/.venv-*; do
  [ -x "$env/bin/python" ] || continue
  [ -d comparisons/tests ] || continue
  ran=1
  echo "== pytest in $env"
  "$env/bin/python" -m pytest -q comparisons/tests
  rc=$?
  # 5 = no tests collected for this env (every file skipped its framework): not a failure.
  if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then status=$rc; fi
done
[ $ran -eq 1 ] || echo "comparisons: no virtualenvs under comparisons/, Python tests skipped (cargo run --release -p benchmarks -- setup creates them)"
exit $status
