#!/usr/bin/env python3
"""int8 of an imported model against ONNX Runtime's int8 (issue 20): the U-Net over a ResNet-34 encoder (MONAI's
FlexibleUNet, `pretrained=False`: what segmentation_models_pytorch's Unet("resnet34") builds) is trained a few
epochs in PyTorch on ../shared/data/brain-mask at 128x128, exported as ONNX, then

  - segrun: `segrun import`, `segrun quantize` (calibrated on 32 training slices), `segrun eval` of both on the
    held-out slices (the 20% highest and lowest z, as examples/pytorch/train_unet.py holds out);
  - ONNX Runtime: `quantize_static` (QDQ, per-channel int8 weights, uint8 activations, MinMax calibration on the
    same 32 slices), its pooled Dice on the same held-out slices (resized to 128 and back, as segrun eval does);
  - speed: `segrun bench` of segrun's int8 and fp32 models and ONNX Runtime's QDQ and fp32 sessions on the same
    input size, 1 and 2 threads, interleaved, medians.

    pip install torch==2.13.0+cpu onnx onnxruntime monai pillow
    swift build -c release --product segrun
    python3 Benchmarks/peers/onnx_int8.py [--epochs 6] [--size 256] [--seconds 2] [--rounds 3] [--keep DIR]

Prints two Markdown tables (Dice, speed).
"""
import argparse, glob, json, os, shutil, statistics, subprocess, sys, tempfile, warnings
import numpy as np, onnx, onnxruntime as ort, torch, torch.nn.functional as F
from PIL import Image

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_import import DATA, SEGRUN, median_time, patch_monai_shortcut  # noqa: E402

MEAN, STD, TRAIN_SIZE = 0.2, 0.3, 128


def load(size):
    """Every slice as (name, normalized image at size x size, mask at its own size, mask at size x size)."""
    out = []
    for p in sorted(glob.glob(os.path.join(DATA, "images", "*.png"))):
        image = Image.open(p).convert("L")
        mask = np.asarray(Image.open(os.path.join(DATA, "masks", os.path.basename(p))).convert("L")) > 127
        x = (np.asarray(image.resize((size, size), Image.BILINEAR), dtype=np.float32) / 255 - MEAN) / STD
        small = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((size, size), Image.NEAREST)) > 127
        out.append((os.path.basename(p), x[None, None], mask, small))
    return out


def train(net, epochs, pairs):
    x = torch.tensor(np.concatenate([p[1] for p in pairs]))
    y = torch.tensor(np.stack([p[3] for p in pairs]).astype(np.float32))[:, None]
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for epoch in range(epochs):
        net.train()
        for i in torch.randperm(len(x)).split(8):
            opt.zero_grad()
            logits = net(x[i])
            prob = torch.sigmoid(logits)
            loss = F.binary_cross_entropy_with_logits(logits, y[i]) + 1 - (2 * (prob * y[i]).sum() + 1) / (prob.sum() + y[i].sum() + 1)
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}", file=sys.stderr)
    return net.eval()


def ort_dice(session, pairs):
    """Pooled Dice of an ONNX Runtime session: each slice at 128x128, the probability resized back, > 0.5."""
    name = session.get_inputs()[0].name
    inter = total = 0
    for _, x, mask, _ in pairs:
        logits = session.run(None, {name: x})[0][0, 0]
        prob = 1 / (1 + np.exp(-logits))
        back = np.asarray(Image.fromarray(prob.astype(np.float32)).resize(mask.shape[::-1], Image.BILINEAR)) > 0.5
        inter += int((back & mask).sum())
        total += int(back.sum() + mask.sum())
    return 2 * inter / total


