"""Golden outputs of a tiny 3D network in PyTorch (float64), for segrun's Float64 reference executor.

    python3 Benchmarks/parity/volume_reference.py > Tests/EngineTests/Golden/tiny-volume-net.json

The network covers every operator with spatial geometry on volumes, with odd sizes and anisotropic
windows: Conv3d 1x3x3, max pooling 2x2x2, Conv3d 3x3x3, ConvTranspose3d 2x2x2 stride 2, trilinear
resize to a reference size, concat, constant pad with different begins and ends per axis, average
pooling 1x2x2, GroupNorm, a squeeze-and-excitation gate (global average pooling, 1x1x1 conv, sigmoid,
channel multiply), a 1x1x1 head, channel softmax and a trilinear resize by factors (1.5, 2, 0.5) with
align_corners. Every parameter and the input are values of closed formulas, rounded to float32 as
segrun stores them, so the Swift test (EngineTests/VolumeGraphTests.swift) rebuilds them without a
weight file. Mirror any change there.
"""
import json
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def f32(values):
    return torch.tensor(values, dtype=torch.float32).to(torch.float64)


def parameter(index, shape):
    count = math.prod(shape)
    return f32([0.5 * math.sin(1.7 * i + 0.61 * index + 0.3) for i in range(count)]).reshape(shape)


# Parameters in the order segrun's GraphBuilder creates them.
shapes = [("c1.weight", [3, 2, 1, 3, 3]), ("c1.bias", [3]),
          ("c2.weight", [4, 3, 3, 3, 3]), ("c2.bias", [4]),
          ("u1.weight", [4, 3, 2, 2, 2]), ("u1.bias", [3]),
          ("gn.weight", [6]), ("gn.bias", [6]),
          ("se.weight", [6, 6, 1, 1, 1]), ("se.bias", [6]),
          ("head.weight", [3, 6, 1, 1, 1]), ("head.bias", [3])]
p = {name: parameter(i, shape) for i, (name, shape) in enumerate(shapes)}

batch, channels, depth, height, width = 2, 2, 5, 6, 7
count = batch * channels * depth * height * width
x = f32([0.8 * math.sin(0.37 * i) + 0.1 for i in range(count)]).reshape(batch, channels, depth, height, width)

c1 = F.relu(F.conv3d(x, p["c1.weight"], p["c1.bias"], padding=(0, 1, 1)))
p1 = F.max_pool3d(c1, 2, 2)
c2 = F.conv3d(p1, p["c2.weight"], p["c2.bias"], padding=1)
u1 = F.conv_transpose3d(c2, p["u1.weight"], p["u1.bias"], stride=2)
u2 = F.interpolate(u1, size=c1.shape[2:], mode="trilinear", align_corners=False)
cat = torch.cat([c1, u2], dim=1)
# segrun's pads are [d, h, w] begins then ends: [1, 0, 2, 0, 1, 0]; F.pad lists the last axis first.
padded = F.pad(cat, (2, 0, 0, 1, 1, 0), value=0.5)
pooled = F.avg_pool3d(padded, (1, 2, 2), (1, 2, 2))
gn = F.group_norm(pooled, 2, p["gn.weight"], p["gn.bias"], eps=1e-5)
gate = torch.sigmoid(F.conv3d(F.adaptive_avg_pool3d(gn, 1), p["se.weight"], p["se.bias"]))
head = F.conv3d(gn * gate, p["head.weight"], p["head.bias"])
probabilities = F.interpolate(torch.softmax(head, dim=1), scale_factor=(1.5, 2.0, 0.5), mode="trilinear",
                              align_corners=True, recompute_scale_factor=True)

json.dump({"tool": f"torch {torch.__version__}, float64",
           "features": {"shape": list(gn.shape), "values": gn.flatten().tolist()},
           "probabilities": {"shape": list(probabilities.shape), "values": probabilities.flatten().tolist()}},
          __import__("sys").stdout)
