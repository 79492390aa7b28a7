#!/usr/bin/python3
"""PyTorch twin of one subnet of a shiftnas supernet, for `make bench`
(tests/bench/subnet-bench.sh; issue 18).

    torch_subnet_twin.py --config SPACE.ini ARCH [--shiftnas PATH] [--steps N]
                         [--warmup W] [--batch B] [--threads T]

ARCH is shiftnas's canonical text of a subnet of the configuration's [space]
(doc/search-spaces.md): `cnn:d=...;w=...;k=...;e=...` or
`vit:e=E;d=L;h=...;m=...`. The space's fixed parts, the image shape, the
batch size and the training settings come from the configuration as shiftnas
resolves it (`shiftnas config show`, `shiftnas space --json`), and the twin
refuses to run unless its MACs (counted from the modules while a forward
runs) and its parameter count equal what `shiftnas space --arch` says of
ARCH.

The networks are what shiftnas trains for that subnet (sliced mode):

  cnn (src/nn/supernet_cnn.c): a stem convolution (stem_kernel, stem_stride,
      padding k/2, no bias), batch norm, ReLU; per stage s the chosen number
      of inverted-residual blocks of the chosen width w_s: 1x1 expand to
      mid = round(e * in) channels (halves away from zero, C's lround), BN,
      ReLU; depthwise k x k (the stage's stride on its first block, padding
      k/2), BN, ReLU; 1x1 project to w_s, BN; the input added back on every
      block but a stage's first; global average pooling; a linear classifier
      with bias. Convolutions have no bias; batch norm eps 1e-5, momentum
      [train] bn_momentum.
  vit (src/nn/supernet_vit.c): tests/bench/torch_autoformer.py's
      AutoFormerSubnet at the space's image, patch and head_dim (q, k, v
      fused into one linear layer there: the same parameters and MACs).

Training: forward, cross-entropy with [train] label_smoothing, backward,
AdamW ([train] learning_rate, beta1, beta2, epsilon, weight_decay) on one
batch of B random images (B = [train] batch_size), T threads (1), W untimed
steps first. Prints "key value" lines: torch_version, arch, macs, parameters
(shiftnas's figures next to them as shiftnas_macs, shiftnas_parameters),
step_ms, ms_per_step, images_per_second, cpu_ms_per_step, peak_rss_mib and
torch_blis (the kernels of the system BLAS when it is BLIS).

Exit status 1 when the twins differ or training fails, 2 for a bad command
line.
"""
import argparse
import configparser
import json
import os
import subprocess
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_autoformer import (AutoFormerSubnet, MacCounter, blas_kernels,  # noqa: E402
                              count_module_macs, print_timing, round_half_away, train_timed)


def fail(message):
    print(f"torch_subnet_twin: {message}", file=sys.stderr)
    sys.exit(1)


def numbers(text, kind=int):
    return [kind(v) for v in text.replace(" ", "").split(",") if v != ""]


def parse_cnn_arch(text, stages):
    """cnn:d=...;w=...;k=...;e=... -> depths, widths, kernels, ratios (one
    kernel and ratio per block that runs, stage by stage)."""
    fields = dict(part.partition("=")[::2] for part in text[4:].split(";"))
    try:
        depths, widths = numbers(fields["d"]), numbers(fields["w"])
        kernels, ratios = numbers(fields["k"]), numbers(fields["e"], float)
    except (KeyError, ValueError) as e:
        fail(f"{text!r}: not a cnn architecture ({e})")
    if len(depths) != stages or len(widths) != stages:
        fail(f"{text!r}: the space has {stages} stages")
    if len(kernels) != sum(depths) or len(ratios) != sum(depths):
        fail(f"{text!r}: {sum(depths)} blocks but {len(kernels)} kernels and {len(ratios)} ratios")
    return depths, widths, kernels, ratios


