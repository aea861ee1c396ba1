import torch

from ctc_submit.model.network import ConvGRU, NetworkConfig, StackedHourglass

TINY = NetworkConfig(filters=8, levels=3, embedding_size=16)


def test_embeddings_have_the_input_size_and_unit_norm():
    network = StackedHourglass(TINY)
    first, second, state = network(torch.randn(2, 1, 32, 48))
    assert first.shape == second.shape == (2, 16, 32, 48)
    assert torch.allclose(second.norm(dim=1), torch.ones(2, 32, 48), atol=1e-5)
    assert len(state) == 2 and all(len(levels) == TINY.levels for levels in state)
    assert [h.shape[-1] for h in state[0]] == [48, 24, 12]


def test_recurrent_state_changes_the_output():
    torch.manual_seed(0)
    network = StackedHourglass(TINY)
    frame = torch.randn(1, 1, 32, 32)
    _, once, state = network(frame)
    _, twice, _ = network(frame, state)
    assert (once - twice).abs().max() > 1e-3


def test_gru_update_gate_blends_old_state_and_relu_candidate():
    gru = ConvGRU(4)
    for parameter in gru.parameters():
        torch.nn.init.zeros_(parameter)
    hidden = torch.full((1, 4, 5, 5), 2.0)
    # zero weights: gates are sigmoid(0) = 0.5 and the candidate is relu(0) = 0
    assert torch.allclose(gru(torch.randn(1, 4, 5, 5), hidden), torch.full_like(hidden, 1.0))


def test_divisor_matches_levels():
    assert NetworkConfig(levels=7).divisor == 64


def test_stateless_levels_have_no_gru_and_no_state_but_the_same_weight_names():
    full = StackedHourglass(TINY)
    stateless = StackedHourglass(NetworkConfig(filters=8, levels=3, embedding_size=16, stateless_levels=1))
    missing = set(full.state_dict()) - set(stateless.state_dict())
    assert missing and all(name.split(".")[1:3] == ["recurrent", "0"] for name in missing)
    assert set(stateless.state_dict()) < set(full.state_dict())
    frame = torch.randn(1, 1, 32, 32)
    _, once, state = stateless(frame)
    assert [hidden is None for hidden in state[0]] == [True, False, False]
    _, twice, _ = stateless(frame, state)
    assert (once - twice).abs().max() > 1e-3  # the coarser levels still remember


def test_weight_names_of_every_level_with_a_gru_are_kept():
    names = StackedHourglass(TINY).state_dict()
    assert {f"{part}.recurrent.{level}.gates.weight" for part in ("first", "second") for level in range(3)} <= set(
        names
    )
