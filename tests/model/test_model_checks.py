"""Every model file is checked on load: one line naming the file and what is wrong, nothing more."""

from __future__ import annotations

from dataclasses import fields

import pytest
from bad_models import BAD_MODELS, write_good_model

from ctc_submit.io import CTCInputError
from ctc_submit.model.inference import load_model
from ctc_submit.presets import OVERRIDE_LIMITS, Preset


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_a_broken_model_file_is_one_line_naming_it(tmp_path, case):
    write, fragment = BAD_MODELS[case]
    path = tmp_path / "model.pt"
    write(path)
    with pytest.raises(CTCInputError) as caught:
        load_model(path, "cpu")
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert fragment in message


def test_a_sound_model_file_loads(tmp_path):
    network, card = load_model(write_good_model(tmp_path / "model.pt"), "cpu")
    assert card["filters"] == 4 and not network.training


def test_every_preset_field_but_the_name_has_limits_for_model_cards():
    assert set(OVERRIDE_LIMITS) == {field.name for field in fields(Preset)} - {"name"}
