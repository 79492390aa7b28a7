#!/usr/bin/python3
"""Alpha-beta model of one data-parallel shiftnas training step at P ranks.

doc/scaling.md explains the model and where each input below was measured;
this script prints the tables that the document quotes. Python 3 standard
library only:

    /usr/bin/python3 tests/bench/scaling_model.py             # everything (markdown)
    /usr/bin/python3 tests/bench/scaling_model.py --summary   # inputs and the 80% table
    /usr/bin/python3 tests/bench/scaling_model.py --workload cnn --network ib-32
    /usr/bin/python3 tests/bench/scaling_model.py --set ib-32.alpha=1e-6 \\
        --set cnn.serial.uniform=2e-3                         # other inputs
    /usr/bin/python3 tests/bench/scaling_model.py --epoch-table autoformer  # time per epoch

One step of the slowest rank (src/train/data_parallel.c, trainer.c):

    compute      its shards: shard_time(images per shard) each (forward,
                 backward, folding the shard's gradient into the exact
                 accumulator; measured, interpolated in images per shard)
    serial       what every rank repeats on the whole slab whatever P is:
                 the exact reduction's local tops/pack/unpack, AdamW, the
                 generator; plus merging shards x statistics batch-norm floats
    agreement    2 one-int all-reduces (before the reduction, end of step)
    tops         all-reduce MAX, 1 byte per slab entry (shift: + the
                 architecture-gradient entries), in buckets
    sum          all-reduce SUM, 8 bytes per active entry, in buckets
    statistics   all-gather of every shard's batch-norm statistics (CNN)
    losses       all-gather of one loss per shard
    coordinator  shift only: the probability update every `interval` steps
                 (validation forwards split over min(P, chunks) ranks, a
                 serial rest, a gather and 16 small broadcasts), amortised
    input stall  streamed image sets only: the prefetch thread reads the
                 next batch's images of the rank while this step runs, so
                 the step waits max(0, read - the rest of the step); read =
                 images per rank x (latency + bytes / bandwidth per rank),
                 bandwidth per rank = min(node cap / ranks on the node,
                 file system / P) (ASSUMED bandwidths, not measured)

Collectives on P ranks, r ranks per node, N = ceil(P / r) nodes, n bytes,
lg(x) = ceil(log2 x). Node-aware (hierarchical): inside the node over
r' = min(P, r) ranks with the on-node alpha/beta, then across the N nodes,
each of the r' ranks carrying n / r' (so a node sends n, the NIC is shared):

    all-reduce (Rabenseifner: reduce-scatter by recursive halving, all-gather
    by recursive doubling), per message:
        2 lg(r') a_node + 2 (r'-1)/r' n b_node + 2 lg(N) a_net + 2 (N-1)/N n b_net
    all-gather of n bytes in all:
        lg(r') a_node + (r'-1)/r' n b_node + lg(N) a_net + (N-1)/N n b_net
    one-int all-reduce, broadcast, small gather: lg(r') a_node + lg(N) a_net

"on-node" puts all P ranks on one node with this machine's measured costs
(r = infinity: communication as cheap as it gets); "ib-flat" is one rank per
node (r = 1), "ib-32" 32 ranks per node (a cluster of 32-core nodes). The
beta of a reduction includes its arithmetic (measured on the node; between
nodes the wire time plus that arithmetic).
"""
import argparse
import math
import sys

# ---- measured inputs ------------------------------------------------------
# Machine: AMD EPYC (KVM guest, AVX-512), 2 cores, 24 GiB, Debian 12, GCC 12
# -O3, BLIS 0.9 (pthread, haswell kernels for the supernets), Open MPI 4.1.4;
# one BLIS thread per rank. Measured 2026-11-28; doc/scaling.md has the
# commands.

NODE = {
    # MPI_Allreduce / MPI_Allgather between the 2 ranks of this machine
    # (shared memory): median of 3 runs; alpha = the 8-byte all-reduce,
    # beta = the slope of time over 32 KiB .. 8 MiB.
    "alpha": 0.45e-6,             # s
    "beta_int8_max": 1 / 5.07e9,  # s per byte
    "beta_int64_sum": 1 / 6.17e9,
    "beta_float_sum": 1 / 5.24e9,
    "beta_copy": 1 / 5.66e9,      # all-gather
}

NETWORKS = {
    "on-node": {"ranks_per_node": 0},   # 0: every rank on one node
    # 100 Gb/s InfiniBand (HDR100/EDR): ~2 us MPI latency, ~11 GB/s.
    "ib-flat": {"ranks_per_node": 1, "alpha": 2e-6, "wire": 1 / 11e9},
    "ib-32": {"ranks_per_node": 32, "alpha": 2e-6, "wire": 1 / 11e9},
}

