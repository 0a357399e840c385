#!/usr/bin/env python3
"""The PyTorch side of the 20-epoch comparison on ../shared/data/brain-mask (issue 5):
unet-s at 128x128, batch 4, Adam 1e-3 with a cosine schedule, BCE+Dice 0.8/0.2, no augmentation,
validation = the first and last 20% of the name-sorted slices (segrun's --val ends:0.4), mean Dice per
image at threshold 0.5 with empty-vs-empty = 1, evaluated at 128x128 like segrun's validation.

    python3 Benchmarks/parity/train_brain.py --data ../shared/data/brain-mask --epochs 20 --threads 1

To separate the training loop from initialization and shuffling, `--init MODEL.segrun` starts from the
weights of a segrun model file (`segrun init --preset unet-s --seed S`) and runs its graph, and
`--segrun-order` visits the training slices in segrun's order for `--seed` (its SplitMix64 shuffle).
Prints one JSON line per epoch. Comparisons only.
"""
import argparse, json, math, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
from unet_peers import UNet
import segrun_model

MASK64 = (1 << 64) - 1


class SplitMix64:
    """segrun's SeededGenerator."""
    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


def segrun_order(count, seed, epoch):
    """Trainer.order(epoch:): a Fisher-Yates shuffle of positions 0..<count."""
    order = list(range(count))
    rng = SplitMix64((seed + 0xE90C * (epoch + 1)) & MASK64)
    for i in range(count - 1, 0, -1):
        j = rng.next() % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


class SegrunGraph(torch.nn.Module):
    """A segrun model file's graph with its weights as float32 parameters; BatchNorm running statistics
    are buffers updated in training mode (momentum 0.1, as segrun)."""
    def __init__(self, path):
        super().__init__()
        self.nodes, tensors, self.outputs = segrun_model.load(path)
        stats = set()
        for _, code, _, a in self.nodes:
            if code == 11:
                stats.update((a["mean"], a["var"]))
        self.values = torch.nn.ParameterList()
        for i, (_, t) in enumerate(tensors):
            self.values.append(torch.nn.Parameter(t.float(), requires_grad=i not in stats))

    def forward(self, x):
        return segrun_model.forward(self.nodes, list(self.values), self.outputs, x, training=self.training,
                                    running_in_place=True)[0]


def load(root, size):
    names = sorted(n for n in os.listdir(os.path.join(root, "images")) if n.endswith(".png"))
    xs, ms = [], []
    for n in names:
        x = torch.tensor(np.asarray(Image.open(os.path.join(root, "images", n)).convert("L")), dtype=torch.float32)[None, None] / 255
        m = torch.tensor(np.asarray(Image.open(os.path.join(root, "masks", n)).convert("L")), dtype=torch.float32)[None, None]
        xs.append(F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False))
        ms.append((F.interpolate(m, size=(size, size), mode="nearest") > 0).float())
    return names, torch.cat(xs), torch.cat(ms)


def dice_scores(logits, m):
    p = (torch.sigmoid(logits) >= 0.5).float()
    inter = (p * m).sum((1, 2, 3)); s = p.sum((1, 2, 3)) + m.sum((1, 2, 3))
    return torch.where(s == 0, torch.ones_like(s), 2 * inter / s.clamp(min=1))


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--data", default="../shared/data/brain-mask")
    a.add_argument("--epochs", type=int, default=20)
    a.add_argument("--size", type=int, default=128)
    a.add_argument("--batch", type=int, default=4)
    a.add_argument("--threads", type=int, default=1)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--init", help="start from this segrun model file's weights (its graph)")
    a.add_argument("--segrun-order", action="store_true", help="visit the slices in segrun's order for --seed")
    args = a.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    names, x, m = load(args.data, args.size)
    n = len(names); k = max(1, round(n * 0.4 / 2))
    val = list(range(k)) + list(range(n - k, n)); train = [i for i in range(n) if i not in set(val)]
    mean, std = x[train].mean(), x[train].std(unbiased=False)
    x = (x - mean) / std
    model = SegrunGraph(args.init) if args.init else UNet()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    steps = args.epochs * math.ceil(len(train) / args.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(1, s / steps))))
    best = 0
    for epoch in range(args.epochs):
        model.train(); t0 = time.time()
        order = segrun_order(len(train), args.seed, epoch) if args.segrun_order else torch.randperm(len(train)).tolist()
        for b in range(0, len(order), args.batch):
            idx = [train[i] for i in order[b:b + args.batch]]
            logits = model(x[idx]); pr = torch.sigmoid(logits); mm = m[idx]
            dice = 1 - ((2 * (pr * mm).sum((2, 3)) + 1) / (pr.sum((2, 3)) + mm.sum((2, 3)) + 1)).mean()
            loss = 0.8 * F.binary_cross_entropy_with_logits(logits, mm) + 0.2 * dice
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        model.eval()
        with torch.no_grad():
            d = torch.cat([dice_scores(model(x[val[i:i + 8]]), m[val[i:i + 8]]) for i in range(0, len(val), 8)]).mean().item()
        best = max(best, d)
        print(json.dumps({"epoch": epoch + 1, "val_dice": d, "best_val_dice": best, "seconds": time.time() - t0}), flush=True)


if __name__ == "__main__":
    main()
