#!/usr/bin/env bash
# DIC-C2DH-HeLa (the paper's DIC-HeLa), sequence 02: reads ../DIC-C2DH-HeLa/02, writes ../DIC-C2DH-HeLa/02_RES (replacing it).
# Run from this script's folder, as the Cell Tracking Challenge does. Arguments go to 'ctc-submit run', e.g.
# --score (score against ../DIC-C2DH-HeLa/02_GT), --device cpu, --clustering exact, --model PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v ctc-submit >/dev/null 2>&1 || { echo "Error: ctc-submit not found on PATH (install the ctc_submit package, or activate its environment)" >&2; exit 2; }
exec ctc-submit run "$here/../DIC-C2DH-HeLa/02" "$here/../DIC-C2DH-HeLa/02_RES" --dataset DIC-C2DH-HeLa --overwrite "$@"
