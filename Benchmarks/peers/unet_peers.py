#!/usr/bin/env python3
"""Peer timings for segrun's unet-s: the same architecture in PyTorch (eager, CPU) and in ONNX Runtime.

unet-s = U-Net, base 32, depth 4: widths 32-64-128-256 and a 512 bottleneck, two 3x3 conv (no bias)
+ BatchNorm + ReLU per block, 2x2 max pool down, 2x2 stride-2 transposed conv up (halving channels),
concat [skip, up], 1x1 head to 1 channel. Inference mode (BatchNorm uses running statistics).
`--dims 3 --base 16` is unet3d-s, the same network on volumes (3x3x3, 2x2x2; input N x 1 x S x S x S).

For comparisons only (Benchmarks/peers/compare runs it beside `segrun bench`); segrun never imports it.
Prints one JSON object per (engine, threads, batch) with the median latency over timed runs.
Needs: pip install torch==2.13.0+cpu onnx onnxruntime
"""
import argparse, json, os, statistics, sys, tempfile, time

import torch
import torch.nn as nn


DIMS = 2


def layers():
    """The torch.nn classes of the network's rank (DIMS)."""
    if DIMS == 3:
        return nn.Conv3d, nn.BatchNorm3d, nn.ConvTranspose3d, nn.MaxPool3d
    return nn.Conv2d, nn.BatchNorm2d, nn.ConvTranspose2d, nn.MaxPool2d


def block(cin, cout):
    Conv, Norm, _, _ = layers()
    return nn.Sequential(Conv(cin, cout, 3, padding=1, bias=False), Norm(cout), nn.ReLU(inplace=True),
                         Conv(cout, cout, 3, padding=1, bias=False), Norm(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, in_channels=1, classes=1, base=32, depth=4):
        super().__init__()
        Conv, _, ConvTranspose, MaxPool = layers()
        widths = [base << i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths[:-1]:
            self.down.append(block(cin, w))
            cin = w
        self.bottleneck = block(widths[-2], widths[-1])
        self.up = nn.ModuleList([ConvTranspose(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth))])
        self.dec = nn.ModuleList([block(2 * widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = Conv(widths[0], classes, 1)
        self.pool = MaxPool(2)

    def forward(self, x):
        skips = []
        for d in self.down:
            x = d(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([skip, up(x)], dim=1))
        return self.head(x)


def median_time(fn, seconds, min_runs=5):
    fn()
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or (time.perf_counter() - start < seconds and len(times) < 200):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def ort_session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--batch", default="1,4")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--engines", default="onnxruntime,pytorch",
                   help="comma-separated: onnxruntime, pytorch, onnxruntime-int8 (static QDQ, u8 activations, s8 per-channel weights)")
    p.add_argument("--calibration", type=int, default=16, help="calibration batches for onnxruntime-int8")
    p.add_argument("--dims", type=int, default=2, help="2: images (unet-s); 3: volumes (with --base 16: unet3d-s)")
    p.add_argument("--base", type=int, default=32)
    a = p.parse_args()
    global DIMS
    DIMS = a.dims
    spatial = (a.size,) * a.dims
    torch.manual_seed(0)
    model = UNet(base=a.base).eval()
    for m in model.modules():  # non-trivial BatchNorm statistics, as after training
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    engines = a.engines.split(",")
    onnx_path = os.path.join(tempfile.mkdtemp(), "unet-s.onnx")
    if "onnxruntime" in engines or "onnxruntime-int8" in engines:
        import onnxruntime as ort
        torch.onnx.export(model, torch.randn(1, 1, *spatial), onnx_path, input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)
    int8_path = None
    if "onnxruntime-int8" in engines:
        # Static QDQ quantization, as ONNX Runtime documents for CNNs: fold BatchNorm (pre-processing), then
        # calibrate with MinMax on random inputs, uint8 activations, int8 per-channel weights.
        from onnxruntime.quantization import quantize_static, QuantType, QuantFormat, CalibrationDataReader
        from onnxruntime.quantization.shape_inference import quant_pre_process
        pre = onnx_path.replace(".onnx", "-pre.onnx")
        quant_pre_process(onnx_path, pre)

        class Reader(CalibrationDataReader):
            def __init__(self):
                g = torch.Generator().manual_seed(1)
                self.items = iter([{"image": torch.rand(1, 1, *spatial, generator=g).numpy()} for _ in range(a.calibration)])

            def get_next(self):
                return next(self.items, None)

        int8_path = onnx_path.replace(".onnx", "-int8.onnx")
        quantize_static(pre, int8_path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    for threads in [int(t) for t in a.threads.split(",")]:
        for batch in [int(b) for b in a.batch.split(",")]:
            x = torch.rand(batch, 1, *spatial)
            if "onnxruntime" in engines:
                sess = ort_session(onnx_path, threads)
                feed = {"image": x.numpy()}
                t, n = median_time(lambda: sess.run(None, feed), a.seconds)
                print(json.dumps({"engine": f"onnxruntime {ort.__version__}", "threads": threads, "batch": batch,
                                  "size": a.size, "dims": a.dims, "median_s": t, "runs": n}), flush=True)
            if int8_path:
                sess = ort_session(int8_path, threads)
                feed = {"image": x.numpy()}
                t, n = median_time(lambda: sess.run(None, feed), a.seconds)
                print(json.dumps({"engine": f"onnxruntime-int8 {ort.__version__}", "threads": threads, "batch": batch,
                                  "size": a.size, "dims": a.dims, "median_s": t, "runs": n}), flush=True)
            if "pytorch" in engines:
                torch.set_num_threads(threads)
                with torch.inference_mode():
                    t, n = median_time(lambda: model(x), a.seconds)
                print(json.dumps({"engine": f"pytorch {torch.__version__}", "threads": threads, "batch": batch,
                                  "size": a.size, "dims": a.dims, "median_s": t, "runs": n}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