class InvertedResidual(nn.Module):
    def __init__(self, cin, mid, cout, kernel, stride, residual, momentum):
        super().__init__()
        self.residual = residual
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid, momentum=momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False),
            nn.BatchNorm2d(mid, momentum=momentum), nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout, momentum=momentum))

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class CnnSubnet(nn.Module):
    def __init__(self, arch, space, channels, classes, momentum):
        super().__init__()
        stage_strides = numbers(space["stage_strides"])
        depths, widths, kernels, ratios = parse_cnn_arch(arch, len(stage_strides))
        stem, k0 = int(space["stem_channels"]), int(space["stem_kernel"])
        layers = [nn.Conv2d(channels, stem, k0, int(space["stem_stride"]), k0 // 2, bias=False),
                  nn.BatchNorm2d(stem, momentum=momentum), nn.ReLU(inplace=True)]
        cin, block = stem, 0
        for s, (depth, width) in enumerate(zip(depths, widths)):
            for b in range(depth):
                mid = round_half_away(ratios[block] * cin)
                layers.append(InvertedResidual(cin, mid, width, kernels[block],
                                               stage_strides[s] if b == 0 else 1, b > 0, momentum))
                cin, block = width, block + 1
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(cin, classes)
        self.counter = MacCounter()
        for module in self.modules():
            module.register_forward_hook(lambda m, i, o: count_module_macs(self.counter, m, o))

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def macs_per_image(model, channels, size):
    model.counter.macs, model.counter.active = 0, True
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, channels, size, size))
    model.counter.active = False
    return model.counter.macs


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("arch")
    ap.add_argument("--config", required=True, help="the space's INI file")
    ap.add_argument("--shiftnas", default=os.environ.get("SHIFTNAS", "./shiftnas"))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=0, help="default: [train] batch_size")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be at least 1 and --warmup at least 0")

    # The configuration as shiftnas resolves it (defaults included), and
    # shiftnas's own MACs and parameters of the subnet.
    resolved = configparser.ConfigParser(interpolation=None)
    resolved.read_string(run([args.shiftnas, "config", "show", "--config", args.config]))
    facts = json.loads(run([args.shiftnas, "space", "--config", args.config, "--samples", "1",
                            "--json", "--arch", args.arch]))
    space, train = resolved["space"], resolved["train"]
    channels, size, classes = facts["image_channels"], facts["image_size"], facts["classes"]
    batch = args.batch or int(train["batch_size"])

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if facts["space"] == "cnn":
        model = CnnSubnet(args.arch, space, channels, classes, float(train["bn_momentum"]))
    elif facts["space"] == "vit":
        model = AutoFormerSubnet(args.arch, size, channels, int(space["patch"]),
                                 int(space["head_dim"]), classes)
    else:
        fail(f"{args.config}: space type {facts['space']!r} has no twin")
    macs = macs_per_image(model, channels, size)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"torch_version {torch.__version__}")
    print(f"arch {args.arch}")
    print(f"macs {macs}\nshiftnas_macs {facts['arch']['macs']}")
    print(f"parameters {parameters}\nshiftnas_parameters {facts['arch']['parameters']}")
    sys.stdout.flush()
    if macs != facts["arch"]["macs"] or parameters != facts["arch"]["parameters"]:
        fail(f"{args.arch}: the twin has {macs} MACs and {parameters} parameters, shiftnas space "
             f"says {facts['arch']['macs']} and {facts['arch']['parameters']}: the twins differ")

    if train["optimizer"] != "adamw":
        print(f"note: {args.config} trains with {train['optimizer']}; the twin uses AdamW",
              file=sys.stderr)
    x = torch.randn(batch, channels, size, size)
    y = torch.arange(batch) % classes
    times, cpu = train_timed(model, x, y, args.warmup, args.steps,
                             float(train["label_smoothing"]), float(train["learning_rate"]),
                             float(train["weight_decay"]),
                             (float(train["beta1"]), float(train["beta2"])),
                             float(train["epsilon"]), name="torch_subnet_twin")
    print(f"batch {batch}")
    print_timing(times, cpu, batch)
    print(f"torch_blis {blas_kernels()}")  # after the peak: it loads libblis once more


if __name__ == "__main__":
    main()
