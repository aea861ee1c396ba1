#!/usr/bin/env bash
# PhC-C2DH-U373, sequence 01: reads ../PhC-C2DH-U373/01, writes ../PhC-C2DH-U373/01_RES. Options: see ctc_run.sh.
source "$(dirname "${BASH_SOURCE[0]}")/ctc_run.sh" PhC-C2DH-U373 01 "$@"
