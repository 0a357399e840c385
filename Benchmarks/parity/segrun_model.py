"""Reads a segrun model file (docs/FORMAT.md) and runs its graph with PyTorch ops.

For cross-checks only (parity of segrun's training step with PyTorch); segrun never imports it.
"""
import struct

import torch
import torch.nn.functional as F


class Reader:
    def __init__(self, data, offset):
        self.data, self.pos = data, offset

    def take(self, fmt):
        size = struct.calcsize(fmt)
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values if len(values) > 1 else values[0]

    def string(self):
        n = self.take("I")
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s


def read_activation(r):
    kind, slope = r.take("B"), r.take("f")
    return {0: None, 1: ("relu", 0.0), 2: ("leaky", slope)}[kind]


def load(path):
    data = open(path, "rb").read()
    assert data[:8] == b"SEGRUNMF", "not a segrun model"
    h = Reader(data, 8)
    h.take("HHIQ")
    meta_off, meta_size, graph_off, graph_size, dir_off, dir_size = h.take("QQQQQQ")
    count = h.take("I")
    # Tensor directory.
    r = Reader(data, dir_off)
    tensors = []
    for _ in range(count):
        name = r.string()
        dtype, rank = r.take("B"), r.take("B")
        shape = [r.take("I") for _ in range(rank)]
        if r.take("B"):
            r.take("i")
            n = r.take("I")
            r.pos += 8 * n
        offset, size = r.take("QQ")
        assert dtype == 0, "parity uses f32 models"
        values = struct.unpack_from("<%df" % (size // 4), data, offset)
        tensors.append((name, torch.tensor(values, dtype=torch.float64).reshape(shape)))
    # Graph.
    r = Reader(data, graph_off)
    nodes = []
    for _ in range(r.take("I")):
        name = r.string()
        code = r.take("B")
        inputs = [r.take("I") for _ in range(r.take("I"))]
        if code == 1:
            attrs = {"channels": r.take("i")}
        elif code == 2:
            v = [r.take("i") for _ in range(14)]
            attrs = {"out": v[0], "k": (v[1], v[2]), "stride": (v[3], v[4]), "dilation": (v[5], v[6]),
                     "pad": (v[7], v[8], v[9], v[10]), "groups": v[11], "weight": v[12], "bias": v[13], "act": read_activation(r)}
        elif code == 3:
            v = [r.take("i") for _ in range(7)]
            attrs = {"out": v[0], "k": v[1], "stride": v[2], "pad": v[3], "outpad": v[4], "weight": v[5], "bias": v[6], "act": read_activation(r)}
        elif code in (4, 5):
            attrs = {"k": r.take("i"), "stride": r.take("i"), "pad": r.take("i")}
        elif code == 6:
            attrs = {"bins": r.take("i")}
        elif code == 7:
            attrs = {"mode": r.take("B"), "scale": r.take("i")}
        elif code in (8, 10, 13):
            attrs = {}
        elif code == 9:
            attrs = {"act": read_activation(r)}
        elif code == 11:
            attrs = {"gamma": r.take("i"), "beta": r.take("i"), "mean": r.take("i"), "var": r.take("i"), "eps": r.take("f"),
                     "act": read_activation(r)}
        elif code == 12:
            attrs = {"kind": r.take("B"), "slope": r.take("f")}
        else:
            raise ValueError("unknown op code %d" % code)
        nodes.append((name, code, inputs, attrs))
    outputs = [(r.string(), r.take("I")) for _ in range(r.take("I"))]
    return nodes, tensors, outputs


def activate(x, act):
    if act is None:
        return x
    return F.relu(x) if act[0] == "relu" else F.leaky_relu(x, act[1])


def forward(nodes, params, outputs, x, training=True, running_in_place=False):
    """Runs the graph; `params` are tensors (leaves with requires_grad for training). BatchNorm's running
    statistics are updated in `params` when `running_in_place`, else left alone."""
    values = []
    for name, code, inputs, a in nodes:
        xs = [values[i] for i in inputs]
        if code == 1:
            y = x
        elif code == 2:
            t, l, b, rr = a["pad"]
            z = F.pad(xs[0], (l, rr, t, b))
            y = F.conv2d(z, params[a["weight"]], params[a["bias"]] if a["bias"] >= 0 else None,
                         stride=a["stride"], dilation=a["dilation"], groups=a["groups"])
            y = activate(y, a["act"])
        elif code == 3:
            y = F.conv_transpose2d(xs[0], params[a["weight"]], params[a["bias"]] if a["bias"] >= 0 else None,
                                   stride=a["stride"], padding=a["pad"], output_padding=a["outpad"])
            y = activate(y, a["act"])
        elif code == 4:
            y = F.max_pool2d(xs[0], a["k"], a["stride"], a["pad"])
        elif code == 5:
            y = F.avg_pool2d(xs[0], a["k"], a["stride"], a["pad"], count_include_pad=False)
        elif code == 6:
            y = F.adaptive_avg_pool2d(xs[0], a["bins"])
        elif code == 7:
            size = xs[1].shape[2:] if a["scale"] == 0 else (xs[0].shape[2] * a["scale"], xs[0].shape[3] * a["scale"])
            y = F.interpolate(xs[0], size=size, mode="nearest") if a["mode"] == 0 else \
                F.interpolate(xs[0], size=size, mode="bilinear", align_corners=a["mode"] == 2)
        elif code == 8:
            y = torch.cat(xs, dim=1)
        elif code == 9:
            y = activate(xs[0] + xs[1], a["act"])
        elif code == 10:
            y = xs[0] * xs[1]
        elif code == 11:
            mean, var = params[a["mean"]], params[a["var"]]
            if not running_in_place:
                mean, var = mean.detach().clone(), var.detach().clone()
            y = F.batch_norm(xs[0], mean, var, params[a["gamma"]], params[a["beta"]], training=training, momentum=0.1, eps=a["eps"])
            y = activate(y, a["act"])
        elif code == 12:
            y = F.relu(xs[0]) if a["kind"] == 1 else F.leaky_relu(xs[0], a["slope"]) if a["kind"] == 2 else torch.sigmoid(xs[0])
        elif code == 13:
            y = torch.softmax(xs[0], dim=1)
        values.append(y)
    return [values[i] for _, i in outputs]