WORKLOADS = {
    "cnn": {
        "title": "CNN space, Fashion-MNIST (jobs/configs/cnn-space.ini)",
        "batch": 128,           # [train] batch_size: the strong-scaling global batch
        "slab": 166362,         # gradient entries (the parameter slab)
        "extra": 63,            # architecture-gradient entries (shift: reduced too)
        "statistics": 6176,     # batch-norm running-statistics floats per shard
        # (images per shard, seconds per shard) at 1 rank, batch 128, 8/32/128
        # shards: compute phase / shards. uniform: 135 ms at 8 shards (the
        # machine's undisturbed runs), x1.055 at 32, x1.318 at 128 (per-round
        # ratios); shift: 269 ms at 8 shards, the same ratios assumed.
        "shard_time": {
            "uniform": [(1, 1.390e-3), (4, 4.451e-3), (16, 16.875e-3)],
            "shift": [(1, 2.770e-3), (4, 8.871e-3), (16, 33.63e-3)],
        },
        # 1 rank: "other" + "all-reduce" phases (local work only there)
        "serial": {"uniform": 1.4e-3, "shift": 1.4e-3},
        # active entries / slab: from the phases line's MB per rank
        # (MB = slab x 1 + active x 8 bytes)
        "active": {"uniform": 0.288, "shift": 0.513},
        # one probability update at 1 rank: 4 updates in 12.2 s
        # (shift_interval = 10); the share the ranks split (the validation
        # forwards), as measured for the ViT (0.84)
        "update": 3.05,
        "update_parallel": 0.84,
        # stored bytes per image (28 x 28 x 1); the set is held in memory
        # (55 MB), so a step reads nothing: streamed = 0
        "image_bytes": 784,
        "streamed": 0,
    },
    "vit": {
        "title": "ViT space, Fashion-MNIST (jobs/configs/vit-space.ini)",
        "batch": 128,
        "slab": 369770,
        "extra": 36,
        "statistics": 0,
        # uniform: 59.2 / 93.7 / 174.9 ms at 8 / 32 / 128 shards (medians of
        # 3); shift: 74.2 ms at 8 shards, the same ratios assumed
        "shard_time": {
            "uniform": [(1, 1.366e-3), (4, 2.928e-3), (16, 7.400e-3)],
            "shift": [(1, 1.712e-3), (4, 3.669e-3), (16, 9.275e-3)],
        },
        "serial": {"uniform": 3.1e-3, "shift": 2.9e-3},
        "active": {"uniform": 0.402, "shift": 0.504},
        # 1 rank 0.56 s per update, 2 ranks 0.325 s: 0.47 s split, 0.09 s not
        "update": 0.56,
        "update_parallel": 0.84,
        "image_bytes": 784,
        "streamed": 0,
    },
    "autoformer": {
        "title": "AutoFormer-T, 224x224 (jobs/configs/vit-autoformer-t.ini)",
        "batch": 1024,
        "slab": 10409752,
        "extra": 62,
        "statistics": 0,
        # ESTIMATED (no ImageNet here): bench_shiftnas supernet at batch 1, 2
        # and 8: the middle subnet (1.675 GMACs) costs 128.7 ms per image
        # (slope), so the uniform mean (1.651 GMACs) 126.9 ms; shift: 3 of 4
        # steps a generator subnet (bucket middles, mean 1.71 GMACs: 131.4
        # ms) and 1 of 4 the masked supernet (176.8 ms): 142.7 ms. Per shard
        # + folding 10.4M entries into the accumulator (4.5 ns per entry for
        # a 72%-active slab, 6.1 ns for a full one) and zeroing: 49 / 51 ms.
        "shard_time": {
            "uniform": [(1, 0.049 + 0.1269), (1024, 0.049 + 1024 * 0.1269)],
            "shift": [(1, 0.051 + 0.1427), (1024, 0.051 + 1024 * 0.1427)],
        },
        # 8.4 ns per slab entry and step, as measured for both small spaces
        # (1.4 ms / 166k, 3.1 ms / 370k; AdamW alone is 2.2 ns per entry)
        "serial": {"uniform": 0.087, "shift": 0.087},
        # uniform: mean subnet parameters 7.53M / 10.41M; shift: 3/4 of that
        # plus 1/4 masked steps (every entry)
        "active": {"uniform": 0.723, "shift": 0.81},
        # 8 buckets x 384 images x 131.4 ms x 0.33 (the ViT's forward share
        # of a training image) + 0.09 s not split
        "update": 133.3,
        "update_parallel": 0.999,
        # stored at 256 x 256 x 3 uint8 (`shiftnas data convert ... --size
        # 256`), streamed from the file ([data] stream = on)
        "image_bytes": 256 * 256 * 3,
        "streamed": 1,
        # ---- one epoch (--epoch-table) ----
        # ImageNet-1k: training images and the test split (val/ folder)
        "train_images": 1281167,
        "test_images": 50000,
        "validation_size": 10000,   # [data] validation_size: held out of train
        "epochs": 300,              # [train] epochs
        # Epoch end: EVERY rank evaluates the largest and the smallest subnet
        # on all validation_size held-out images (src/train/trainer.c,
        # evaluate_supernet_ends: not split over the ranks); the last epoch
        # also the test split. ESTIMATED: a forward is 0.33 of a training
        # image (as for the ViT above), which costs 81 ps per MAC for the
        # largest subnet (2.263 GMACs) and 87 ps for the smallest (1.167
        # GMACs): 60.5 + 33.5 ms per image.
        "eval_forward": 0.33 * (81e-12 * 2.263e9 + 87e-12 * 1.167e9),
        # `shiftnas search`, one process, one thread, per MACs target:
        # evolution_evaluations (64) subnets x evolution_validation_images
        # (2000) forwards, then each reported row (evolution + generator)
        # on the whole held-out and test splits; a ~1.3-1.6 GMACs subnet's
        # forward: 0.33 x 80 ps x 1.45 GMACs = 38 ms (ESTIMATED)
        "search_forward": 0.33 * 80e-12 * 1.45e9,
        "search_candidates": 64 * 2000,
        "search_rows": 2,
    },
}

