#!/usr/bin/env python3
"""Writes the small ONNX files and ONNX Runtime outputs that Tests/ONNXTests check `segrun import` against,
so that `swift test` needs no Python. Run once when the fixtures change:

    pip install torch==2.13.0+cpu onnx onnxruntime onnxscript monai   # CPU wheels
    python3 Benchmarks/peers/onnx_fixtures.py Tests/ONNXTests/Fixtures

Each model NAME gets NAME.onnx, NAME.input.sgtn (a seeded random input) and NAME.output.sgtn (ONNX Runtime's
output on it). The networks are the real architectures at tiny widths (random weights), exported the way
their users export them; hand-built graphs cover float16 initializers, external data and bad files.
"""
import os, struct, sys, warnings
import numpy as np
import onnx, onnxruntime as ort, torch, torch.nn as nn, torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

warnings.filterwarnings("ignore")
out_dir = "Tests/ONNXTests/Fixtures"


def write_sgtn(path, a):
    a = np.ascontiguousarray(a, dtype="<f4")
    with open(path, "wb") as f:
        f.write(b"SGTN" + struct.pack("<I", a.ndim) + struct.pack("<%dI" % a.ndim, *a.shape) + a.tobytes())


def finish(name, shape, seed):
    path = os.path.join(out_dir, name + ".onnx")
    x = np.random.default_rng(seed).uniform(0, 1, size=shape).astype(np.float32)
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    y = s.run(None, {s.get_inputs()[0].name: x})[0]
    write_sgtn(os.path.join(out_dir, name + ".input.sgtn"), x)
    write_sgtn(os.path.join(out_dir, name + ".output.sgtn"), y)
    print(f"{name}: {os.path.getsize(path)} bytes, output {y.shape}")


def export(name, net, shape, opset=17, dynamo=False, seed=0):
    net.eval()
    torch.manual_seed(seed)
    path = os.path.join(out_dir, name + ".onnx")
    spatial = {i: "s%d" % i for i in range(2, len(shape))}
    if dynamo:
        torch.onnx.export(net, (torch.randn(*shape),), path, dynamo=True, opset_version=opset, input_names=["image"])
    else:
        torch.onnx.export(net, torch.randn(*shape), path, dynamo=False, opset_version=opset,
                          input_names=["image"], output_names=["logits"], dynamic_axes={"image": spatial})
    finish(name, shape, seed)


class Block(nn.Sequential):
    def __init__(self, i, o):
        super().__init__(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.Conv2d(o, o, 3, padding=1), nn.ReLU())


class PlainUNet(nn.Module):
    """A two-level U-Net as tutorials write it: bilinear (either corner mode) or transposed-conv up path."""
    def __init__(self, up="bilinear", align_corners=False, width=4):
        super().__init__()
        w = width
        self.up, self.ac = up, align_corners
        self.e1, self.e2, self.b = Block(1, w), Block(w, 2 * w), Block(2 * w, 2 * w)
        self.t2, self.t1 = nn.ConvTranspose2d(2 * w, 2 * w, 2, 2), nn.ConvTranspose2d(2 * w, w, 2, 2)
        self.r1 = nn.Conv2d(2 * w, w, 1)
        self.d2, self.d1, self.head = Block(4 * w, 2 * w), Block(2 * w, w), nn.Conv2d(w, 2, 1)

    def upsample(self, x, t, r=None):
        if self.up == "tconv":
            return t(x)
        y = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=self.ac)
        return r(y) if r is not None else y

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(F.max_pool2d(a, 2))
        c = self.b(F.max_pool2d(b, 2))
        d = self.d2(torch.cat([self.upsample(c, self.t2), b], 1))
        return self.head(self.d1(torch.cat([self.upsample(d, self.t1, self.r1), a], 1)))


