#!/usr/bin/env bash
# Fluo-C2DL-MSC, sequence 02: reads ../Fluo-C2DL-MSC/02, writes ../Fluo-C2DL-MSC/02_RES (replacing it).
# Run from this script's folder, as the Cell Tracking Challenge does. Arguments go to 'ctc-submit run', e.g.
# --score (score against ../Fluo-C2DL-MSC/02_GT), --device cpu, --clustering exact, --model PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v ctc-submit >/dev/null 2>&1 || { echo "Error: ctc-submit not found on PATH (install the ctc_submit package, or activate its environment)" >&2; exit 2; }
exec ctc-submit run "$here/../Fluo-C2DL-MSC/02" "$here/../Fluo-C2DL-MSC/02_RES" --dataset Fluo-C2DL-MSC --overwrite "$@"
