# Shared body of the per-sequence scripts of this folder (sourced, not run).
#
# Challenge convention: a script runs from its own folder, reads ../DATASET/SEQ and writes
# ../DATASET/SEQ_RES (replacing an earlier result). Arguments after DATASET SEQ go to
# 'ctc-submit run', e.g. --score (score against ../DATASET/SEQ_GT, which must exist), --no-score,
# --device cpu, --clustering exact, --model PATH.
#
# Usage: source ctc_run.sh DATASET SEQ [ctc-submit run options...]
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "Error: ctc_run.sh needs DATASET and SEQ" >&2
    exit 2
fi
dataset="$1"
sequence="$2"
shift 2
data="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../$dataset"
if ! command -v ctc-submit >/dev/null 2>&1; then
    echo "Error: ctc-submit not found on PATH (install the ctc_submit package: pip install <checkout>)" >&2
    exit 2
fi
exec ctc-submit run "$data/$sequence" "$data/${sequence}_RES" --dataset "$dataset" --overwrite "$@"
