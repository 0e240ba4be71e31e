#!/usr/bin/env bash
# Scans the module and the example with checkov (its own virtual environment: its pins
# conflict with moto's). Every skipped check is listed, with why, in .checkov.yaml.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
venv="$TOOLS/checkov"
if [[ ! -x "$venv/bin/checkov" ]]; then
  echo "setup: installing checkov into .tools/checkov"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==3.3.30"
fi
cd "$ROOT"
"$venv/bin/checkov" --config-file .checkov.yaml
