#!/usr/bin/env bash
# Fluo-C2DL-MSC, sequence 02: reads ../Fluo-C2DL-MSC/02, writes ../Fluo-C2DL-MSC/02_RES. Options: see ctc_run.sh.
source "$(dirname "${BASH_SOURCE[0]}")/ctc_run.sh" Fluo-C2DL-MSC 02 "$@"