def forward_dice(model, pairs, tmp):
    """Pooled Dice of a segrun model computed as `ort_dice` does (`segrun forward` on the same 128x128 inputs)."""
    from onnx_import import read_sgtn, write_sgtn
    inter = total = 0
    for _, x, mask, _ in pairs:
        write_sgtn(os.path.join(tmp, "x.sgtn"), x)
        subprocess.run([SEGRUN, "forward", model, "--from", os.path.join(tmp, "x.sgtn"), "--measured", "--input", os.path.join(tmp, "x2.sgtn"),
                        "--output", os.path.join(tmp, "y.sgtn")], check=True, capture_output=True)
        logits = read_sgtn(os.path.join(tmp, "y.sgtn"))[0, 0]
        prob = 1 / (1 + np.exp(-logits))
        back = np.asarray(Image.fromarray(prob.astype(np.float32)).resize(mask.shape[::-1], Image.BILINEAR)) > 0.5
        inter += int((back & mask).sum())
        total += int(back.sum() + mask.sum())
    return 2 * inter / total


def segrun_dice(model):
    out = subprocess.run([SEGRUN, "eval", model, "--data", DATA, "--val", "ends:0.4", "--json"], check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    return report["pooled_dice"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--size", type=int, default=256, help="input size of the speed comparison")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    p.add_argument("--keep", help="copy the four models (segrun fp32 and int8, ONNX fp32 and QDQ) to this folder")
    a = p.parse_args()
    from monai.networks.nets import FlexibleUNet
    patch_monai_shortcut()  # MONAI's ResNet shortcut as the exporter can trace it (see onnx_import.py)
    torch.manual_seed(0)
    pairs = load(TRAIN_SIZE)
    n = len(pairs)
    held_out = pairs[: n // 5] + pairs[-(n // 5):]
    training = pairs[n // 5: -(n // 5)]
    # The trained model is kept between runs (training is most of the time): /tmp/segrun-resnet34-unet-EPOCHS.pt.
    cache = f"/tmp/segrun-resnet34-unet-{a.epochs}.pt"
    net = FlexibleUNet(1, 1, "resnet34", pretrained=False)
    if os.path.exists(cache):
        net.load_state_dict(torch.load(cache))
        net.eval()
    else:
        net = train(net, a.epochs, training)
        torch.save(net.state_dict(), cache)
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = os.path.join(tmp, "resnet34-unet.onnx")
        torch.onnx.export(net, torch.randn(1, 1, TRAIN_SIZE, TRAIN_SIZE), fp32, dynamo=False, opset_version=17, input_names=["image"],
                          output_names=["logits"], dynamic_axes={"image": {2: "height", 3: "width"}})
        m = onnx.load(fp32)
        for key, value in [("input.mean", f"[{MEAN}]"), ("input.std", f"[{STD}]"), ("output.class_names", "[brain]"), ("output.threshold", "0.5")]:
            m.metadata_props.add(key=key, value=value)
        onnx.save(m, fp32)

        # segrun: import, quantize on 32 training slices (a folder of them), evaluate both on the held-out ones.
        seg, seg8 = os.path.join(tmp, "fp32.segrun"), os.path.join(tmp, "int8.segrun")
        subprocess.run([SEGRUN, "import", fp32, "--size", f"{TRAIN_SIZE}x{TRAIN_SIZE}", "--out", seg], check=True, capture_output=True)
        calib = os.path.join(tmp, "calib", "images")
        os.makedirs(calib)
        picks = training[:: max(1, len(training) // 32)][:32]
        for name, _, _, _ in picks:
            os.symlink(os.path.abspath(os.path.join(DATA, "images", name)), os.path.join(calib, name))
        subprocess.run([SEGRUN, "quantize", seg, "--calib", os.path.dirname(calib), "--out", seg8], check=True, capture_output=True)
        dice = {"segrun fp32": forward_dice(seg, held_out, tmp), "segrun int8": forward_dice(seg8, held_out, tmp)}
        product = {"segrun fp32": segrun_dice(seg), "segrun int8": segrun_dice(seg8)}

        # ONNX Runtime: static QDQ quantization on the same 32 slices.
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.items = iter([{"image": x} for _, x, _, _ in picks])

            def get_next(self):
                return next(self.items, None)

        prepared, qdq = os.path.join(tmp, "prepared.onnx"), os.path.join(tmp, "qdq.onnx")
        here = os.getcwd()
        os.chdir(tmp)  # quant_pre_process leaves temporary files in the working directory
        quant_pre_process(fp32, prepared, skip_symbolic_shape=True)
        os.chdir(here)
        quantize_static(prepared, qdq, Reader(), quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
        sessions = {k: ort.InferenceSession(f, providers=["CPUExecutionProvider"]) for k, f in [("ORT fp32", fp32), ("ORT int8 (QDQ)", qdq)]}
        for k, s in sessions.items():
            dice[k] = ort_dice(s, held_out)
        del sessions
        for k, v in dice.items():
            print(f"{k}: pooled Dice {v:.4f}", file=sys.stderr)

        if a.keep:
            os.makedirs(a.keep, exist_ok=True)
            for f in (seg, seg8, fp32, qdq):
                shutil.copy(f, a.keep)

        # Speed, same input, interleaved per thread count: the median over `rounds` rounds of each one's median.
        speed = {}
        x = np.random.default_rng(0).standard_normal((1, 1, a.size, a.size)).astype(np.float32)
        for threads in (1, 2):
            samples = {k: [] for k in dice}
            for _ in range(a.rounds):
                for k, model in [("segrun fp32", seg), ("segrun int8", seg8)]:
                    out = subprocess.run([SEGRUN, "bench", model, "--size", str(a.size), "--threads", str(threads), "--seconds", str(a.seconds), "--json"],
                                         check=True, capture_output=True, text=True).stdout
                    samples[k].append(json.loads([l for l in out.splitlines() if l.startswith("{")][0])["median_s"])
                for k, f in [("ORT fp32", fp32), ("ORT int8 (QDQ)", qdq)]:
                    so = ort.SessionOptions()
                    so.intra_op_num_threads = threads
                    so.inter_op_num_threads = 1
                    s = ort.InferenceSession(f, so, providers=["CPUExecutionProvider"])
                    samples[k].append(median_time(lambda: s.run(None, {"image": x}), a.seconds))
                    del s
            for k in dice:
                speed[(k, threads)] = statistics.median(samples[k])
            print(f"{threads} thread(s): " + ", ".join(f"{k} {1000 * speed[(k, threads)]:.1f} ms" for k in dice), file=sys.stderr)

    print(f"ResNet-34 U-Net (MONAI FlexibleUNet, trained {a.epochs} epochs in PyTorch on brain-mask at {TRAIN_SIZE}x{TRAIN_SIZE}), "
          f"pooled Dice on the {len(held_out)} held-out slices, on {cpu}\n")
    print("Each runtime's output at 128x128, its probability resized back to the slice and thresholded at 0.5 (the same "
          "script for all four); and `segrun eval --val ends:0.4` (segrun's own resizing, the product's figure)\n")
    print("| model | pooled Dice | change from its fp32 | `segrun eval` | change |")
    print("|---|---|---|---|---|")
    for k in dice:
        base = dice["segrun fp32" if k.startswith("segrun") else "ORT fp32"]
        ev = f"{product[k]:.4f} | {product[k] - product['segrun fp32']:+.4f}" if k in product else "- | -"
        print(f"| {k} | {dice[k]:.4f} | {dice[k] - base:+.4f} | {ev} |")
    print(f"\nSpeed at {a.size}x{a.size}, batch 1, median ms of {a.rounds} interleaved rounds (`segrun bench`; ONNX Runtime {ort.__version__} sessions)\n")
    print("| threads | segrun fp32 | segrun int8 | ORT fp32 | ORT int8 (QDQ) | segrun int8 vs ORT int8 | segrun int8 vs segrun fp32 |")
    print("|---|---|---|---|---|---|---|")
    for t in (1, 2):
        ms = {k: 1000 * speed[(k, t)] for k in dice}
        print(f"| {t} | {ms['segrun fp32']:.1f} | {ms['segrun int8']:.1f} | {ms['ORT fp32']:.1f} | {ms['ORT int8 (QDQ)']:.1f} | "
              f"{ms['ORT int8 (QDQ)'] / ms['segrun int8']:.2f}x | {ms['segrun fp32'] / ms['segrun int8']:.2f}x |")


if __name__ == "__main__":
    main()
