#!/usr/bin/env python3
"""One training step of a segrun model in PyTorch: loss and gradients for the golden files of
Tests/TrainTests/ParityTests.swift.

    swift run -c release segrun init --preset unet-s --seed 7 --out /tmp/unet-s-7.segrun
    python3 Benchmarks/parity/parity_step.py /tmp/unet-s-7.segrun Tests/TrainTests/Golden/unet-s-64-step.json
    swift run -c release segrun init --preset unet-xs --classes 7 --seed 7 --out /tmp/unet-xs-7c.segrun
    python3 Benchmarks/parity/parity_step.py /tmp/unet-xs-7c.segrun Tests/TrainTests/Golden/unet-xs-7class-64-step.json --float32-errors

The batch is a fixed formula (both sides compute it). For a binary model the loss is 0.8 BCE-with-logits
+ 0.2 soft Dice (per image and channel, smoothing 1). For a multi-class model it is segrun's default:
cross-entropy + soft Dice summed over the whole batch, over the foreground classes present in the batch's
truth (smoothing 1); the targets are disks of classes 1-5, class 6 absent from the batch. BatchNorm in training mode. The
golden file keeps the loss, each parameter gradient's L2 norm, and 8 sampled entries per parameter:
small, yet it pins every gradient. Runs in float64 so that the golden values are the reference, not
another float32 result.
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


def class_ids(n=2, size=64):
    """Class ids (N x H x W): disks of classes 1-5 of several sizes on background 0; class 6 nowhere."""
    ids = torch.zeros(n, size, size, dtype=torch.long)
    for b in range(n):
        for c in range(1, 6):
            if b == 1 and c == 2:
                continue  # class 2 only in the first image
            cy, cx = (7 * c + 11 * b) % (size - 16) + 8, (13 * c + 5 * b) % (size - 16) + 8
            r = 2 + c
            for y in range(size):
                for xx in range(size):
                    if (y - cy) ** 2 + (xx - cx) ** 2 < r * r:
                        ids[b, y, xx] = c
    return ids


def multi_class_loss(logits, ids):
    """segrun's default: cross-entropy + soft Dice summed over the batch, over the foreground classes present
    in the batch's truth (class 6 is absent here, so it is left out)."""
    k = logits.shape[1]
    ce = torch.nn.functional.cross_entropy(logits, ids)
    p = torch.softmax(logits, 1)[:, 1:]
    t = torch.nn.functional.one_hot(ids, k).permute(0, 3, 1, 2).to(p.dtype)[:, 1:]
    inter = (p * t).sum(dim=(0, 2, 3))
    present = t.sum(dim=(0, 2, 3)) > 0
    dice = 1 - ((2 * inter + 1) / (p.sum(dim=(0, 2, 3)) + t.sum(dim=(0, 2, 3)) + 1))[present].mean()
    return ce + dice


def step(nodes, tensors, outputs, dtype):
    """The loss and each parameter's gradient (None for running statistics) of one step in `dtype`."""
    params = [t.clone().to(dtype).requires_grad_(True) for _, t in tensors]
    x, m = batch()
    logits = segrun_model.forward(nodes, params, outputs, x.to(dtype))[0]
    if logits.shape[1] > 1:
        loss = multi_class_loss(logits, class_ids())
    else:
        m = m.to(dtype)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, m)
        p = torch.sigmoid(logits)
        inter = (p * m).sum(dim=(2, 3))
        dice = 1 - ((2 * inter + 1) / (p.sum(dim=(2, 3)) + m.sum(dim=(2, 3)) + 1)).mean()
        loss = 0.8 * bce + 0.2 * dice
    loss.backward()
    return loss, [t.grad for t in params]


def main():
    path, out = sys.argv[1], sys.argv[2]
    nodes, tensors, outputs = segrun_model.load(path)
    loss, grads = step(nodes, tensors, outputs, torch.float64)
    # PyTorch's own float32 step, against float64: how well conditioned each gradient is. A multi-class golden
    # file records these errors, and the test allows segrun's float32 step a small multiple of them (on a
    # first layer whose BatchNorm sees a smooth image, float32 loses about 2e-3 in PyTorch too).
    _, grads32 = step(nodes, tensors, outputs, torch.float32) if "--float32-errors" in sys.argv else (None, None)
    golden = {"loss": loss.item(), "parameters": []}
    for i, ((name, _), g) in enumerate(zip(tensors, grads)):
        if g is None:
            continue
        g = g.flatten()
        idx = [int(i * (g.numel() - 1) / 7) for i in range(8)]
        entry = {"name": name, "norm": g.norm().item(), "indices": idx, "values": [g[i].item() for i in idx]}
        if grads32 is not None:
            g32 = grads32[i].flatten().double()
            typical = g.norm() / g.numel() ** 0.5
            entry["f32_norm_error"] = (abs(g32.norm() - g.norm()) / g.norm()).item()
            entry["f32_entry_error"] = ((g32 - g).abs() / (g.abs() + typical)).max().item()
        golden["parameters"].append(entry)
    json.dump(golden, open(out, "w"), indent=1)
    print("loss %.9f, %d parameter gradients -> %s" % (loss.item(), len(golden["parameters"]), out))


if __name__ == "__main__":
    main()
