#!/usr/bin/env bash
# Fluo-N2DL-HeLa, sequence 01: reads ../Fluo-N2DL-HeLa/01, writes ../Fluo-N2DL-HeLa/01_RES. Options: see ctc_run.sh.
source "$(dirname "${BASH_SOURCE[0]}")/ctc_run.sh" Fluo-N2DL-HeLa 01 "$@"