class TinyResNetUNet(nn.Module):
    """What the ResNet encoders of smp and MONAI's FlexibleUNet bring: a 7x7 stride-2 stem, a 3x3/2 max pool
    with padding, basic blocks with a stride-2 3x3 conv and MONAI's type-A shortcut (1x1/2 average pool,
    channels padded with zeros), nearest upsampling, a clamp and a leaky ReLU."""
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 7, 2, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU())
        self.c1 = nn.Sequential(nn.Conv2d(4, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8))
        self.dec = nn.Sequential(nn.Conv2d(12, 6, 3, padding=1), nn.LeakyReLU(0.1))
        self.head = nn.Conv2d(6, 3, 1)

    def forward(self, x):
        s = self.stem(x)
        p = F.max_pool2d(s, 3, 2, 1)
        shortcut = F.avg_pool2d(p, 1, 2)
        shortcut = torch.cat([shortcut, torch.zeros(shortcut.size(0), 4, *shortcut.shape[2:])], 1)
        y = F.relu(self.c1(p) + shortcut)
        y = F.interpolate(y, scale_factor=2, mode="nearest")
        y = self.dec(torch.cat([p, torch.clamp(y, 0, 6)], 1))
        return self.head(F.interpolate(y, scale_factor=4, mode="nearest"))


class TinyFPNPSP(nn.Module):
    """What segmentation_models_pytorch's FPN and PSPNet decoders export that its U-Nets do not: FPN's merge
    `torch.stack(xs).sum(0)` (Unsqueeze, Concat on axis 0, ReduceSum), GroupNorm, bilinear `align_corners`
    upsampling by 2, and PSPNet's pyramid pooling to 1, 2, 3 and 6 bins (exported at a static size as
    GlobalAveragePool and AveragePool with kernel = stride), each branch resized back and concatenated."""
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU())
        self.seg = nn.ModuleList([nn.Sequential(nn.Conv2d(8, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.ReLU()) for _ in range(3)])
        self.psp = nn.ModuleList([nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(8, 2, 1)) for b in (1, 2, 3, 6)])
        self.head = nn.Conv2d(4 + 8 + 8, 2, 1)

    def forward(self, x):
        s = self.stem(x)
        merged = torch.stack([blk(s) for blk in self.seg]).sum(dim=0)
        h, w = s.shape[2:]
        pyramid = torch.cat([s] + [F.interpolate(p(s), size=(h, w), mode="bilinear", align_corners=True) for p in self.psp], 1)
        y = self.head(torch.cat([merged, pyramid], 1))
        return F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=True)


def export_static(name, net, shape, opset=17, seed=0):
    """Without dynamic axes: PSPNet's adaptive pooling exports only at a fixed size."""
    net.eval()
    torch.manual_seed(seed)
    torch.onnx.export(net, torch.randn(*shape), os.path.join(out_dir, name + ".onnx"), dynamo=False, opset_version=opset,
                      input_names=["image"], output_names=["logits"])
    finish(name, shape, seed)


def stack_bad():
    """A stack summed over the wrong axis: `torch.stack([x, x]).sum(1)` sums channels, which segrun refuses."""
    class WrongAxis(nn.Module):
        def forward(self, x):
            return torch.stack([x, x * 2]).sum(dim=1)
    torch.onnx.export(WrongAxis(), torch.randn(1, 2, 8, 8), os.path.join(out_dir, "bad_stack_axis.onnx"), dynamo=False,
                      opset_version=17, input_names=["image"])
    print(f"bad_stack_axis: {os.path.getsize(os.path.join(out_dir, 'bad_stack_axis.onnx'))} bytes")


def monai_models():
    from monai.networks.nets import AttentionUnet, BasicUNet, SegResNet, UNet
    torch.manual_seed(0)
    export("monai_unet", UNet(2, 1, 2, (4, 8, 8), (2, 2), num_res_units=2), (1, 1, 16, 16))
    export("monai_basicunet", BasicUNet(2, 1, 2, features=(4, 4, 4, 8, 8, 4)), (1, 1, 32, 32))
    export("monai_attentionunet", AttentionUnet(2, 1, 2, (4, 8, 8), (2, 2)), (1, 1, 16, 16))
    export("monai_unet3d", UNet(3, 1, 2, (4, 8), (2,), num_res_units=1), (1, 1, 8, 8, 8))
    export("monai_segresnet3d", SegResNet(3, 4, 1, 2, blocks_down=(1, 1), blocks_up=(1,), norm=("group", {"num_groups": 2})), (1, 1, 8, 8, 8))


