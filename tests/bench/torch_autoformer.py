#!/usr/bin/python3
"""PyTorch twin of a shiftnas AutoFormer subnet for `make bench`
(tests/bench/autoformer-bench.sh).

    torch_autoformer.py ARCH [--steps N] [--warmup W] [--batch B] [--image S]
                        [--channels C] [--patch P] [--head-dim Q] [--classes K]

ARCH is shiftnas's canonical text, `vit:e=E;d=L;h=h1,...;m=r1,...`
(doc/search-spaces.md). The network is what src/nn/supernet_vit.c computes
for that subnet: a patch embedding (a P x P convolution of stride P, with
bias), a class token and a position embedding over the T = (S/P)^2 + 1
tokens, L pre-norm blocks (layer norm, eps 1e-6; q, k and v of width
h*Q with biases -- one fused linear layer here, the same parameters and
MACs; softmax(q k^T / sqrt(Q)) v per head; a projection h*Q -> E with bias;
layer norm; E -> round(r*E) -> E MLP with biases and exact (erf) GELU),
then the final layer norm on the class token alone and the E -> K head.

It prints, one "key value" per line: torch_version, torch_blis (the
kernels of the system BLAS if it is BLIS, on which torch's matrix products
run here), arch, macs (per image,
counted from the modules while the forward runs: a multiply-add per
linear/convolution weight use and per attention product, none for biases,
norms, softmax or GELU, shiftnas's convention), parameters (every element of
every parameter), ms_per_step (wall clock, mean of the timed steps), images_per_second,
cpu_ms_per_step (the process's CPU time, which a loaded machine inflates less),
peak_rss_mib (getrusage). One training step = forward, label-smoothed
(0.1) cross-entropy, backward and AdamW on the same batch of B random
S x S x C images, one thread, after W untimed steps.
"""
import argparse
import ctypes
import os
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def parse_arch(text):
    if not text.startswith("vit:"):
        raise ValueError(f"not a ViT architecture: {text!r}")
    fields = {}
    for part in text[4:].split(";"):
        key, _, value = part.partition("=")
        fields[key.strip()] = value.strip()
    embed, depth = int(fields["e"]), int(fields["d"])
    heads = [int(v) for v in fields["h"].split(",")]
    ratios = [float(v) for v in fields["m"].split(",")]
    if len(heads) != depth or len(ratios) != depth:
        raise ValueError(f"{text!r}: {depth} layers but {len(heads)} heads and {len(ratios)} ratios")
    return embed, depth, heads, ratios


def blas_kernels():
    """The kernels BLIS picks in this environment when the system BLAS that
    torch loaded is BLIS (Debian's libblas.so.3 can be, without BLIS's own
    symbols): asked of libblis.so.4 next to it, the same build."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libblas.so" in line}
        for path in sorted(paths):
            blis = os.path.join(os.path.dirname(os.path.realpath(path)), "libblis.so.4")
            if not os.path.exists(blis):
                continue
            lib = ctypes.CDLL(blis)
            lib.bli_init()
            lib.bli_arch_query_id.restype = ctypes.c_int
            lib.bli_arch_string.restype = ctypes.c_char_p
            lib.bli_arch_string.argtypes = [ctypes.c_int]
            return lib.bli_arch_string(lib.bli_arch_query_id()).decode()
    except (OSError, AttributeError):
        pass
    return "unknown"


def round_half_away(x):
    """C's lround: halves away from zero (Python's round() rounds to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


class MacCounter:
    def __init__(self):
        self.macs = 0
        self.active = False

    def add(self, n):
        if self.active:
            self.macs += int(n)


