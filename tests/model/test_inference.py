import numpy as np
import torch

from ctc_submit.model.inference import embed_sequence, load_model, save_model
from ctc_submit.model.network import NetworkConfig, StackedHourglass
from ctc_submit.presets import get_preset


def test_saved_model_round_trips_and_reproduces_outputs(tmp_path):
    torch.manual_seed(1)
    network = StackedHourglass(NetworkConfig(filters=8, levels=4))
    path = tmp_path / "model.pt"
    save_model(path, network, {"dataset": "DIC-C2DH-HeLa"})
    loaded, card = load_model(path, device="cpu")
    assert card["dataset"] == "DIC-C2DH-HeLa" and card["filters"] == 8 and card["levels"] == 4
    frames = [np.random.default_rng(i).integers(0, 255, (64, 80)).astype(np.uint8) for i in range(3)]
    preset = get_preset("DIC-C2DH-HeLa")
    network.half().float().eval().to(memory_format=torch.channels_last)  # same rounding and layout as the file
    reference = list(embed_sequence(frames, network, preset, "cpu"))
    reproduced = list(embed_sequence(frames, loaded, preset, "cpu"))
    for a, b in zip(reference, reproduced):
        assert a.shape == (16, 256, 256) and a.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(a, axis=0), 1.0, atol=1e-4)
        np.testing.assert_array_equal(a, b)


def test_embed_sequence_is_a_stream():
    network = StackedHourglass(NetworkConfig(filters=4, levels=3)).eval()
    frames = (np.zeros((20, 20), np.uint8) for _ in range(2))
    stream = embed_sequence(frames, network, get_preset("DIC-C2DH-HeLa"), "cpu")
    assert next(stream).shape == (16, 256, 256)
    assert next(stream).shape == (16, 256, 256)
