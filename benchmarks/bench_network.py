"""Network speed on this machine: inference ms/frame at 256x256 and training s/iteration.

    python benchmarks/bench_network.py [--model models/DIC-C2DH-HeLa.pt] [--repeats 10]

Reports the shipped configuration (and, where its finest levels have no ConvGRU, the same with one on
every level) and the paper's full one (64 filters, 7 levels), in fp32 and
with bf16 autocast, on the CPU (and on CUDA when present), with what ``--precision auto`` picks
here and the CPU's capability, so that figures of different machines can be compared. The full
configuration costs about 103 GFLOP per frame, which puts the measured times in physical perspective.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
import torch

from ctc_submit.model.compute import CpuReport, autocast, resolve_precision
from ctc_submit.model.inference import load_model
from ctc_submit.model.network import NetworkConfig, StackedHourglass
from ctc_submit.normalize import NETWORK_SIZE
from ctc_submit.presets import get_preset
from ctc_submit.training.data import TrainingSequence
from ctc_submit.training.ranges import AugmentationRanges
from ctc_submit.training.trainer import TrainingConfig, training_step


def describe(config: NetworkConfig) -> str:
    stateless = f", no ConvGRU on the {config.stateless_levels} finest" if config.stateless_levels else ""
    return f"{config.filters} filters, {config.levels} levels{stateless}"


def inference_ms(network: StackedHourglass, device: torch.device, precision: str, repeats: int) -> float:
    network = network.to(device, memory_format=torch.channels_last).eval()
    frame = torch.randn(1, 1, *NETWORK_SIZE, device=device).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), autocast(device, precision):
        state = None
        for _ in range(2):
            _, _, state = network(frame, state)
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(repeats):
            _, _, state = network(frame, state)
        if device.type == "cuda":
            torch.cuda.synchronize()
    return (time.perf_counter() - started) / repeats * 1000


def training_seconds_per_iteration(config: TrainingConfig, data: str, repeats: int) -> float:
    preset = get_preset("DIC-C2DH-HeLa")
    sequence = TrainingSequence.load(data, "01", preset)
    network = StackedHourglass(config.network).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    rng = np.random.default_rng(0)
    durations = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        training_step(network, optimizer, [sequence], preset, config, AugmentationRanges(), rng, torch.device("cpu"))
        durations.append(time.perf_counter() - started)
    return float(np.mean(durations[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/DIC-C2DH-HeLa.pt")
    parser.add_argument("--data", default="../shared/ctc-data/DIC-C2DH-HeLa")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, all cores)")
    parser.add_argument("--inference-only", action="store_true", help="skip the training timings")
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    shipped, card = load_model(arguments.model, "cpu")
    configs = {"shipped": shipped.config, "paper": NetworkConfig()}
    if shipped.config.stateless_levels:
        configs["shipped, a ConvGRU on every level"] = replace(shipped.config, stateless_levels=0)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    results = {
        "cpu": CpuReport.here().describe(),
        "threads": torch.get_num_threads(),
        "auto_precision": {device.type: resolve_precision("auto", device) for device in devices},
        "inference_ms_per_frame_256": {},
        "training_s_per_iteration": {},
    }
    print(json.dumps({key: results[key] for key in ("cpu", "threads", "auto_precision")}), flush=True)
    for name, config in configs.items():
        for device in devices:
            for precision in ("fp32", "bf16"):
                key = f"{name} ({describe(config)}) {device.type} {precision}"
                milliseconds = inference_ms(StackedHourglass(config), device, precision, arguments.repeats)
                results["inference_ms_per_frame_256"][key] = round(milliseconds, 1)
                print(key, results["inference_ms_per_frame_256"][key], "ms/frame", flush=True)
    trained = card.get("training", {})
    recipes = {
        "shipped recipe": dict(
            clip_length=trained.get("clip_length", 4), crop_size=trained.get("crop_size", 128), network=shipped.config
        ),
        "paper recipe": dict(clip_length=10, crop_size=256, network=NetworkConfig()),
    }
    if shipped.config.stateless_levels:
        recipes["shipped recipe, a ConvGRU on every level"] = {
            **recipes["shipped recipe"],
            "network": replace(shipped.config, stateless_levels=0),
        }
    for name, recipe in {} if arguments.inference_only else recipes.items():
        for precision in ("fp32", "bf16"):
            config = TrainingConfig(precision=precision, **recipe)
            network = config.network
            key = f"{name}: {describe(network)}, {config.clip_length}-frame clips of {config.crop_size}^2, {precision}"
            results["training_s_per_iteration"][key] = round(
                training_seconds_per_iteration(config, arguments.data, 3), 2
            )
            print(key, results["training_s_per_iteration"][key], "s/iteration", flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
