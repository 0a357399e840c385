#!/usr/bin/env python3
"""One training step of segrun's unet3d-xs in PyTorch (float64): the loss and the gradients for the golden file
of ParityTests.testUNet3DStepMatchesPyTorch (Tests/TrainTests/ParityTests.swift).

    swift run -c release segrun init --preset unet3d-xs --seed 7 --out /tmp/unet3d-xs-7.segrun
    swift run -c release segrun export /tmp/unet3d-xs-7.segrun --onnx /tmp/unet3d-xs-7.onnx
    python3 Benchmarks/parity/parity_step_3d.py /tmp/unet3d-xs-7.onnx Tests/TrainTests/Golden/unet3d-xs-16-step.json

The weights come from segrun's ONNX export (initializers keep segrun's parameter names); the network is
written here with torch.nn.functional 3D operators by those names: per level two 3x3x3 conv + BatchNorm
(training mode) + ReLU, 2x2x2 max pooling, a 2x2x2 stride-2 transposed convolution up, the skip concatenated
first, a 1x1x1 head. The batch is a fixed formula (2 volumes of 16^3, a sphere each as the target); the loss
is 0.8 BCE-with-logits + 0.2 soft Dice per volume (smoothing 1). The golden file keeps the loss, each
parameter gradient's L2 norm and 8 sampled entries per parameter, as parity_step.py does for 2D.
"""
import json, math, sys

import onnx
from onnx import numpy_helper
import torch
import torch.nn.functional as F


def batch(n=2, size=16):
    x = torch.zeros(n, 1, size, size, size, dtype=torch.float64)
    m = torch.zeros(n, 1, size, size, size, dtype=torch.float64)
    for b in range(n):
        for z in range(size):
            for y in range(size):
                for xx in range(size):
                    x[b, 0, z, y, xx] = 0.5 + 0.4 * math.sin(0.21 * xx + 0.13 * y + 0.17 * z + b) * math.cos(0.11 * y - 0.3 * b + 0.05 * z)
                    dz, dy, dx = z - size / 2 + b, y - size / 2 - 2 * b, xx - size / 2 + b
                    m[b, 0, z, y, xx] = 1.0 if dz * dz + dy * dy + dx * dx < (size / 4) ** 2 else 0.0
    return x, m


def forward(p, x, depth):
    def conv_bn_relu(v, name):
        v = F.conv3d(v, p[name + ".conv.weight"], padding=1)
        v = F.batch_norm(v, p[name + ".bn.running_mean"].detach().clone(), p[name + ".bn.running_var"].detach().clone(),
                         p[name + ".bn.weight"], p[name + ".bn.bias"], training=True, momentum=0.1, eps=1e-5)
        return F.relu(v)

    def block(v, name):
        return conv_bn_relu(conv_bn_relu(v, name + ".0"), name + ".1")

    skips = []
    for level in range(depth):
        x = block(x, "enc%d" % (level + 1))
        skips.append(x)
        x = F.max_pool3d(x, 2)
    x = block(x, "bottleneck")
    for level in reversed(range(depth)):
        name = "dec%d" % (level + 1)
        up = F.conv_transpose3d(x, p[name + ".up.weight"], p[name + ".up.bias"], stride=2)
        x = block(torch.cat([skips[level], up], dim=1), name)
    return F.conv3d(x, p["head.weight"], p["head.bias"])


def main():
    model = onnx.load(sys.argv[1])
    names = [i.name for i in model.graph.initializer]
    p = {i.name: torch.tensor(numpy_helper.to_array(i), dtype=torch.float64).requires_grad_(True) for i in model.graph.initializer}
    depth = sum(1 for n in names if n.startswith("enc") and n.endswith(".0.conv.weight"))
    x, m = batch()
    logits = forward(p, x, depth)
    bce = F.binary_cross_entropy_with_logits(logits, m)
    pr = torch.sigmoid(logits)
    axes = (2, 3, 4)
    dice = 1 - ((2 * (pr * m).sum(axes) + 1) / (pr.sum(axes) + m.sum(axes) + 1)).mean()
    loss = 0.8 * bce + 0.2 * dice
    loss.backward()
    golden = {"loss": loss.item(), "parameters": []}
    for name in names:
        g = p[name].grad
        if g is None:
            continue  # running statistics
        g = g.flatten()
        idx = [int(i * (g.numel() - 1) / 7) for i in range(8)]
        golden["parameters"].append({"name": name, "norm": g.norm().item(), "indices": idx, "values": [g[i].item() for i in idx]})
    json.dump(golden, open(sys.argv[2], "w"), indent=1)
    print("loss %.9f, %d parameter gradients -> %s" % (loss.item(), len(golden["parameters"]), sys.argv[2]))


if __name__ == "__main__":
    main()
