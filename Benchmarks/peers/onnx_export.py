#!/usr/bin/env python3
"""`segrun export --onnx` against ONNX Runtime: every preset (random weights) and, if given, trained model
files are exported, checked by `onnx.checker.check_model(full_check=True)`, and run by ONNX Runtime and by
segrun on real brain-mask slices; prints max |segrun - ORT| / max |segrun| per model.

    pip install torch==2.13.0+cpu onnx onnxruntime pillow
    swift build -c release --product segrun
    python3 Benchmarks/peers/onnx_export.py [MODEL.segrun ...]
"""
import os, subprocess, sys, tempfile
import numpy as np, onnx, onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_import import SEGRUN, load_images, read_sgtn, write_sgtn  # noqa: E402

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
    print(f"segrun export --onnx: onnx.checker accepts every file; ONNX Runtime against segrun on {len(images)} brain-mask slices "
          f"at {size}x{size} (3D: a 16^3 stack), max |segrun - ORT| / max |segrun|, on {cpu}\n")
    print("| model | ONNX file | ORT vs segrun |")
    print("|---|---|---|")
    for name, nbytes, worst in rows:
        print(f"| {name} | {nbytes / 2**20:.1f} MiB | {worst:.1e} |")


if __name__ == "__main__":
    main()
