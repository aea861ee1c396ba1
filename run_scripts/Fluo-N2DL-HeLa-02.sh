#!/usr/bin/env bash
# Fluo-N2DL-HeLa, sequence 02: reads ../Fluo-N2DL-HeLa/02, writes ../Fluo-N2DL-HeLa/02_RES. Options: see ctc_run.sh.
source "$(dirname "${BASH_SOURCE[0]}")/ctc_run.sh" Fluo-N2DL-HeLa 02 "$@"
