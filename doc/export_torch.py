#!/usr/bin/python3
"""Rebuild a subnet exported by `shiftnas export` in PyTorch, check it, write ONNX.

    shiftnas export RUN --arch ARCH --out subnet.h5
    shiftnas eval RUN --arch ARCH --logits eval-logits.h5
    /usr/bin/python3 doc/export_torch.py subnet.h5 --logits eval-logits.h5 --onnx subnet.onnx

Reads subnet.h5 (layout: doc/export.md), builds the same network from
explicit PyTorch modules (nothing of shiftnas is imported), loads its
weights, runs the test set the run used (Fashion-MNIST IDX files or an HDF5
image set, the first test_limit images) through the same evaluation
pipeline (centre crop, bilinear resampling, per-channel normalisation), and
compares its logits with those `shiftnas eval --logits` wrote: exit status 1
when the largest absolute difference exceeds --tolerance (1e-4) or a label
differs. Then writes ONNX (torch.onnx.export, batch size free) and checks it
with onnx.checker. Needs Debian's python3-torch, python3-h5py, python3-onnx.
"""
import argparse
import gzip
import math
import os
import struct
import sys

import h5py
import numpy as np
import torch
from torch import nn


def fail(message):
    print(f"export_torch: {message}", file=sys.stderr)
    sys.exit(1)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


# ---- the file ---------------------------------------------------------------

def read_subnet(path):
    """(root attributes, {group: attributes}, {name: numpy array})"""
    tensors, groups = {}, {}
    with h5py.File(path, "r") as f:
        if text(f.attrs.get("format", "")) != "shiftnas-subnet" or f.attrs.get("version") != 1:
            fail(f"{path}: not a shiftnas subnet file (format shiftnas-subnet, version 1)")
        root = {key: f.attrs[key] for key in f.attrs}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                tensors[name] = obj[()]
            else:
                groups[name] = {key: obj.attrs[key] for key in obj.attrs}
        f.visititems(visit)
    return root, groups, tensors


# ---- the networks: one module per layer, named as the file's datasets -------

class InvertedResidual(nn.Module):
    """1x1 expand-BN-ReLU, depthwise kxk-BN-ReLU, 1x1 project-BN, + input if residual."""

    def __init__(self, a, eps):
        super().__init__()
        cin, mid, cout = int(a["in_channels"]), int(a["mid_channels"]), int(a["out_channels"])
        k, stride, pad = int(a["kernel"]), int(a["stride"]), int(a["padding"])
        self.residual = bool(a["residual"])
        self.expand = nn.Conv2d(cin, mid, 1, bias=False)
        self.expand_norm = nn.BatchNorm2d(mid, eps=eps)
        self.depthwise = nn.Conv2d(mid, mid, k, stride, pad, groups=mid, bias=False)
        self.depthwise_norm = nn.BatchNorm2d(mid, eps=eps)
        self.project = nn.Conv2d(mid, cout, 1, bias=False)
        self.project_norm = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x):
        y = torch.relu(self.expand_norm(self.expand(x)))
        y = torch.relu(self.depthwise_norm(self.depthwise(y)))
        y = self.project_norm(self.project(y))
        return x + y if self.residual else y


class ConvNormReLU(nn.Module):
    def __init__(self, cin, cout, a, eps):
        super().__init__()
        k, stride, pad = int(a["kernel"]), int(a["stride"]), int(a["padding"])
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, bias=False)
        self.norm = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x):
        return torch.relu(self.norm(self.conv(x)))


class CnnSubnet(nn.Module):
    """stem, stages of inverted-residual blocks, global average pool, linear head."""

    def __init__(self, root, groups, tensors):
        super().__init__()
        eps = float(root["batchnorm_eps"])
        stem = tensors["stem/conv/weight"].shape
        self.stem = ConvNormReLU(stem[1], stem[0], groups["stem"], eps)
        self.stage_names = []
        for s in range(int(root["stages"])):
            name = f"stage{s}"
            blocks = {f"block{b}": InvertedResidual(groups[f"{name}/block{b}"], eps)
                      for b in range(int(groups[name]["depth"]))}
            setattr(self, name, nn.ModuleDict(blocks))
            self.stage_names.append(name)
        head = tensors["head/weight"].shape
        self.head = nn.Linear(head[1], head[0])

    def forward(self, x):
        x = self.stem(x)
        for name in self.stage_names:
            for block in getattr(self, name).values():
                x = block(x)
        return self.head(x.mean(dim=(2, 3)))


