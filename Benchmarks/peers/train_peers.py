#!/usr/bin/env python3
"""PyTorch CPU training speed of unet-s (the same architecture as unet_peers.py): images/s of Adam steps
at 256x256, batch 4, BCE-with-logits + Dice, for a thread count. Comparisons only.

    python3 Benchmarks/peers/train_peers.py --threads 2 --steps 6
"""
import argparse, json, time, sys, os
import torch
sys.path.insert(0, os.path.dirname(__file__))
from unet_peers import UNet


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = UNet().train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(a.batch, 1, a.size, a.size)
    m = (torch.rand(a.batch, 1, a.size, a.size) > 0.7).float()
    times = []
    for step in range(a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        logits = model(x)
        pr = torch.sigmoid(logits)
        dice = 1 - ((2 * (pr * m).sum((2, 3)) + 1) / (pr.sum((2, 3)) + m.sum((2, 3)) + 1)).mean()
        loss = 0.8 * torch.nn.functional.binary_cross_entropy_with_logits(logits, m) + 0.2 * dice
        loss.backward()
        opt.step()
        if step > 0:
            times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"engine": f"pytorch {torch.__version__}", "threads": a.threads, "batch": a.batch, "size": a.size,
                      "median_step_s": median, "images_per_s": a.batch / median}))


if __name__ == "__main__":
    main()