COMMON = {
    "bucket_entries": 1048576,   # [distributed] bucket_entries
    "interval": 100,             # [search] shift_interval
    "validation_images": 384,    # [search] shift_validation_images
    "buckets": 8,                # [search] buckets
    "min_shards": 8,             # [distributed] shards default
    "max_shards": 4096,          # the configuration's limit (= SN_EXACT_SUM_MAX_TERMS)
    "weak_images": 16,           # images per rank in weak scaling
    "merge_ns": 0.2,             # merging the statistics: ns per shard x float (measured)
    "backward_share": 2 / 3,     # backward's share of a shard (overlap variant)
    # Reading streamed images (ASSUMED, not measured here: replace them with
    # the site's figures). The share of a parallel file system (Lustre,
    # GPFS) one job gets for reading, in bytes/s, all ranks together; the
    # node's own limit (its NIC: 100 Gb/s = 12.5 GB/s), shared by the ranks
    # on the node; and a fixed cost per image: the training order is a
    # random permutation, so a rank's images are rarely consecutive and each
    # one is its own HDF5 chunk read (one image per chunk).
    "read_bandwidth": 20e9,
    "node_read_bandwidth": 12.5e9,
    "read_latency": 1e-3,
}

RANKS = [8, 16, 32, 64, 128, 256, 512, 1024]
EPOCH_RANKS = [64, 128, 256, 512, 1024]
STRATEGIES = ("uniform", "shift")
SCALINGS = ("strong", "weak")
COMM_TERMS = ("agreement", "tops", "sum", "statistics", "losses")


def lg(x):
    return math.ceil(math.log2(x)) if x > 1 else 0


class Network:
    """Collective costs of one network scenario."""

    def __init__(self, name):
        spec = NETWORKS[name]
        self.per_node = spec["ranks_per_node"]
        self.a_node = NODE["alpha"]
        self.b_node = {k: NODE["beta_" + k] for k in ("int8_max", "int64_sum", "float_sum", "copy")}
        if self.per_node:
            self.a_net = spec["alpha"]
            self.b_net = {"copy": spec["wire"]}
            for k in ("int8_max", "int64_sum", "float_sum"):
                arithmetic = max(0.0, self.b_node[k] - self.b_node["copy"])
                self.b_net[k] = spec["wire"] + arithmetic

    def split(self, p):
        """(ranks inside a node, nodes)"""
        if not self.per_node:
            return p, 1
        inside = min(p, self.per_node)
        return inside, math.ceil(p / inside)

    def allreduce(self, p, nbytes, op, messages=1):
        r, nodes = self.split(p)
        t = 0.0
        if r > 1:
            t += messages * 2 * lg(r) * self.a_node + 2 * (r - 1) / r * nbytes * self.b_node[op]
        if nodes > 1:
            t += messages * 2 * lg(nodes) * self.a_net + 2 * (nodes - 1) / nodes * nbytes * self.b_net[op]
        return t

    def allgather(self, p, nbytes):
        r, nodes = self.split(p)
        t = 0.0
        if r > 1:
            t += lg(r) * self.a_node + (r - 1) / r * nbytes * self.b_node["copy"]
        if nodes > 1:
            t += lg(nodes) * self.a_net + (nodes - 1) / nodes * nbytes * self.b_net["copy"]
        return t

    def small(self, p):
        r, nodes = self.split(p)
        return lg(r) * self.a_node + (lg(nodes) * self.a_net if nodes > 1 else 0.0)


