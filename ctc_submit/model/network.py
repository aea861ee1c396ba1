"""Recurrent stacked hourglass network producing L2-normalised per-pixel embeddings.

Two hourglasses with separate weights and recurrent states. Each level of an hourglass has a
ConvGRU on its skip connection, so every scale carries memory through the video; that memory
is what lets the same cell keep its embedding from frame to frame. A network may leave its finest
levels without one (``stateless_levels``): the full-resolution GRU costs more than half of a step,
and a cell is remembered at the coarser levels, where it is a few pixels across.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

HourglassState = list[torch.Tensor | None]
NetworkState = list[HourglassState]


@dataclass(frozen=True)
class NetworkConfig:
    """Shape of the network; stored with the weights so a checkpoint rebuilds itself."""

    filters: int = 64
    levels: int = 7
    embedding_size: int = 16
    input_channels: int = 1
    stateless_levels: int = 0  # the finest levels, whose skip has no ConvGRU

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def divisor(self) -> int:
        """Input height and width must be multiples of this (one halving per level below the top)."""
        return 2 ** (self.levels - 1)


class ConvGRU(nn.Module):
    """Convolutional GRU; the candidate uses ReLU (not tanh), and h' = u*h + (1-u)*y."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gates = nn.Conv2d(2 * channels, 2 * channels, 3, padding=1)
        self.candidate = nn.Conv2d(2 * channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor | None) -> torch.Tensor:
        if hidden is None:
            hidden = torch.zeros_like(x)
        reset, update = torch.sigmoid(self.gates(torch.cat([x, hidden], dim=1))).chunk(2, dim=1)
        candidate = F.relu(self.candidate(torch.cat([x, reset * hidden], dim=1)))
        return update * hidden + (1 - update) * candidate


class RecurrentHourglass(nn.Module):
    """One hourglass: conv+ReLU per level, max-pool down, GRU on every skip (but the ``stateless`` finest
    ones), nearest-upsample and add."""

    def __init__(self, in_channels: int, filters: int, levels: int, out_channels: int, stateless: int = 0) -> None:
        super().__init__()
        self.levels = levels
        self.contracting = nn.ModuleList(
            nn.Conv2d(in_channels if level == 0 else filters, filters, 3, padding=1) for level in range(levels)
        )
        # keyed by level, so a level's GRU has the same weight names whichever levels have one
        self.recurrent = nn.ModuleDict({str(level): ConvGRU(filters) for level in range(stateless, levels)})
        self.expanding = nn.ModuleList(nn.Conv2d(filters, filters, 3, padding=1) for _ in range(levels))
        self.head = nn.Conv2d(filters, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, state: HourglassState) -> tuple[torch.Tensor, HourglassState]:
        skips = []
        for level, conv in enumerate(self.contracting):
            if level > 0:
                x = F.max_pool2d(x, 2)
            x = F.relu(conv(x))
            skips.append(x)
        new_state: HourglassState = [
            self.recurrent[str(level)](skip, hidden) if str(level) in self.recurrent else None
            for level, (skip, hidden) in enumerate(zip(skips, state))
        ]
        up: torch.Tensor | None = None
        for level in reversed(range(self.levels)):
            remembered = new_state[level]
            across = skips[level] if remembered is None else remembered
            up = across if up is None else F.interpolate(up, scale_factor=2, mode="nearest") + across
            up = F.relu(self.expanding[level](up))
        return F.normalize(self.head(up), dim=1), new_state


class StackedHourglass(nn.Module):
    """Two recurrent hourglasses; the second sees the image and the first one's embeddings."""

    def __init__(self, config: NetworkConfig = NetworkConfig()) -> None:
        super().__init__()
        self.config = config
        self.first = RecurrentHourglass(
            config.input_channels, config.filters, config.levels, config.embedding_size, config.stateless_levels
        )
        self.second = RecurrentHourglass(
            config.input_channels + config.embedding_size,
            config.filters,
            config.levels,
            config.embedding_size,
            config.stateless_levels,
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                assert module.bias is not None  # every Conv2d here is built with a bias
                nn.init.zeros_(module.bias)

    def initial_state(self) -> NetworkState:
        return [[None] * self.config.levels, [None] * self.config.levels]

    def forward(
        self, image: torch.Tensor, state: NetworkState | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, NetworkState]:
        """One time step: image (N,C,H,W) -> (first embeddings, second embeddings, new state)."""
        if state is None:
            state = self.initial_state()
        first, first_state = self.first(image, state[0])
        second, second_state = self.second(torch.cat([image, first], dim=1), state[1])
        return first, second, [first_state, second_state]
