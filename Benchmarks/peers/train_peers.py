#!/usr/bin/env python3
"""PyTorch CPU training speed of unet-s (the same architecture as unet_peers.py): images/s of Adam steps
at 256x256, batch 4, BCE-with-logits + Dice, for a thread count. Comparisons only. `--dims 3 --base 16` is
unet3d-s on patches of SIZE^3 (the Dice summed over the patch's voxels).

    python3 Benchmarks/peers/train_peers.py --threads 2 --steps 6
    python3 Benchmarks/peers/train_peers.py --dims 3 --base 16 --size 96 --batch 2 --threads 2 --steps 3
"""
import argparse, json, time, sys, os
import torch
sys.path.insert(0, os.path.dirname(__file__))
import unet_peers
from unet_peers import UNet


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--dims", type=int, default=2)
    p.add_argument("--base", type=int, default=32)
    a = p.parse_args()
    unet_peers.DIMS = a.dims
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = UNet(base=a.base).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    shape = (a.batch, 1) + (a.size,) * a.dims
    x = torch.rand(shape)
    m = (torch.rand(shape) > 0.7).float()
    axes = tuple(range(2, 2 + a.dims))
    times = []
    for step in range(a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        logits = model(x)
        pr = torch.sigmoid(logits)
        dice = 1 - ((2 * (pr * m).sum(axes) + 1) / (pr.sum(axes) + m.sum(axes) + 1)).mean()
        loss = 0.8 * torch.nn.functional.binary_cross_entropy_with_logits(logits, m) + 0.2 * dice
        loss.backward()
        opt.step()
        if step > 0:
            times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"engine": f"pytorch {torch.__version__}", "threads": a.threads, "batch": a.batch, "size": a.size, "dims": a.dims,
                      "median_step_s": median, "images_per_s": a.batch / median}))


if __name__ == "__main__":
    main()