def shard_time(w, strategy, images):
    """Seconds per shard of `images` images: piecewise linear through the
    measured points, extended by the last segment's slope."""
    points = w["shard_time"][strategy]
    for (n0, t0), (n1, t1) in zip(points, points[1:]):
        if images <= n1 or (n1, t1) == points[-1]:
            return t0 + (images - n0) * (t1 - t0) / (n1 - n0)
    return points[0][1]


def layout(w, p, scaling):
    """(global batch, shards, images per shard of the busiest rank, its
    shards), or None where p ranks cannot run (a shard needs an image; a
    rank needs a shard)."""
    c = COMMON
    batch = w["batch"] if scaling == "strong" else c["weak_images"] * p
    shards = max(c["min_shards"], p)
    if shards > batch or shards > c["max_shards"]:
        return None
    return batch, shards, math.ceil(batch / shards), math.ceil(shards / p)


def step(w, strategy, p, scaling, net, variant="exact"):
    """The terms (seconds) of one step at p ranks, or None if p cannot run."""
    lay = layout(w, p, scaling)
    if lay is None:
        return None
    batch, shards, per_shard, owned = lay
    c = COMMON
    t = {}
    one_shard = shard_time(w, strategy, per_shard)
    t["compute"] = owned * one_shard
    t["serial"] = w["serial"][strategy] + shards * w["statistics"] * c["merge_ns"] * 1e-9
    t["agreement"] = 2 * net.small(p)
    entries = w["slab"] + (w["extra"] if strategy == "shift" else 0)
    active = w["active"][strategy] * entries
    bucket = c["bucket_entries"]
    if variant == "slab":
        active = entries  # [distributed] reduce = slab
    if variant == "float":
        # a plain float32 all-reduce of the whole slab, as most data-parallel
        # trainers do (its bits depend on the rank count)
        t["tops"] = 0.0
        t["sum"] = net.allreduce(p, 4 * entries, "float_sum", math.ceil(entries / bucket))
    else:
        t["tops"] = net.allreduce(p, entries, "int8_max", math.ceil(entries / bucket))
        t["sum"] = net.allreduce(p, 8 * active, "int64_sum", max(1, math.ceil(active / bucket)))
    if variant == "sharded":
        # what if (not implemented): ZeRO-1 style, the int64 sum as a
        # reduce-scatter, each rank unpacking and updating its 1/P of the
        # slab, then an all-gather of the updated float parameters
        t["serial"] = w["serial"][strategy] / p + shards * w["statistics"] * c["merge_ns"] * 1e-9
        t["sum"] = t["sum"] / 2 + net.allgather(p, 4 * entries)
    if variant == "overlap":
        # each bucket's two all-reduces start once its gradients are final,
        # during the backward of the rank's last shard
        reduction = t["tops"] + t["sum"]
        hidden = min(reduction, c["backward_share"] * one_shard)
        if reduction > 0:
            t["tops"] *= 1 - hidden / reduction
            t["sum"] *= 1 - hidden / reduction
    t["statistics"] = net.allgather(p, shards * w["statistics"] * 4) if w["statistics"] else 0.0
    t["losses"] = net.allgather(p, shards * 8)
    t["coordinator"] = coordinator(w, strategy, p, per_shard, net) if strategy == "shift" else 0.0
    # the prefetcher reads the next batch while this step runs
    t["input stall"] = max(0.0, read_time(w, p, per_shard * owned, net) - sum(t.values()))
    return t


def read_bandwidth(p, net):
    """Bytes/s one of p ranks reads at when all of them read at once: the
    node's cap shared by the ranks on the node, the file system's share of
    the job shared by all p."""
    c = COMMON
    inside, _ = net.split(p)
    return min(c["node_read_bandwidth"] / inside, c["read_bandwidth"] / p)


def read_time(w, p, images, net):
    """Seconds one of p ranks takes to read `images` stored images (0 for a
    set held in memory)."""
    if not w["streamed"]:
        return 0.0
    return images * (COMMON["read_latency"] + w["image_bytes"] / read_bandwidth(p, net))