class Attention(nn.Module):
    def __init__(self, embed, heads, head_dim):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.qkv = nn.Linear(embed, 3 * heads * head_dim)
        self.proj = nn.Linear(heads * head_dim, embed)

    def forward(self, x):
        n, t, _ = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        out = torch.softmax(scores, dim=-1) @ v                     # [n, heads, t, head_dim]
        return self.proj(out.transpose(1, 2).reshape(n, t, self.heads * self.head_dim))


class Mlp(nn.Module):
    def __init__(self, embed, hidden):
        super().__init__()
        self.fc1 = nn.Linear(embed, hidden)
        self.fc2 = nn.Linear(hidden, embed)

    def forward(self, x):
        return self.fc2(nn.functional.gelu(self.fc1(x)))            # exact (erf) GELU


class TransformerBlock(nn.Module):
    """pre-norm: x + attention(norm1(x)), then + mlp(norm2(.))"""

    def __init__(self, embed, a, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed, eps=eps)
        self.attention = Attention(embed, int(a["heads"]), int(a["head_dim"]))
        self.norm2 = nn.LayerNorm(embed, eps=eps)
        self.mlp = Mlp(embed, int(a["mlp_hidden"]))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VitSubnet(nn.Module):
    """patch embedding, class token, position embedding, blocks, final norm, head on the class token."""

    def __init__(self, root, groups, tensors):
        super().__init__()
        embed, patch, eps = int(root["embed"]), int(root["patch"]), float(root["layernorm_eps"])
        channels = int(root["input_channels"])
        self.patch_embed = nn.Conv2d(channels, embed, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, embed))
        self.position = nn.Parameter(torch.zeros(1, int(root["tokens"]), embed))
        self.blocks = nn.ModuleList(TransformerBlock(embed, groups[f"blocks/{l}"], eps)
                                    for l in range(int(root["depth"])))
        self.norm = nn.LayerNorm(embed, eps=eps)
        self.head = nn.Linear(embed, tensors["head/weight"].shape[0])

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)          # [n, patches, embed]
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1) + self.position
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, 0]))


