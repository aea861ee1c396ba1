#!/usr/bin/env bash
# Fluo-C2DL-MSC, sequence 01: reads ../Fluo-C2DL-MSC/01, writes ../Fluo-C2DL-MSC/01_RES. Options: see ctc_run.sh.
source "$(dirname "${BASH_SOURCE[0]}")/ctc_run.sh" Fluo-C2DL-MSC 01 "$@"