def coordinator(w, strategy, p, chunk, net):
    """The probability update amortised per step: validation chunks are
    shard-sized, each rank takes its run of them."""
    c = COMMON
    chunks = math.ceil(c["validation_images"] / chunk)
    split = w["update"] * w["update_parallel"] / min(p, chunks)
    rest = w["update"] * (1 - w["update_parallel"])
    comm = 2 * net.small(p) + net.allgather(p, chunks * c["buckets"] * 8) + 16 * net.small(p)
    return (split + rest + comm) / c["interval"]


def one_rank(w, strategy, p, scaling):
    """One rank's time for the same global step without communication, at
    the default shard size (strong: 8 shards; weak: shards of weak_images)."""
    c = COMMON
    batch = w["batch"] if scaling == "strong" else c["weak_images"] * p
    per_shard = math.ceil(batch / c["min_shards"]) if scaling == "strong" else c["weak_images"]
    shards = math.ceil(batch / per_shard)
    t = shards * shard_time(w, strategy, per_shard) + w["serial"][strategy] \
        + shards * w["statistics"] * c["merge_ns"] * 1e-9
    if strategy == "shift":
        t += w["update"] / c["interval"]
    return t


def row(w, strategy, p, scaling, net, variant="exact"):
    t = step(w, strategy, p, scaling, net, variant)
    if t is None:
        return None
    total = sum(t.values())
    # what smaller shards cost over the default shard size (inside compute)
    lay = layout(w, p, scaling)
    default = (math.ceil(w["batch"] / COMMON["min_shards"]) if scaling == "strong"
               else COMMON["weak_images"])
    per_image = shard_time(w, strategy, default) / default
    small = max(0.0, t["compute"] - lay[2] * lay[3] * per_image)
    overheads = {x: t[x] for x in COMM_TERMS + ("serial", "coordinator", "input stall")}
    overheads["small shards"] = small
    return {"terms": t, "total": total, "comm": sum(t[x] for x in COMM_TERMS),
            "efficiency": one_rank(w, strategy, p, scaling) / (p * total),
            "small": small, "largest": max(overheads, key=overheads.get),
            "read": read_time(w, p, lay[2] * lay[3], net)}


def largest_efficient(w, strategy, scaling, net, variant="exact", target=0.8):
    """The largest P (8 <= P <= 4096) whose efficiency is >= target, or None."""
    best = None
    for p in range(COMMON["min_shards"], COMMON["max_shards"] + 1):
        r = row(w, strategy, p, scaling, net, variant)
        if r is None:
            if scaling == "strong":
                break
            continue
        if r["efficiency"] >= target:
            best = p
    return best


def ms(x):
    if x == 0:
        return "0"
    return "%.3f" % (1e3 * x) if x < 1e-3 else "%.2f" % (1e3 * x) if x < 0.1 else "%.0f" % (1e3 * x)


def table(key, strategy, scaling, netname, out):
    w = WORKLOADS[key]
    net = Network(netname)
    what = ("global batch %d" % w["batch"] if scaling == "strong"
            else "%d images per rank" % COMMON["weak_images"])
    streamed = w["streamed"]
    out.write("\n#### %s: %s, %s scaling (%s), %s\n\n" % (key, strategy, scaling, what, netname))
    out.write("| P | shards | images/rank | step (ms) | compute | serial | comm | coordinator"
              " | efficiency | ms: small-shard loss | agreement | tops | int64 sum | statistics"
              " | losses | coordinator |%s largest overhead |\n"
              % (" read (overlapped) | input stall |" if streamed else ""))
    columns = 19 if streamed else 17
    out.write("|" + "---|" * columns + "\n")
    for p in RANKS:
        r = row(w, strategy, p, scaling, net)
        if r is None:
            out.write("| %d | | | not possible: P > batch %d (a shard needs an image) |%s\n"
                      % (p, w["batch"], "|" * (columns - 4)))
            continue
        lay = layout(w, p, scaling)
        t = r["terms"]
        reading = (" %s | %s |" % (ms(r["read"]), ms(t["input stall"]))) if streamed else ""
        out.write("| %d | %d | %d | %s | %.0f%% | %.0f%% | %.0f%% | %.0f%% | **%.0f%%** | %s | %s"
                  " | %s | %s | %s | %s | %s |%s %s |\n"
                  % (p, lay[1], lay[2] * lay[3], ms(r["total"]),
                     100 * t["compute"] / r["total"], 100 * t["serial"] / r["total"],
                     100 * r["comm"] / r["total"], 100 * t["coordinator"] / r["total"],
                     100 * r["efficiency"], ms(r["small"]),
                     ms(t["agreement"]),
                     ms(t["tops"]), ms(t["sum"]), ms(t["statistics"]), ms(t["losses"]),
                     ms(t["coordinator"]), reading, r["largest"]))
    best = largest_efficient(w, strategy, scaling, net)
    out.write("\nLargest P with efficiency >= 80%%: **%s**\n" % (best or "none"))
    if streamed:
        first = first_stall(w, strategy, scaling, net)
        out.write("Input stall (the file system, not the network, the limit) from P = **%s**;"
                  " reading hidden at P = %d with >= %.2f GB/s for the job (%.2f GB/s per 1000"
                  " ranks)\n"
                  % (first or "none up to %d" % (min(w["batch"], COMMON["max_shards"])
                                                 if scaling == "strong" else COMMON["max_shards"]),
                     RANKS[-1],
                     hiding_bandwidth(w, strategy, RANKS[-1], scaling, net) / 1e9,
                     hiding_bandwidth(w, strategy, RANKS[-1], scaling, net) / RANKS[-1] * 1000
                     / 1e9))