def count_module_macs(counter, module, output):
    """A forward hook's MAC count (shiftnas's convention): a multiply-add per
    weight use of a linear layer or convolution (grouped: per group's input
    channels), none for biases, norms or activations."""
    if isinstance(module, nn.Linear):
        counter.add(output.numel() // module.out_features * module.in_features * module.out_features)
    elif isinstance(module, nn.Conv2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        counter.add(output.numel() * module.in_channels // module.groups * k)


def train_timed(model, x, y, warmup, steps, label_smoothing=0.1, lr=1e-3, weight_decay=0.05,
                betas=(0.9, 0.999), eps=1e-8, name="torch twin"):
    """Training steps (forward, label-smoothed cross-entropy, backward, AdamW)
    on the batch x, y: the wall-clock and CPU seconds of each of `steps` steps
    after `warmup` untimed ones."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=betas, eps=eps,
                            weight_decay=weight_decay)
    model.train()
    times, cpu = [], []
    for step in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, label_smoothing=label_smoothing)
        loss.backward()
        opt.step()
        if not math.isfinite(loss.item()):
            raise SystemExit(f"{name}: loss is {loss.item()} at step {step + 1}")
        if step >= warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return times, cpu


def print_timing(times, cpu, batch):
    """step_ms, ms_per_step (mean), images_per_second, cpu_ms_per_step, peak_rss_mib."""
    ms = 1000.0 * sum(times) / len(times)
    print(f"step_ms {' '.join(f'{1000 * t:.1f}' for t in times)}")
    print(f"ms_per_step {ms:.1f}")
    print(f"images_per_second {1000.0 * batch / ms:.2f}")
    print(f"cpu_ms_per_step {1000.0 * sum(cpu) / len(cpu):.1f}")
    print(f"peak_rss_mib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0:.0f}")


class Block(nn.Module):
    def __init__(self, embed, heads, head_dim, hidden, counter):
        super().__init__()
        self.heads, self.head_dim, self.counter = heads, head_dim, counter
        width = heads * head_dim
        self.norm1 = nn.LayerNorm(embed, eps=1e-6)
        self.qkv = nn.Linear(embed, 3 * width)
        self.proj = nn.Linear(width, embed)
        self.norm2 = nn.LayerNorm(embed, eps=1e-6)
        self.fc1 = nn.Linear(embed, hidden)
        self.fc2 = nn.Linear(hidden, embed)

    def forward(self, x):
        n, t, _ = x.shape
        h, q_dim = self.heads, self.head_dim
        qkv = self.qkv(self.norm1(x)).view(n, t, 3, h, q_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q_dim))
        y = torch.softmax(scores, dim=-1) @ v
        self.counter.add(2 * n * h * t * t * q_dim)  # q k^T and P v
        x = x + self.proj(y.transpose(1, 2).reshape(n, t, h * q_dim))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class AutoFormerSubnet(nn.Module):
    def __init__(self, arch, image=224, channels=3, patch=16, head_dim=64, classes=1000):
        super().__init__()
        embed, depth, heads, ratios = parse_arch(arch)
        self.counter = MacCounter()
        self.patch = nn.Conv2d(channels, embed, patch, patch)
        tokens = (image // patch) ** 2 + 1
        self.class_token = nn.Parameter(torch.zeros(1, 1, embed))
        self.position = nn.Parameter(torch.zeros(1, tokens, embed))
        self.blocks = nn.Sequential(*[
            Block(embed, heads[l], head_dim, round_half_away(ratios[l] * embed), self.counter)
            for l in range(depth)])
        self.norm = nn.LayerNorm(embed, eps=1e-6)
        self.head = nn.Linear(embed, classes)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.trunc_normal_(p, std=0.02)
        nn.init.trunc_normal_(self.class_token, std=0.02)
        nn.init.trunc_normal_(self.position, std=0.02)
        for module in self.modules():
            module.register_forward_hook(self._count)

    def _count(self, module, inputs, output):
        count_module_macs(self.counter, module, output)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1) + self.position
        x = self.blocks(x)
        return self.head(self.norm(x[:, 0]))

    def macs_per_image(self, image, channels):
        self.counter.macs, self.counter.active = 0, True
        with torch.no_grad():
            self(torch.zeros(1, channels, image, image))
        self.counter.active = False
        return self.counter.macs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("arch")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--image", type=int, default=224)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = AutoFormerSubnet(args.arch, args.image, args.channels, args.patch, args.head_dim,
                             args.classes)
    macs = model.macs_per_image(args.image, args.channels)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"torch_version {torch.__version__}")
    print(f"arch {args.arch}")
    print(f"macs {macs}")
    print(f"parameters {parameters}")
    sys.stdout.flush()

    x = torch.randn(args.batch, args.channels, args.image, args.image)
    y = torch.randint(0, args.classes, (args.batch,))
    times, cpu = train_timed(model, x, y, args.warmup, args.steps, name="torch_autoformer")
    print_timing(times, cpu, args.batch)
    print(f"torch_blis {blas_kernels()}")  # after the peak: it loads libblis once more


if __name__ == "__main__":
    main()
