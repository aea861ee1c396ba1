#!/usr/bin/env bash
# DIC-C2DH-HeLa (the paper's DIC-HeLa), sequence 01: reads ../DIC-C2DH-HeLa/01, writes ../DIC-C2DH-HeLa/01_RES. Options: see ctc_run.sh.
source "$(dirname "${BASH_SOURCE[0]}")/ctc_run.sh" DIC-C2DH-HeLa 01 "$@"