def first_stall(w, strategy, scaling, net, variant="exact"):
    """The smallest P (8 <= P <= 4096) whose step waits for its images, or
    None (reading always hidden, or a set held in memory)."""
    if not w["streamed"]:
        return None
    for p in range(COMMON["min_shards"], COMMON["max_shards"] + 1):
        t = step(w, strategy, p, scaling, net, variant)
        if t is None:
            if scaling == "strong":
                break
            continue
        if t["input stall"] > 0:
            return p
    return None


def hiding_bandwidth(w, strategy, p, scaling, net):
    """The file system bandwidth (bytes/s, the whole job) at which p ranks
    just read their next batch within the step (the node cap aside)."""
    t = step(w, strategy, p, scaling, net)
    if t is None or not w["streamed"]:
        return None
    lay = layout(w, p, scaling)
    images = lay[2] * lay[3]
    rest = sum(t.values()) - t["input stall"] - images * COMMON["read_latency"]
    if rest <= 0:
        return math.inf
    return p * images * w["image_bytes"] / rest


def weak_images_needed(w, strategy, net, p=1024, target=0.8):
    """Images per rank that weak scaling needs for `target` at p ranks."""
    saved = COMMON["weak_images"]
    try:
        for images in range(1, 4097):
            COMMON["weak_images"] = images
            r = row(w, strategy, p, "weak", net)
            if r is not None and r["efficiency"] >= target:
                return images
        return None
    finally:
        COMMON["weak_images"] = saved


def summary(out):
    variants = ("exact", "slab", "overlap", "sharded", "float")
    out.write("\nLargest P (8..4096) with efficiency >= 80%%; weak scaling with %d images per"
              " rank. Variants: the exact reduction as it is (reduce = active), reduce = slab,"
              " the exact reduction overlapped with the last shard's backward, and a plain"
              " float32 all-reduce of the slab (not reproducible; for comparison); sharded: what"
              " splitting the per-step slab work over the ranks would give (ZeRO-1 style:"
              " reduce-scatter, 1/P of the unpacking and AdamW per rank, all-gather of the"
              " parameters; not implemented). Weak: images per rank that weak scaling needs"
              " for 80%% at P = 1024. Streamed sets (the images read from the file each step,"
              " the next batch while this one trains; file system %.0f GB/s for the job, %.1f"
              " GB/s per node, %.1f ms per image, assumed): the first P whose step waits for"
              " its images (exact reduction), and the file system bandwidth per 1000 ranks that"
              " hides the reading at P = 1024.\n\n"
              % (COMMON["weak_images"], COMMON["read_bandwidth"] / 1e9,
                 COMMON["node_read_bandwidth"] / 1e9, 1e3 * COMMON["read_latency"]))
    out.write("| workload | strategy | scaling | network | exact | slab | overlapped | sharded |"
              " float32 | weak: images/rank for 80% at 1024 | input stall from P |"
              " GB/s per 1000 ranks to hide reading |\n|" + "---|" * 12 + "\n")
    for key, w in WORKLOADS.items():
        for strategy in STRATEGIES:
            for scaling in SCALINGS:
                for netname in NETWORKS:
                    net = Network(netname)
                    cells = []
                    for v in variants:
                        b = largest_efficient(w, strategy, scaling, net, v)
                        cells.append("none" if b is None else
                                     "%d (limit)" % b if b == COMMON["max_shards"] else str(b))
                    need = weak_images_needed(w, strategy, net) if scaling == "weak" else None
                    cells.append(str(need) if need else "")
                    if w["streamed"]:
                        first = first_stall(w, strategy, scaling, net)
                        cells.append(str(first) if first else "none")
                        hide = hiding_bandwidth(w, strategy, 1024, scaling, net)
                        cells.append("%.2f" % (hide / 1024 * 1000 / 1e9) if hide else "")
                    else:
                        cells += ["held in memory", ""]
                    out.write("| %s | %s | %s | %s | %s |\n"
                              % (key, strategy, scaling, netname, " | ".join(cells)))


