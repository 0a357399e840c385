#!/usr/bin/env python3
"""The PyTorch side of the 20-epoch comparison on ../shared/data/brain-mask (issue 5):
unet-s at 128x128, batch 4, Adam 1e-3 with a cosine schedule, BCE+Dice 0.8/0.2, no augmentation,
validation = the first and last 20% of the name-sorted slices (segrun's --val ends:0.4), mean Dice per
image at threshold 0.5 with empty-vs-empty = 1, evaluated at 128x128 like segrun's validation.

    python3 Benchmarks/parity/train_brain.py --data ../shared/data/brain-mask --epochs 20 --threads 1
Prints one JSON line per epoch. Comparisons only.
"""
import argparse, json, math, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
from unet_peers import UNet


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
    args = a.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    names, x, m = load(args.data, args.size)
    n = len(names); k = max(1, round(n * 0.4 / 2))
    val = list(range(k)) + list(range(n - k, n)); train = [i for i in range(n) if i not in set(val)]
    mean, std = x[train].mean(), x[train].std(unbiased=False)
    x = (x - mean) / std
    model = UNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = args.epochs * math.ceil(len(train) / args.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(1, s / steps))))
    best = 0
    for epoch in range(args.epochs):
        model.train(); t0 = time.time()
        order = torch.randperm(len(train)).tolist()
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
