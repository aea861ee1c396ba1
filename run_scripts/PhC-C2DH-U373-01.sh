#!/usr/bin/env bash
# PhC-C2DH-U373, sequence 01: reads ../PhC-C2DH-U373/01, writes ../PhC-C2DH-U373/01_RES (replacing it).
# Run from this script's folder, as the Cell Tracking Challenge does. Arguments go to 'ctc-submit run', e.g.
# --score (score against ../PhC-C2DH-U373/01_GT), --device cpu, --clustering exact, --model PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v ctc-submit >/dev/null 2>&1 || { echo "Error: ctc-submit not found on PATH (install the ctc_submit package, or activate its environment)" >&2; exit 2; }
exec ctc-submit run "$here/../PhC-C2DH-U373/01" "$here/../PhC-C2DH-U373/01_RES" --dataset PhC-C2DH-U373 --overwrite "$@"
