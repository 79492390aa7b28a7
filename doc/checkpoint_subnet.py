#!/usr/bin/env python3
"""Read the weights of one subnet of a CNN-space supernet from a shiftnas
checkpoint (or a model.h5) with h5py.

    python3 doc/checkpoint_subnet.py RUN/checkpoints/step-000000500.h5 \
        "cnn:d=3,1,1;w=18,20,32;k=3,3,3,3,3;e=4,2,2,2,4"

The architecture is the text `shiftnas search` and `shiftnas eval` print.
A subnet uses slices of the shared weights (doc/search-spaces.md): per
stage its first d blocks and first w output channels; per block the first
mid = round(e * cin) expanded channels and the centre k x k of the depthwise
kernel. The script prints each sliced tensor's shape and the subnet's
parameter count, which equals the `params` column of `shiftnas search`.
Needs h5py and numpy (Debian: python3-h5py).
"""
import math
import sys

import h5py
import numpy as np


def round_half_up(x):
    # shiftnas uses C's lround (halves away from zero), not Python's round
    return int(math.floor(x + 0.5))


def parse_arch(text):
    family, _, rest = text.partition(":")
    if family != "cnn":
        raise SystemExit(f"this example reads CNN subnets; got '{family}'")
    fields = dict(part.split("=") for part in rest.split(";"))
    numbers = {key: [float(v) for v in value.split(",")] for key, value in fields.items()}
    return ([int(v) for v in numbers["d"]], [int(v) for v in numbers["w"]],
            [int(v) for v in numbers["k"]], numbers["e"])


def subnet_weights(group, arch_text, stem_channels):
    """{name: numpy array} of the subnet's weights: views into the supernet's."""
    depths, widths, kernels, expands = parse_arch(arch_text)
    weights = {}
    for name in group:
        if name.startswith("stem"):
            weights[name] = group[name][...]
    cin = stem_channels
    block = 0  # index into the per-active-block kernel and expand lists
    for stage, (depth, width) in enumerate(zip(depths, widths)):
        for b in range(depth):
            prefix = f"stage{stage}.block{b}."
            mid = round_half_up(expands[block] * cin)
            k = kernels[block]
            largest = group[prefix + "depthwise.weight"].shape[-1]
            lo = (largest - k) // 2
            weights[prefix + "expand.weight"] = group[prefix + "expand.weight"][:mid, :cin]
            weights[prefix + "depthwise.weight"] = \
                group[prefix + "depthwise.weight"][:mid, lo:lo + k, lo:lo + k]
            weights[prefix + "project.weight"] = group[prefix + "project.weight"][:width, :mid]
            for norm, channels in (("expand_norm", mid), ("depthwise_norm", mid),
                                   ("project_norm", width)):
                for part in ("weight", "bias"):
                    key = f"{prefix}{norm}.{part}"
                    weights[key] = group[key][:channels]
            cin = width
            block += 1
    weights["classifier.weight"] = group["classifier.weight"][:, :cin]
    weights["classifier.bias"] = group["classifier.bias"][...]
    return weights


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    path, arch = sys.argv[1], sys.argv[2]
    with h5py.File(path, "r") as f:
        # a checkpoint says what it is in its root attributes
        for key in ("format", "step", "strategy", "shiftnas_version"):
            if key in f.attrs:
                value = f.attrs[key]
                print(f"{key}: {value.decode() if isinstance(value, bytes) else value}")
        config = f.attrs["config"]
        config = config.decode() if isinstance(config, bytes) else config
        stem = [line for line in config.splitlines() if line.startswith("stem_channels")]
        stem_channels = int(stem[0].split("=")[1])
        weights = subnet_weights(f["supernet"], arch, stem_channels)
    total = 0
    for name, array in weights.items():
        print(f"  {name:42s} {str(tuple(array.shape)):18s} {array.dtype}")
        total += int(np.prod(array.shape))
    print(f"parameters: {total}")


if __name__ == "__main__":
    main()
