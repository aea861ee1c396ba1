"""Draw three embedding channels as RGB next to the input frame (as in Payer et al., Fig. 1).

    python docs/embedding_figure.py --sequence ../shared/ctc-data/DIC-C2DH-HeLa/01 --frame 20 --out docs/embeddings.png

The network runs over the frames up to --frame so the recurrent state is that of a real run.
The three channels shown are those that vary most over the frame.
"""

from __future__ import annotations

import argparse
import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ctc_submit.io import list_frames, read_frame
from ctc_submit.model.inference import embed_sequence, load_model
from ctc_submit.normalize import NETWORK_SIZE, normalize_frames, resize_linear
from ctc_submit.presets import get_preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequence", default="../shared/ctc-data/DIC-C2DH-HeLa/01")
    parser.add_argument("--model", default="models/DIC-C2DH-HeLa.pt")
    parser.add_argument("--frame", type=int, default=20)
    parser.add_argument("--out", default="docs/embeddings.png")
    arguments = parser.parse_args()
    network, card = load_model(arguments.model, "cpu")
    frames = list_frames(arguments.sequence)[: arguments.frame + 1]
    inputs = normalize_frames((read_frame(path) for path in frames), get_preset(card["dataset"]))
    stream = embed_sequence(inputs, network, "cpu")
    embeddings = next(itertools.islice(stream, arguments.frame, None))
    channels = np.argsort(embeddings.reshape(len(embeddings), -1).std(axis=1))[-3:][::-1]
    rgb = np.clip((embeddings[channels].transpose(1, 2, 0) + 1) / 2, 0, 1)
    image = resize_linear(read_frame(frames[-1]).astype(np.float32), NETWORK_SIZE)
    figure, axes = plt.subplots(1, 2, figsize=(8, 4.2))
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title(f"input {frames[-1].name}")
    axes[1].imshow(rgb)
    axes[1].set_title(f"embedding channels {', '.join(map(str, channels))} as RGB")
    for axis in axes:
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(arguments.out, dpi=100)
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