def build(root, groups, tensors):
    family = text(root["family"])
    model = {"cnn": CnnSubnet, "vit": VitSubnet}.get(family)
    if model is None:
        fail(f"unknown family '{family}'")
    model = model(root, groups, tensors)
    state = {name.replace("/", "."): torch.from_numpy(np.ascontiguousarray(value))
             for name, value in tensors.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        fail(f"the file and the rebuilt network disagree: missing {missing}, unexpected {unexpected}")
    return model.eval()


# ---- the test set and the evaluation pipeline --------------------------------

def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    _, kind, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    if kind != 0x08:
        fail(f"{path}: IDX type {kind:#x}, expected unsigned bytes")
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def idx_file(directory, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    fail(f"{directory}: neither {stem}.gz nor {stem}")


def read_test_set(root, data_path):
    """uint8 images [N, C, H, W] and int64 labels [N]: the run's first test_limit test images."""
    limit = int(root["test_limit"])
    dataset, path = text(root["dataset"]), data_path or text(root["data_path"])
    if dataset == "hdf5":
        with h5py.File(path, "r") as f:
            count = f["test/labels"].shape[0] if limit == 0 else limit
            images, labels = f["test/images"][:count], f["test/labels"][:count]
        images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
    else:  # an IDX directory (fashion-mnist)
        images = read_idx(idx_file(path, "t10k-images-idx3-ubyte"))[:, None]
        labels = read_idx(idx_file(path, "t10k-labels-idx1-ubyte"))
        if limit:
            images, labels = images[:limit], labels[:limit]
    return np.ascontiguousarray(images), labels.astype(np.int64)


def axis_taps(out_size, crop_size):
    """Bilinear taps with half-pixel centres, clamped to the crop (src/io/image_transform.c)."""
    x = (np.arange(out_size) + 0.5) * (crop_size / out_size) - 0.5
    x = np.maximum(x, 0.0)
    first = np.minimum(x.astype(np.int64), crop_size - 1)
    second = np.minimum(first + 1, crop_size - 1)
    return first, second, (x - first).astype(np.float32)


def preprocess(images, root):
    """The evaluation pipeline: (v/255 - mean)/std per channel, then the centre crop
    that Resize(input/fraction) + CenterCrop(input) keep, resampled to the input size."""
    mean = np.asarray(root["mean"], np.float32)
    std = np.asarray(root["std"], np.float32)
    levels = np.arange(256, dtype=np.float32) / np.float32(255)
    table = (levels[None, :] - mean[:, None]) / std[:, None]        # [C, 256], float32 as in C
    x = np.stack([table[c][images[:, c]] for c in range(images.shape[1])], axis=1)
    height, width = images.shape[2:]
    out_h, out_w = int(root["input_height"]), int(root["input_width"])
    fraction = float(root["eval_crop_fraction"])
    if (out_h, out_w) == (height, width) and fraction >= 1.0:
        return x
    shorter = min(height, width)
    resized = max(round(out_h / fraction), 1)                       # round half to even, as C
    side = min(max(round(out_h * shorter / resized), 1), shorter)
    top, left = (height - side) // 2, (width - side) // 2
    x = x[:, :, top:top + side, left:left + side]
    if side == out_h:
        return np.ascontiguousarray(x)
    c0, c1, cw = axis_taps(out_w, side)
    r0, r1, rw = axis_taps(out_h, side)
    a, b = x[..., c0], x[..., c1]
    rows = a + cw * (b - a)                                          # horizontal, then vertical
    upper, lower = rows[:, :, r0, :], rows[:, :, r1, :]
    return np.ascontiguousarray(upper + rw[:, None] * (lower - upper))


def run_model(model, images, batch):
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            out.append(model(torch.from_numpy(images[start:start + batch])).numpy())
    return np.concatenate(out)


# ---- main --------------------------------------------------------------------

def compare(logits, labels, path, tolerance):
    with h5py.File(path, "r") as f:
        if text(f.attrs.get("format", "")) != "shiftnas-logits":
            fail(f"{path}: not a shiftnas logits file (shiftnas eval --logits)")
        theirs, their_labels = f["logits"][()], f["labels"][()]
    if theirs.shape != logits.shape:
        fail(f"{path}: logits of shape {theirs.shape}, the rebuilt network gives {logits.shape}")
    if not np.array_equal(their_labels, labels):
        fail(f"{path}: the labels differ from the test set's (another data set or test_limit?)")
    difference = np.abs(logits.astype(np.float64) - theirs)
    worst = np.unravel_index(np.argmax(difference), difference.shape)
    largest = float(difference[worst])
    accuracy = float(np.mean(logits.argmax(1) == labels))
    eval_accuracy = float(np.mean(theirs.argmax(1) == labels))
    print(f"logits: max abs difference {largest:.3g} (image {worst[0]}, class {worst[1]}), "
          f"tolerance {tolerance:g}; test accuracy {accuracy:.4f} (shiftnas eval {eval_accuracy:.4f})")
    if not largest <= tolerance:
        fail(f"the logits differ from shiftnas eval's by {largest:.3g} (image {worst[0]}, "
             f"class {worst[1]}: {logits[worst]:.6g} vs {theirs[worst]:.6g}), above {tolerance:g}")


def write_onnx(model, root, path):
    import onnx
    shape = (1, int(root["input_channels"]), int(root["input_height"]), int(root["input_width"]))
    torch.onnx.export(model, torch.zeros(shape), path, input_names=["image"],
                      output_names=["logits"], opset_version=14,
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    onnx.checker.check_model(onnx.load(path))
    print(f"ONNX written to {path} and accepted by onnx.checker (input 'image' "
          f"[batch, {shape[1]}, {shape[2]}, {shape[3]}], output 'logits')")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("subnet", help="the file `shiftnas export` wrote")
    parser.add_argument("--logits", help="the file `shiftnas eval --logits` wrote, to compare with")
    parser.add_argument("--onnx", help="write the network as ONNX here and check it")
    parser.add_argument("--data", help="the data set, if it moved (default: the run's data path)")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest accepted absolute logit difference (default 1e-4)")
    parser.add_argument("--batch", type=int, default=256, help="images per forward")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root, groups, tensors = read_subnet(args.subnet)
    model = build(root, groups, tensors)
    print(f"{args.subnet}: {text(root['arch'])}, {int(root['macs'])} MACs, "
          f"{sum(p.numel() for p in model.parameters())} parameters (shiftnas: {int(root['parameters'])})")
    if args.logits:
        images, labels = read_test_set(root, args.data)
        logits = run_model(model, preprocess(images, root), args.batch)
        compare(logits, labels, args.logits, args.tolerance)
    if args.onnx:
        write_onnx(model, root, args.onnx)


if __name__ == "__main__":
    main()