def handmade():
    rng = np.random.default_rng(7)
    w = rng.normal(size=(3, 1, 3, 3)).astype(np.float16)
    b = rng.normal(size=(3,)).astype(np.float32)
    nodes = [helper.make_node("Cast", ["w16"], ["w"], to=TensorProto.FLOAT),
             helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    def graph(initializers, extra_nodes=()):
        return helper.make_graph(list(extra_nodes) + nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "h", "w"])],
                                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, "h", "w"])], initializers)
    def model(g):
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    # float16 initializer in the typed int32_data field (as older exporters store it), unpacked float bias.
    w16 = helper.make_tensor("w16", TensorProto.FLOAT16, w.shape, w.flatten().astype(np.float32).tolist())
    assert len(w16.int32_data) == w.size and not w16.raw_data
    bias = helper.make_tensor("b", TensorProto.FLOAT, b.shape, b.tolist())
    onnx.save(model(graph([w16, bias])), os.path.join(out_dir, "float16_typed.onnx"))
    finish("float16_typed", (1, 1, 12, 10), 3)
    # The same weights as raw_data in an external file beside the model.
    m = model(graph([numpy_helper.from_array(w, "w16"), numpy_helper.from_array(b, "b")]))
    onnx.save_model(m, os.path.join(out_dir, "external_data.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="external_data.bin", size_threshold=0)
    finish("external_data", (1, 1, 12, 10), 3)
    # Bad files: each must give a one-line error.
    bad = {}
    bad["bad_unsupported_op"] = model(helper.make_graph([helper.make_node("Tanh", ["x"], ["y"], name="the_tanh")], "g",
                                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])]))
    cyc = [helper.make_node("Relu", ["z"], ["y"], name="first"), helper.make_node("Relu", ["y"], ["z"], name="second")]
    bad["bad_cycle"] = model(helper.make_graph(cyc, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])]))
    short = numpy_helper.from_array(b, "b")
    short.raw_data = short.raw_data[:8]
    bad["bad_data_length"] = model(graph([numpy_helper.from_array(w, "w16"), short]))
    outside = model(graph([numpy_helper.from_array(w, "w16"), numpy_helper.from_array(b, "b")]))
    for t in outside.graph.initializer:
        t.data_location = TensorProto.EXTERNAL
        del t.external_data[:]
        t.external_data.add(key="location", value="../outside.bin")
        t.ClearField("raw_data")
    bad["bad_external_outside"] = outside
    dyn = model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "h", "w"])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "h", "w"])]))
    bad["dynamic_needs_size"] = dyn
    for name, m in bad.items():
        onnx.save(m, os.path.join(out_dir, name + ".onnx"))
        print(f"{name}: {os.path.getsize(os.path.join(out_dir, name + '.onnx'))} bytes")


if __name__ == "__main__":
    out_dir = sys.argv[1] if len(sys.argv) > 1 else out_dir
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    if "--only-smp-patterns" in sys.argv:  # the fixtures added after the others, written alone
        export_static("smp_fpn_psp", TinyFPNPSP(), (1, 1, 24, 24))
        stack_bad()
        sys.exit(0)
    export("plain_bilinear", PlainUNet(), (1, 1, 16, 16))
    export("plain_align_corners", PlainUNet("bilinear", True), (1, 1, 16, 16), opset=11)
    export("plain_tconv", PlainUNet("tconv"), (1, 1, 16, 16), opset=13)
    export("plain_dynamo", PlainUNet(), (1, 1, 16, 16), opset=18, dynamo=True)
    export("resnet_unet", TinyResNetUNet(), (1, 3, 32, 32), opset=17)
    export_static("smp_fpn_psp", TinyFPNPSP(), (1, 1, 24, 24))
    stack_bad()
    monai_models()
    handmade()
