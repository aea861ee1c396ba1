"""``python -m ctc_submit.cli``: the ``ctc-submit`` command from the interpreter that runs this module,
so that ``batch`` starts each ``run`` with its own Python, whatever scripts are on PATH."""

from ctc_submit.cli import main

main(prog_name="ctc-submit")
