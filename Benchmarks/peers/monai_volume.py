#!/usr/bin/env python3
"""Whole-volume prediction with MONAI: the peer of `segrun predict MODEL CT.nii.gz --spacing 1.5` for a 3D U-Net.

Reads the NIfTI (nibabel), resamples it to the target spacing (trilinear, torch), z-scores it, runs MONAI's
`sliding_window_inference` with unet3d-s (unet_peers.py --dims 3 --base 16, random weights, eval mode), windows of
64^3, overlap 0.5, Gaussian importance (sigma 1/8 of the window), argmax, maps the labels back to the input grid
(nearest) and writes them as uint8 NIfTI: the steps segrun's predict takes. Prints one JSON line with the time of
each stage and the peak resident set.
For comparisons only (Benchmarks/peers/compare-volume-3d); segrun never imports it.
Needs: pip install torch==2.13.0+cpu monai nibabel
"""
import argparse, json, resource, sys, time, os

import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F
from monai.inferers import sliding_window_inference

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unet_peers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--spacing", type=float, default=1.5)
    ap.add_argument("--classes", type=int, default=6)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    unet_peers.DIMS = 3
    torch.manual_seed(0)
    net = unet_peers.UNet(in_channels=1, classes=a.classes, base=16, depth=4).eval()
    t0 = time.perf_counter()
    image = nib.load(a.input)
    data = np.asarray(image.dataobj, dtype=np.float32)  # x, y, z
    zooms = image.header.get_zooms()[:3]
    t1 = time.perf_counter()
    target = [max(1, round(n * z / a.spacing)) for n, z in zip(data.shape, zooms)]
    with torch.inference_mode():
        x = torch.from_numpy(data).permute(2, 1, 0)[None, None]  # 1 x 1 x z x y x x
        x = F.interpolate(x, size=target[::-1], mode="trilinear", align_corners=False)
        x = (x - x.mean()) / x.std().clamp_min(1e-8)
        t2 = time.perf_counter()
        logits = sliding_window_inference(x, roi_size=(a.window,) * 3, sw_batch_size=1, predictor=net, overlap=0.5,
                                          mode="gaussian", sigma_scale=0.125)
        t3 = time.perf_counter()
        labels = logits.argmax(1, keepdim=True).to(torch.uint8)
        labels = F.interpolate(labels.float(), size=data.shape[::-1], mode="nearest").to(torch.uint8)[0, 0].permute(2, 1, 0).numpy()
    out = nib.Nifti1Image(np.ascontiguousarray(labels), image.affine)
    nib.save(out, a.output)
    t4 = time.perf_counter()
    windows = 1
    for n in target[::-1]:
        step = a.window // 2
        windows *= max(1, -(-(max(n, a.window) - a.window) // step) + 1)
    print(json.dumps({"engine": "monai", "threads": a.threads, "read_s": t1 - t0, "prepare_s": t2 - t1, "windows_s": t3 - t2,
                      "finish_s": t4 - t3, "total_s": t4 - t0, "model_grid": target, "windows": windows,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
