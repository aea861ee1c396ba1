#!/usr/bin/env bash
# PhC-C2DH-U373, sequence 02: reads ../PhC-C2DH-U373/02, writes ../PhC-C2DH-U373/02_RES. Options: see ctc_run.sh.
source "$(dirname "${BASH_SOURCE[0]}")/ctc_run.sh" PhC-C2DH-U373 02 "$@"
