import numpy as np
import torch

from ctc_submit.model.inference import RecurrentWindow, embed_pairs, embed_sequence, load_model, save_model
from ctc_submit.model.network import NetworkConfig, StackedHourglass
from ctc_submit.normalize import normalize_frames
from ctc_submit.presets import get_preset


def test_saved_model_round_trips_and_reproduces_outputs(tmp_path):
    torch.manual_seed(1)
    network = StackedHourglass(NetworkConfig(filters=8, levels=4))
    path = tmp_path / "model.pt"
    save_model(path, network, {"dataset": "DIC-C2DH-HeLa"})
    loaded, card = load_model(path, device="cpu")
    assert card["dataset"] == "DIC-C2DH-HeLa" and card["filters"] == 8 and card["levels"] == 4
    raw = [np.random.default_rng(i).integers(0, 255, (64, 80)).astype(np.uint8) for i in range(3)]
    frames = list(normalize_frames(raw, get_preset("DIC-C2DH-HeLa")))
    network.half().float().eval().to(memory_format=torch.channels_last)  # same rounding and layout as the file
    reference = list(embed_sequence(frames, network, "cpu"))
    reproduced = list(embed_sequence(frames, loaded, "cpu"))
    for a, b in zip(reference, reproduced):
        assert a.shape == (16, 256, 256) and a.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(a, axis=0), 1.0, atol=1e-4)
        np.testing.assert_array_equal(a, b)


def test_embed_sequence_is_a_stream():
    network = StackedHourglass(NetworkConfig(filters=4, levels=3)).eval()
    frames = (np.zeros((256, 256), np.float32) for _ in range(2))
    stream = embed_sequence(frames, network, "cpu")
    assert next(stream).shape == (16, 256, 256)
    assert next(stream).shape == (16, 256, 256)


def test_the_code_between_streamed_frames_runs_outside_inference_mode_and_autocast():
    """Whatever the caller does between frames (a loss, a backward pass) sees torch's defaults."""
    network = StackedHourglass(NetworkConfig(filters=4, levels=3)).eval()
    frames = [np.zeros((256, 256), np.float32)] * 3
    for stream in (embed_sequence(frames, network, "cpu", "bf16"), embed_pairs(frames, network, "cpu", None, "bf16")):
        next(stream)
        assert not torch.is_inference_mode_enabled()
        assert not torch.is_autocast_enabled("cpu")
        assert torch.ones(2, requires_grad=True).sum().requires_grad


def test_pairs_cover_consecutive_frames_and_restart_from_a_warm_up():
    torch.manual_seed(2)
    network = StackedHourglass(NetworkConfig(filters=4, levels=3)).eval().to(memory_format=torch.channels_last)
    raw = [np.random.default_rng(i).integers(0, 255, (24, 24)).astype(np.uint8) for i in range(5)]
    frames = list(normalize_frames(raw, get_preset("DIC-C2DH-HeLa")))
    carried = list(embed_pairs(frames, network, "cpu"))
    windowed = list(embed_pairs(frames, network, "cpu", RecurrentWindow(hop=2, warmup=1)))
    assert len(carried) == len(windowed) == 4 and carried[0].shape == (2, 16, 256, 256)
    per_frame = list(embed_sequence(frames, network, "cpu"))
    np.testing.assert_array_equal(carried[3][1], per_frame[4])
    np.testing.assert_array_equal(windowed[1], carried[1])  # pair (1, 2): before the first restart
    # pair (2, 3) comes from a state restarted at frame 2 after one warm-up frame (frame 1)
    fresh = list(embed_pairs(frames[1:4], network, "cpu"))
    np.testing.assert_array_equal(windowed[2], fresh[1])
    assert np.abs(windowed[2] - carried[2]).max() > 1e-4
    (single,) = embed_pairs(frames[:1], network, "cpu", RecurrentWindow(hop=2, warmup=1))
    assert single.shape == (1, 16, 256, 256)
