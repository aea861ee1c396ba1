"""The presets table: lookup by name, and the values a model card may tune."""

import pytest

from ctc_submit.io import CTCInputError
from ctc_submit.presets import PRESETS, get_preset, tuned_preset


def test_short_name_and_unknown_name():
    assert get_preset("DIC-HeLa") is PRESETS["DIC-C2DH-HeLa"]
    with pytest.raises(CTCInputError, match="known: DIC-C2DH-HeLa"):
        get_preset("HeLa")


def test_model_card_overrides_only_named_fields():
    paper = get_preset("DIC-C2DH-HeLa")
    tuned = tuned_preset(paper, {"c": 0.0025})
    assert tuned.c == 0.0025 and paper.c == 0.02
    assert tuned.m_pts == paper.m_pts and tuned.name == paper.name


@pytest.mark.parametrize("overrides", [{"name": "other"}, {"cc": 1.0}])
def test_model_card_override_of_unknown_field_is_refused(overrides):
    with pytest.raises(KeyError, match="unknown preset field"):
        tuned_preset(get_preset("DIC-C2DH-HeLa"), overrides)
