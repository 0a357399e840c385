#!/usr/bin/env python3
"""One training step of a segrun model in PyTorch: loss and gradients for the golden file of
Tests/TrainTests/ParityTests.swift.

    swift run -c release segrun init --preset unet-s --seed 7 --out /tmp/unet-s-7.segrun
    python3 Benchmarks/parity/parity_step.py /tmp/unet-s-7.segrun Tests/TrainTests/Golden/unet-s-64-step.json

The batch is a fixed formula (both sides compute it), the loss is 0.8 BCE-with-logits + 0.2 soft Dice
(per image and channel, smoothing 1), BatchNorm in training mode. The golden file keeps the loss, each
parameter gradient's L2 norm, and 8 sampled entries per parameter: small, yet it pins every gradient.
Runs in float64 so that the golden values are the reference, not another float32 result.
"""
import json, math, sys

import torch

sys.path.insert(0, __import__("os").path.dirname(__file__))
import segrun_model


def batch(n=2, size=64):
    x = torch.zeros(n, 1, size, size, dtype=torch.float64)
    m = torch.zeros(n, 1, size, size, dtype=torch.float64)
    for b in range(n):
        for y in range(size):
            for xx in range(size):
                x[b, 0, y, xx] = 0.5 + 0.4 * math.sin(0.11 * xx + 0.07 * y + b) * math.cos(0.05 * y - 0.3 * b)
                dy, dx = y - size / 2 - 4 * b, xx - size / 2 + 3 * b
                m[b, 0, y, xx] = 1.0 if dy * dy + dx * dx < (size / 4) ** 2 else 0.0
    return x, m


def main():
    path, out = sys.argv[1], sys.argv[2]
    nodes, tensors, outputs = segrun_model.load(path)
    params = [t.clone().requires_grad_(True) for _, t in tensors]
    x, m = batch()
    logits = segrun_model.forward(nodes, params, outputs, x)[0]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, m)
    p = torch.sigmoid(logits)
    inter = (p * m).sum(dim=(2, 3))
    dice = 1 - ((2 * inter + 1) / (p.sum(dim=(2, 3)) + m.sum(dim=(2, 3)) + 1)).mean()
    loss = 0.8 * bce + 0.2 * dice
    loss.backward()
    golden = {"loss": loss.item(), "parameters": []}
    for (name, _), t in zip(tensors, params):
        if t.grad is None:
            continue
        g = t.grad.flatten()
        idx = [int(i * (g.numel() - 1) / 7) for i in range(8)]
        golden["parameters"].append({"name": name, "norm": g.norm().item(), "indices": idx, "values": [g[i].item() for i in idx]})
    json.dump(golden, open(out, "w"), indent=1)
    print("loss %.9f, %d parameter gradients -> %s" % (loss.item(), len(golden["parameters"]), out))


if __name__ == "__main__":
    main()
