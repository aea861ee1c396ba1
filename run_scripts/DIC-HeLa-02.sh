#!/usr/bin/env bash
# DIC-C2DH-HeLa (the paper's DIC-HeLa), sequence 02: reads ../DIC-C2DH-HeLa/02, writes ../DIC-C2DH-HeLa/02_RES. Options: see ctc_run.sh.
source "$(dirname "${BASH_SOURCE[0]}")/ctc_run.sh" DIC-C2DH-HeLa 02 "$@"