def inputs(out):
    out.write("\n| input | cnn | vit | autoformer |\n|---|---|---|---|\n")
    for k in ("batch", "slab", "extra", "statistics"):
        out.write("| %s | %s |\n" % (k, " | ".join("%d" % WORKLOADS[w][k] for w in WORKLOADS)))
    for s in STRATEGIES:
        out.write("| ms per shard of 1 / 16 images (%s) | %s |\n"
                  % (s, " | ".join("%.2f / %.2f" % (1e3 * shard_time(WORKLOADS[w], s, 1),
                                                     1e3 * shard_time(WORKLOADS[w], s, 16))
                                   for w in WORKLOADS)))
    for k, scale, unit in (("serial", 1e3, "ms"), ("active", 1, "of the slab")):
        for s in STRATEGIES:
            out.write("| %s, %s (%s) | %s |\n"
                      % (k, unit, s, " | ".join("%.3g" % (scale * WORKLOADS[w][k][s])
                                                for w in WORKLOADS)))
    out.write("| probability update at 1 rank (s) | %s |\n"
              % " | ".join("%.3g" % WORKLOADS[w]["update"] for w in WORKLOADS))
    out.write("| stored bytes per image | %s |\n"
              % " | ".join("%d, %s" % (WORKLOADS[w]["image_bytes"],
                                       "streamed" if WORKLOADS[w]["streamed"] else "held in memory")
                           for w in WORKLOADS))
    out.write("\n| costs | alpha (us) | int8 MAX (GB/s) | int64 SUM (GB/s) | float SUM (GB/s)"
              " | copy (GB/s) |\n|---|---|---|---|---|---|\n")
    out.write("| on the node (measured) | %.2f | %.2f | %.2f | %.2f | %.2f |\n"
              % (1e6 * NODE["alpha"], 1e-9 / NODE["beta_int8_max"], 1e-9 / NODE["beta_int64_sum"],
                 1e-9 / NODE["beta_float_sum"], 1e-9 / NODE["beta_copy"]))
    ib = Network("ib-flat")
    out.write("| between nodes (assumed InfiniBand) | %.2f | %.2f | %.2f | %.2f | %.2f |\n"
              % (1e6 * ib.a_net, 1e-9 / ib.b_net["int8_max"], 1e-9 / ib.b_net["int64_sum"],
                 1e-9 / ib.b_net["float_sum"], 1e-9 / ib.b_net["copy"]))
    out.write("\n| reading streamed images (assumed) | file system, whole job (GB/s) | per node"
              " (GB/s) | per image (ms) |\n|---|---|---|---|\n| | %.1f | %.1f | %.1f |\n"
              % (COMMON["read_bandwidth"] / 1e9, COMMON["node_read_bandwidth"] / 1e9,
                 1e3 * COMMON["read_latency"]))


def hours(x):
    return "%.1f" % (x / 3600)


