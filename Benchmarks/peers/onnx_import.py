#!/usr/bin/env python3
"""`segrun import` against ONNX Runtime on the models of issue 20: exported from PyTorch (random weights, and
after a few epochs of training on ../shared/data/brain-mask), imported, run by both on real MRI slices, then
timed by both on the same file (1 and 2 threads, same run, interleaved).

    pip install torch==2.13.0+cpu onnx onnxruntime monai pillow
    # segmentation_models_pytorch (optional; its models are skipped when it does not import):
    pip download torchvision==0.28.0 --no-deps -d /tmp/wheels   # the release that matches torch 2.13
    pip install --no-deps /tmp/wheels/torchvision-0.28.0-*.whl timm segmentation-models-pytorch
    pip install huggingface_hub safetensors tqdm pyyaml
    swift build -c release --product segrun
    python3 Benchmarks/peers/onnx_import.py [--epochs 2] [--size 256] [--seconds 2] [--rounds 3] [--skip-speed] [--only NAME]

Prints two Markdown tables: agreement (max |segrun - ORT| over max |ORT|, per model, over the images) and speed.
PyPI's torchvision is built against the CUDA build of torch; `torchvision_schemas.py` (next to this script)
declares the detection operators its compiled part would have registered, so that its pure-Python ResNet, which
smp's encoders use, imports beside the CPU build. smp's PSPNet exports only at a static size whose feature map
divides by its pooling bins 1, 2, 3 and 6 (288x288: 36x36 at 1/8), so it runs at 288.
"""
import argparse, glob, os, statistics, struct, subprocess, sys, tempfile, time, warnings
import numpy as np, onnxruntime as ort, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image

warnings.filterwarnings("ignore")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEGRUN = os.path.join(ROOT, ".build/release/segrun")
DATA = os.path.join(ROOT, "../shared/data/brain-mask")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchvision_schemas  # noqa: E402,F401  (before anything imports torchvision: MONAI may, smp does)
from onnx_fixtures import PlainUNet  # noqa: E402  (the fixtures' plain U-Net, at real widths below)


def write_sgtn(path, a):
    a = np.ascontiguousarray(a, dtype="<f4")
    with open(path, "wb") as f:
        f.write(b"SGTN" + struct.pack("<I", a.ndim) + struct.pack("<%dI" % a.ndim, *a.shape) + a.tobytes())


def read_sgtn(path):
    b = open(path, "rb").read()
    rank = struct.unpack("<I", b[4:8])[0]
    dims = struct.unpack("<%dI" % rank, b[8:8 + 4 * rank])
    return np.frombuffer(b[8 + 4 * rank:], dtype="<f4").reshape(dims)


def patch_monai_shortcut():
    """MONAI's ResNet type-A shortcut concatenates `out.data`, which the TorchScript exporter cannot trace
    (it bakes the example input's shortcut into a constant, so the ONNX file is wrong for other inputs);
    the same computation without `.data` exports as AveragePool + Concat with zeros."""
    import monai.networks.nets.resnet as r
    def block(self, x, planes, stride, spatial_dims=3):
        out = r.get_pool_layer(("avg", {"kernel_size": 1, "stride": stride}), spatial_dims=spatial_dims)(x)
        zeros = torch.zeros(out.size(0), planes - out.size(1), *out.shape[2:], dtype=out.dtype, device=out.device)
        return torch.cat([out, zeros], dim=1)
    r.ResNet._downsample_basic_block = block


def smp_models():
    """segmentation_models_pytorch's four decoders over ResNet-34, when it imports; (name, make, rank, size)."""
    try:
        import torchvision_schemas  # noqa: F401
        import segmentation_models_pytorch as smp
    except Exception as e:  # noqa: BLE001
        print(f"segmentation_models_pytorch skipped: {e}", file=sys.stderr)
        return []
    def make(kind):
        return lambda: getattr(smp, kind)("resnet34", encoder_weights=None, in_channels=1, classes=2)
    return [("smp Unet resnet34", make("Unet"), 2, None), ("smp UnetPlusPlus resnet34", make("UnetPlusPlus"), 2, None),
            ("smp FPN resnet34", make("FPN"), 2, None), ("smp PSPNet resnet34 (static 288)", make("PSPNet"), 2, 288)]


