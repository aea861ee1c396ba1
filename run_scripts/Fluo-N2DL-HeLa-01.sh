#!/usr/bin/env bash
# Fluo-N2DL-HeLa, sequence 01: reads ../Fluo-N2DL-HeLa/01, writes ../Fluo-N2DL-HeLa/01_RES (replacing it).
# Run from this script's folder, as the Cell Tracking Challenge does. Arguments go to 'ctc-submit run', e.g.
# --score (score against ../Fluo-N2DL-HeLa/01_GT), --device cpu, --clustering exact, --model PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v ctc-submit >/dev/null 2>&1 || { echo "Error: ctc-submit not found on PATH (install the ctc_submit package, or activate its environment)" >&2; exit 2; }
exec ctc-submit run "$here/../Fluo-N2DL-HeLa/01" "$here/../Fluo-N2DL-HeLa/01_RES" --dataset Fluo-N2DL-HeLa --overwrite "$@"
