#!/usr/bin/env bash
# DIC-HeLa (the paper's name for DIC-C2DH-HeLa), sequence 01: runs DIC-C2DH-HeLa-01.sh with the same arguments.
exec "$(dirname "${BASH_SOURCE[0]}")/DIC-C2DH-HeLa-01.sh" "$@"
