#!/usr/bin/python3
"""PyTorch baseline for `make bench`: the same fixed networks as shiftnas
(built from the same INI file), the same synthetic batch, AdamW and
label-smoothed cross-entropy, one thread. Prints "images_per_second N"."""
import configparser
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def int_list(text):
    return [int(v) for v in text.split(",")]


class FixedCNN(nn.Module):
    def __init__(self, cfg, classes=10):
        super().__init__()
        layers, cin = [], 1
        k = int(cfg.get("cnn", "kernel", fallback="3"))
        act = nn.Hardswish if cfg.get("cnn", "activation", fallback="relu") == "hardswish" else nn.ReLU
        for cout, s in zip(int_list(cfg.get("cnn", "channels", fallback="32,64,128")),
                           int_list(cfg.get("cnn", "strides", fallback="1,2,2"))):
            layers += [nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), act()]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(cin, classes)

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


class Block(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.q, self.k, self.v, self.proj = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x):
        n, t, d = x.shape
        h = self.norm1(x)
        split = lambda y: y.view(n, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1)
        x = x + self.proj((p @ v).transpose(1, 2).reshape(n, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class FixedViT(nn.Module):
    def __init__(self, cfg, classes=10):
        super().__init__()
        p = int(cfg.get("vit", "patch", fallback="7"))
        d = int(cfg.get("vit", "embed_dim", fallback="64"))
        depth = int(cfg.get("vit", "depth", fallback="4"))
        heads = int(cfg.get("vit", "heads", fallback="4"))
        hidden = int(cfg.get("vit", "mlp_hidden", fallback="128"))
        self.patch = nn.Conv2d(1, d, p, p)
        tokens = (28 // p) ** 2 + 1
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, tokens, d))
        self.blocks = nn.Sequential(*[Block(d, heads, hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.norm(self.blocks(x)[:, 0]))


def main():
    path, steps = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = configparser.ConfigParser(inline_comment_prefixes=("#", ";"))
    cfg.read(path)
    model_type = cfg.get("model", "type", fallback="cnn")
    batch = int(cfg.get("train", "batch_size", fallback="128"))
    model = FixedCNN(cfg) if model_type == "cnn" else FixedViT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.arange(batch) % 10
    model.train()
    best = float("inf")
    for _ in range(3):
        for step in range(-3, steps):
            if step == 0:
                t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            loss.backward()
            opt.step()
        best = min(best, time.perf_counter() - t0)
    print(f"torch_version {torch.__version__}")
    print(f"images_per_second {steps * batch / best:.1f}")


if __name__ == "__main__":
    main()