def models():
    """(name, make, rank, static size or None) of every model checked."""
    from monai.networks.nets import AttentionUnet, BasicUNet, FlexibleUNet, SegResNet, UNet
    patch_monai_shortcut()
    return [(n, m, r, None) for n, m, r in [
        ("monai FlexibleUNet resnet34", lambda: FlexibleUNet(1, 2, "resnet34", pretrained=False), 2),
        ("monai UNet (residual units)", lambda: UNet(2, 1, 2, (16, 32, 64, 128, 256), (2, 2, 2, 2), num_res_units=2), 2),
        ("monai BasicUNet", lambda: BasicUNet(2, 1, 2), 2),
        ("monai AttentionUnet", lambda: AttentionUnet(2, 1, 2, (16, 32, 64, 128), (2, 2, 2)), 2),
        ("plain U-Net bilinear", lambda: PlainUNet("bilinear", False, width=32), 2),
        ("plain U-Net bilinear align_corners", lambda: PlainUNet("bilinear", True, width=32), 2),
        ("plain U-Net transposed conv", lambda: PlainUNet("tconv", width=32), 2),
        ("monai 3D UNet", lambda: UNet(3, 1, 2, (16, 32, 64, 128), (2, 2, 2), num_res_units=2), 3),
        ("monai 3D SegResNet", lambda: SegResNet(3, 8, 1, 2), 3),
    ]] + smp_models()


def load_images(size, count=4):
    paths = sorted(glob.glob(os.path.join(DATA, "images", "*.png")))
    picks = paths[len(paths) // 2 - count // 2:][:count]
    out = []
    for p in picks:
        im = Image.open(p).convert("L").resize((size, size), Image.BILINEAR)
        out.append((os.path.basename(p), np.asarray(im, dtype=np.float32)[None, None] / 255.0))
    return out


def load_training(size):
    xs, ys = [], []
    for p in sorted(glob.glob(os.path.join(DATA, "images", "*.png"))):
        m = os.path.join(DATA, "masks", os.path.basename(p))
        if not os.path.exists(m):
            continue
        xs.append(np.asarray(Image.open(p).convert("L").resize((size, size), Image.BILINEAR), dtype=np.float32)[None] / 255.0)
        ys.append((np.asarray(Image.open(m).convert("L").resize((size, size), Image.NEAREST)) > 0).astype(np.int64))
    return torch.tensor(np.stack(xs)), torch.tensor(np.stack(ys))


def train(net, epochs, data):
    if epochs == 0:
        return net
    x, y = data
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    net.train()
    for _ in range(epochs):
        for i in torch.randperm(len(x)).split(8):
            opt.zero_grad()
            F.cross_entropy(net(x[i]), y[i]).backward()
            opt.step()
    return net.eval()


def export(net, path, rank, size, static=False):
    shape = (1, 1) + (size,) * rank
    axes = None if static else {"image": {i: "s%d" % i for i in range(2, 2 + rank)}}
    torch.onnx.export(net.eval(), torch.randn(*shape), path, dynamo=False, opset_version=17, input_names=["image"], dynamic_axes=axes)


def agreement(path, rank, images, volume, tmp, measured=True):
    seg = path.replace(".onnx", ".segrun")
    size = "x".join(str(s) for s in (volume.shape[2:] if rank == 3 else images[0][1].shape[2:]))
    subprocess.run([SEGRUN, "import", path, "--out", seg, "--size", size], check=True, capture_output=True)
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    inputs = [volume] if rank == 3 else [x for _, x in images]
    for x in inputs:
        write_sgtn(os.path.join(tmp, "x.sgtn"), x)
        subprocess.run([SEGRUN, "forward", seg, "--from", os.path.join(tmp, "x.sgtn"), "--input", os.path.join(tmp, "x2.sgtn"),
                        "--output", os.path.join(tmp, "y.sgtn")] + (["--measured"] if measured else []), check=True, capture_output=True)
        y = read_sgtn(os.path.join(tmp, "y.sgtn"))
        r = s.run(None, {s.get_inputs()[0].name: x})[0]
        worst = max(worst, float(np.abs(y - r).max() / np.abs(r).max()))
    return worst, seg


def median_time(fn, seconds):
    fn(); fn()
    times, start = [], time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < seconds and len(times) < 200):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return statistics.median(times)


