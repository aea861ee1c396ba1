#!/bin/sh
# Score DATASET_DIR/SEQ_RES against DATASET_DIR/SEQ_GT with the Cell Tracking Challenge measures.
# Usage: score.sh DATASET_DIR SEQ [ctc-submit evaluate options, e.g. --log-dir DIR --official]
set -eu
if [ "$#" -lt 2 ]; then
    echo "usage: $0 DATASET_DIR SEQ [--measures LIST] [--log-dir DIR] [--json] [--official]" >&2
    exit 2
fi
exec ctc-submit evaluate "$@"
