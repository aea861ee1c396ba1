#!/usr/bin/env bash
# Fluo-N2DH-GOWT1, sequence 01: reads ../Fluo-N2DH-GOWT1/01, writes ../Fluo-N2DH-GOWT1/01_RES. Options: see ctc_run.sh.
source "$(dirname "${BASH_SOURCE[0]}")/ctc_run.sh" Fluo-N2DH-GOWT1 01 "$@"