def speed(path, seg, rank, size, threads, seconds, rounds):
    """Median seconds of ONNX Runtime and of segrun on the same file, each the median over `rounds`
    interleaved rounds (this project's VMs have bursts of noise that one round can land in)."""
    x = np.random.default_rng(0).uniform(0, 1, (1, 1) + (size,) * rank).astype(np.float32)
    ort_times, segrun_times = [], []
    for _ in range(rounds):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        name = s.get_inputs()[0].name
        ort_times.append(median_time(lambda: s.run(None, {name: x}), seconds))
        del s  # ONNX Runtime's worker threads must not spin beside segrun's run
        if rank == 3:
            continue
        out = subprocess.run([SEGRUN, "bench", seg, "--size", str(size), "--threads", str(threads), "--seconds", str(seconds), "--json"],
                             check=True, capture_output=True, text=True).stdout
        import json
        segrun_times.append(json.loads([l for l in out.splitlines() if l.startswith("{")][0])["median_s"])
    return (statistics.median(segrun_times) if segrun_times else None), statistics.median(ort_times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=2, help="PyTorch training epochs on brain-mask before the trained export")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--volume", type=int, default=64, help="edge of the 3D test volume (a stack of the real slices)")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds per model and thread count")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--only", action="append", help="check only the models whose name contains this (repeatable)")
    a = p.parse_args()
    torch.manual_seed(0)
    images = load_images(a.size)
    stack = np.concatenate([np.asarray(Image.fromarray((x[0, 0] * 255).astype(np.uint8)).resize((a.volume, a.volume)), dtype=np.float32)[None] / 255
                            for _, x in load_images(a.volume, a.volume)], 0)[None, None]
    training = load_training(128) if a.epochs > 0 else None
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    rows, speeds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, make, rank, static_size in models():
            if a.only and not any(o in name for o in a.only):
                continue
            torch.manual_seed(0)
            net = make().eval()
            path = os.path.join(tmp, "random.onnx")
            size = static_size or a.size
            shown = images if static_size is None else load_images(static_size)
            export(net, path, rank, size if rank == 2 else a.volume, static=static_size is not None)
            random_err, seg = agreement(path, rank, shown, stack, tmp)
            random_exact, _ = agreement(path, rank, shown, stack, tmp, measured=False)
            trained_err = trained_exact = None
            if rank == 2 and training is not None:
                tpath = os.path.join(tmp, "trained.onnx")
                export(train(net, a.epochs, training), tpath, rank, size, static=static_size is not None)
                trained_err, _ = agreement(tpath, rank, shown, stack, tmp)
                trained_exact, _ = agreement(tpath, rank, shown, stack, tmp, measured=False)
            rows.append((name, random_exact, random_err, trained_exact, trained_err))
            print(f"{name}: random {random_exact:.1e} / {random_err:.1e}" + (f", trained {trained_exact:.1e} / {trained_err:.1e}" if trained_err is not None else ""), file=sys.stderr)
            if not a.skip_speed and rank == 2:
                times = {t: speed(path, seg, rank, size, t, a.seconds, a.rounds) for t in (1, 2)}
                speeds.append((name, times))
    print(f"Agreement with ONNX Runtime on {len(images)} brain-mask slices at {a.size}x{a.size} (3D: a {a.volume}^3 stack of slices), "
          f"max |segrun - ORT| / max |ORT|, on {cpu}\n")
    print("Columns: the implicit GEMM everywhere (`segrun forward`), and the algorithms segrun picks by measuring "
          "(`--measured`: Winograd F(4x4,3x3) and F(6x6,3x3) where faster, what predict runs)\n")
    print("| model | random, GEMM | random, measured | trained %d epochs, GEMM | trained, measured |" % a.epochs)
    print("|---|---|---|---|---|")
    def f(v):
        return "%.1e" % v if v is not None else "-"
    for name, re_, rm, te, tm in rows:
        print(f"| {name} | {f(re_)} | {f(rm)} | {f(te)} | {f(tm)} |")
    if speeds:
        print(f"\nSpeed of the imported model against ONNX Runtime on the same file, {a.size}x{a.size} (where not said), batch 1, "
              f"median ms of {a.rounds} interleaved rounds, on {cpu}\n")
        print("| model | segrun 1t | ORT 1t | speed-up | segrun 2t | ORT 2t | speed-up |")
        print("|---|---|---|---|---|---|---|")
        for name, t in speeds:
            (s1, o1), (s2, o2) = t[1], t[2]
            print(f"| {name} | {s1*1e3:.1f} | {o1*1e3:.1f} | {o1/s1:.2f}x | {s2*1e3:.1f} | {o2*1e3:.1f} | {o2/s2:.2f}x |")


if __name__ == "__main__":
    main()
