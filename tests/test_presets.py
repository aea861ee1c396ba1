"""The presets table: lookup by name, and the values a model card may tune."""

import pytest

from ctc_submit.datasets import DATASETS
from ctc_submit.io import CTCInputError
from ctc_submit.presets import PRESETS, get_preset, on_grid, tuned_preset


def test_short_name_and_unknown_name():
    assert get_preset("DIC-HeLa") is PRESETS["DIC-C2DH-HeLa"]
    with pytest.raises(CTCInputError, match="unknown dataset 'HeLa'; known: .*DIC-C2DH-HeLa"):
        get_preset("HeLa")


def test_a_dataset_of_the_table_without_a_preset_is_refused_naming_those_with_one():
    with pytest.raises(CTCInputError, match="no method parameters .* for BF-C2DL-HSC; known for: DIC-C2DH-HeLa"):
        get_preset("BF-C2DL-HSC")


def test_every_preset_belongs_to_a_dataset_of_the_table():
    assert set(PRESETS) <= set(DATASETS)


def test_model_card_overrides_only_named_fields():
    paper = get_preset("DIC-C2DH-HeLa")
    tuned = tuned_preset(paper, {"c": 0.0025})
    assert tuned.c == 0.0025 and paper.c == 0.02
    assert tuned.m_pts == paper.m_pts and tuned.name == paper.name


@pytest.mark.parametrize("overrides", [{"name": "other"}, {"cc": 1.0}])
def test_model_card_override_of_unknown_field_is_refused(overrides):
    with pytest.raises(KeyError, match="unknown preset field"):
        tuned_preset(get_preset("DIC-C2DH-HeLa"), overrides)


def test_grid_pixel_values_are_converted_from_the_papers_256_grid_to_a_finer_one():
    paper = get_preset("Fluo-N2DH-SIM+")
    assert on_grid(paper, 1.0) is paper
    fine = on_grid(paper, 2.0)
    assert (fine.m_pts, fine.c, fine.flicker_neighbour_distance, fine.parent_dilation) == (400, 0.0005, 6, 2)
    assert fine.upsample_smoothing == paper.upsample_smoothing and fine.border == paper.border
