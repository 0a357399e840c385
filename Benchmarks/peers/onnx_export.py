#!/usr/bin/env python3
"""`segrun export --onnx` against ONNX Runtime: every preset (random weights) and, if given, trained model
files are exported, checked by `onnx.checker.check_model(full_check=True)`, and run by ONNX Runtime and by
segrun on real brain-mask slices; prints max |segrun - ORT| / max |segrun| per model. Then the 2D presets
quantized by `segrun quantize` (calibrated on 16 brain-mask slices) are exported as QDQ and compared the same
way, in units of one 8-bit step of the output's range ((max - min) / 255), with the share of mask pixels
(argmax, or logit > 0 for one class) on which the two agree.

    pip install torch==2.13.0+cpu onnx onnxruntime pillow
    swift build -c release --product segrun
    python3 Benchmarks/peers/onnx_export.py [MODEL.segrun ...]
"""
import os, subprocess, sys, tempfile
import numpy as np, onnx, onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_import import DATA, ROOT, SEGRUN, load_images, read_sgtn, write_sgtn  # noqa: E402

PRESETS = ["unet-s", "unet-bilinear-s", "unetpp-s", "attention-unet-s", "res-unet-s", "unet3plus-s", "pspnet-s", "unet3d-xs"]


def main():
    size = 128
    images = load_images(size)
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        models = [(p, None) for p in PRESETS] + [(os.path.basename(m), m) for m in sys.argv[1:]]
        for name, path in models:
            seg = path or os.path.join(tmp, name + ".segrun")
            if path is None:
                subprocess.run([SEGRUN, "init", "--preset", name, "--out", seg], check=True, capture_output=True)
            out = os.path.join(tmp, name + ".onnx")
            # PSPNet's pyramid pools to 1, 2, 3 and 6 bins of a stride-8 map: 144 = 8 x 18 divides into all.
            extra = ["--size", "144x144"] if name.startswith("pspnet") else []
            subprocess.run([SEGRUN, "export", seg, "--onnx", out] + extra, check=True, capture_output=True)
            onnx.checker.check_model(onnx.load(out), full_check=True)
            s = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
            worst = 0.0
            inputs = [x for _, x in (load_images(144) if name.startswith("pspnet") else images)]
            if name.startswith("unet3d"):
                inputs = [np.concatenate([x for _, x in load_images(16, 16)], 0).transpose(1, 0, 2, 3)[None]]
            for x in inputs:
                write_sgtn(os.path.join(tmp, "x.sgtn"), x)
                subprocess.run([SEGRUN, "forward", seg, "--from", os.path.join(tmp, "x.sgtn"), "--measured", "--input", os.path.join(tmp, "x2.sgtn"),
                                "--output", os.path.join(tmp, "y.sgtn")], check=True, capture_output=True)
                y = read_sgtn(os.path.join(tmp, "y.sgtn"))
                r = s.run(None, {s.get_inputs()[0].name: x.astype(np.float32)})[0]
                worst = max(worst, float(np.abs(y - r).max() / np.abs(y).max()))
            rows.append((name, os.path.getsize(out), worst))
            print(f"{name}: {worst:.1e}", file=sys.stderr)
        int8_rows = []
        # The 2D presets (random weights: their logits span about 0.01, so a step is tiny) and the trained
        # PyTorch example of the README, imported (its inputs normalized as its metadata says).
        example = os.path.join(ROOT, "examples/pytorch/brain-unet.onnx")
        subprocess.run([SEGRUN, "import", example, "--size", "128x128", "--out", os.path.join(tmp, "brain-unet.segrun")], check=True, capture_output=True)
        for name in [p for p in PRESETS if not p.startswith("unet3d")] + ["brain-unet"]:
            seg = os.path.join(tmp, name + ".segrun")
            q = os.path.join(tmp, name + "-int8.segrun")
            subprocess.run([SEGRUN, "quantize", seg, "--calib", DATA, "--images", "16", "--out", q], check=True, capture_output=True)
            out = os.path.join(tmp, name + "-int8.onnx")
            extra = ["--size", "144x144"] if name.startswith("pspnet") else []
            subprocess.run([SEGRUN, "export", q, "--onnx", out, "--int8"] + extra, check=True, capture_output=True)
            onnx.checker.check_model(onnx.load(out), full_check=True)
            s = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
            steps, agree, total, equal = 0.0, 0, 0, 0
            for _, x in (load_images(144) if name.startswith("pspnet") else images):
                if name == "brain-unet":
                    x = (x - 0.2) / 0.3
                write_sgtn(os.path.join(tmp, "x.sgtn"), x)
                subprocess.run([SEGRUN, "forward", q, "--from", os.path.join(tmp, "x.sgtn"), "--measured", "--input", os.path.join(tmp, "x2.sgtn"),
                                "--output", os.path.join(tmp, "y.sgtn")], check=True, capture_output=True)
                y = read_sgtn(os.path.join(tmp, "y.sgtn"))
                r = s.run(None, {s.get_inputs()[0].name: x.astype(np.float32)})[0]
                step = (y.max() - y.min()) / 255
                steps = max(steps, float(np.abs(y - r).max() / step))
                equal += int((np.abs(y - r) <= 1e-6 * np.abs(y).max()).sum())
                mask = (lambda t: t.argmax(1) if t.shape[1] > 1 else t[:, 0] > 0)
                agree += int((mask(y) == mask(r)).sum())
                total += mask(y).size
            int8_rows.append((name + " int8", os.path.getsize(out), steps, equal / y.size / len(images), agree / total))
            print(f"{name} int8: {steps:.2f} steps, {100 * equal / y.size / len(images):.2f}% equal, masks agree on {100 * agree / total:.3f}%", file=sys.stderr)
    print(f"segrun export --onnx: onnx.checker accepts every file; ONNX Runtime against segrun on {len(images)} brain-mask slices "
          f"at {size}x{size} (3D: a 16^3 stack), max |segrun - ORT| / max |segrun|, on {cpu}\n")
    print("| model | ONNX file | ORT vs segrun |")
    print("|---|---|---|")
    for name, nbytes, worst in rows:
        print(f"| {name} | {nbytes / 2**20:.1f} MiB | {worst:.1e} |")
    print("\nint8 models (segrun quantize, 16 calibration slices) exported as QDQ: ONNX Runtime against segrun's int8 runtime, "
          "max |segrun - ORT| in 8-bit steps of the output's range ((max - min) / 255), the share of output values that are equal "
          "(within 1e-6 of the largest), and the masks' agreement\n")
    print("| model | ONNX file | max difference | values equal | masks agree |")
    print("|---|---|---|---|---|")
    for name, nbytes, steps, equal, agree in int8_rows:
        print(f"| {name} | {nbytes / 2**20:.2f} MiB | {steps:.2f} steps | {100 * equal:.2f}% | {100 * agree:.3f}% |")


if __name__ == "__main__":
    main()