def epoch_table(key, strategy, netname, out):
    """Predicted time per step, per epoch and for the whole run, strong
    scaling at the workload's batch (shards = P), for EPOCH_RANKS."""
    w = WORKLOADS[key]
    if "train_images" not in w:
        sys.exit("scaling_model.py: --epoch-table %s: no epoch inputs for this workload" % key)
    net = Network(netname)
    train = w["train_images"] - w["validation_size"]
    steps = train // w["batch"]          # the last partial batch is dropped
    per_node = NETWORKS[netname]["ranks_per_node"]
    out.write("\n#### %s: %s, strong scaling (global batch %d, shards = P), %s: one epoch = %d"
              " steps (%d images - %d held out, / %d); %d epochs\n\n"
              % (key, strategy, w["batch"], netname, steps, w["train_images"],
                 w["validation_size"], w["batch"], w["epochs"]))
    out.write("| P | nodes | images/rank | step (s) | read (ms, overlapped) | input stall (ms) |"
              " step efficiency | training per epoch (min) | epoch-end evaluation (min) |"
              " epoch (min) | %d epochs (h) | (days) | core-hours (thousands) |\n|"
              % w["epochs"] + "---|" * 13 + "\n")
    for p in EPOCH_RANKS:
        r = row(w, strategy, p, "strong", net)
        if r is None:
            out.write("| %d | | | not possible: P > batch %d |%s\n" % (p, w["batch"], "|" * 9))
            continue
        lay = layout(w, p, "strong")
        nodes = math.ceil(p / per_node) if per_node else 1
        training = steps * r["total"]
        # every rank evaluates the largest and smallest subnets on all the
        # held-out images, reading them itself (all ranks at once)
        evaluation = w["validation_size"] * w["eval_forward"] + read_time(w, p, w["validation_size"], net)
        test = w["test_images"] * w["eval_forward"] + read_time(w, p, w["test_images"], net)
        epoch = training + evaluation
        total = w["epochs"] * epoch + test
        out.write("| %d | %d | %d | %.2f | %s | %s | %.0f%% | %.1f | %.1f | %.1f | %.0f | %.1f |"
                  " %.0f |\n"
                  % (p, nodes, lay[2] * lay[3], r["total"], ms(r["read"]),
                     ms(r["terms"]["input stall"]), 100 * r["efficiency"], training / 60,
                     evaluation / 60, epoch / 60, total / 3600, total / 86400,
                     p * total / 3600 / 1000))
    evaluation = w["validation_size"] * w["eval_forward"]
    out.write("\nEpoch-end evaluation: %d held-out images x (largest + smallest subnet forward,"
              " %.1f ms) = %.0f s of compute on every rank, whatever P, plus reading them; the"
              " test split (%d images) once after the last epoch, included in the total.\n"
              % (w["validation_size"], 1e3 * w["eval_forward"], evaluation, w["test_images"]))
    if "search_forward" in w:
        candidates = w["search_candidates"] * w["search_forward"]
        rows = w["search_rows"] * (w["validation_size"] + w["test_images"]) * w["search_forward"]
        out.write("`shiftnas search`, one process and thread, per MACs target: %d candidate"
                  " forwards (%.0f s) + %d reported subnets on the held-out and test splits"
                  " (%.0f s) = %.1f h\n"
                  % (w["search_candidates"], candidates, w["search_rows"], rows,
                     (candidates + rows) / 3600))


def apply_set(assignment):
    """NAME=VALUE with NAME workload.key[.strategy], node.key, network.key or
    common.key."""
    path, _, value = assignment.partition("=")
    parts = path.split(".")
    roots = dict(WORKLOADS, **NETWORKS)
    roots["node"] = NODE
    roots["common"] = COMMON
    if parts[0] not in roots or len(parts) < 2:
        sys.exit("scaling_model.py: --set %s: no input %s" % (assignment, path))
    target = roots[parts[0]]
    for part in parts[1:-1]:
        if not isinstance(target, dict) or part not in target:
            sys.exit("scaling_model.py: --set %s: no input %s" % (assignment, path))
        target = target[part]
    if not isinstance(target, dict) or parts[-1] not in target or \
            not isinstance(target[parts[-1]], (int, float)):
        sys.exit("scaling_model.py: --set %s: no numeric input %s" % (assignment, path))
    target[parts[-1]] = float(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override an input, e.g. cnn.serial.uniform=2e-3, node.alpha=1e-6")
    parser.add_argument("--summary", action="store_true", help="inputs and the 80%% table only")
    parser.add_argument("--workload", choices=list(WORKLOADS), action="append")
    parser.add_argument("--strategy", choices=STRATEGIES, action="append")
    parser.add_argument("--scaling", choices=SCALINGS, action="append")
    parser.add_argument("--network", choices=list(NETWORKS), action="append")
    parser.add_argument("--ranks", help="comma-separated rank counts of the tables (default "
                        + ",".join(map(str, RANKS)) + "; --epoch-table: "
                        + ",".join(map(str, EPOCH_RANKS)) + ")")
    parser.add_argument("--epoch-table", metavar="WORKLOAD",
                        choices=[k for k in WORKLOADS if "train_images" in WORKLOADS[k]],
                        help="only the time per step, per epoch and per run of WORKLOAD, strong"
                        " scaling (--strategy, default shift; --network, default ib-32)")
    args = parser.parse_args()
    if args.ranks:
        RANKS[:] = [int(x) for x in args.ranks.split(",")]
        EPOCH_RANKS[:] = RANKS
    for s in args.set:
        apply_set(s)
    out = sys.stdout
    if args.epoch_table:
        for strategy in args.strategy or ["shift"]:
            for netname in args.network or ["ib-32"]:
                epoch_table(args.epoch_table, strategy, netname, out)
        return
    out.write("### Inputs\n")
    inputs(out)
    out.write("\n### Largest rank count with >= 80% efficiency\n")
    summary(out)
    if args.summary:
        return
    for key in args.workload or list(WORKLOADS):
        for strategy in args.strategy or STRATEGIES:
            for scaling in args.scaling or SCALINGS:
                for netname in args.network or list(NETWORKS):
                    table(key, strategy, scaling, netname, out)


if __name__ == "__main__":
    main()
