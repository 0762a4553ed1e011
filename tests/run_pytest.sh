#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the Python tests with an interpreter that has Debian's packages (python3 on PATH may be
# another installation without them).
# usage: run_pytest.sh TEST_FILE_OR_DIR...
set -u
need="import pytest, matplotlib, pandas, numpy, scipy"
for py in /usr/bin/python3 python3; do
  if command -v "$py" >/dev/null && "$py" -c "$need" 2>/dev/null; then
    exec "$py" -m pytest -q -p no:cacheprovider "$@"
  fi
done
echo "run_pytest.sh: no python3 with pytest, matplotlib, pandas, numpy and scipy;" \
  "install them with: apt-get install python3-pytest python3-matplotlib python3-pandas python3-numpy python3-scipy" >&2
exit 1
