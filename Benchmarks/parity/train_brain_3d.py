#!/usr/bin/env python3
"""The PyTorch twin of segrun's 3D brain recipe (issue 19, "Accuracy on real data"): unet3d-s trained on
48x64x64 patches of the real T1 `ch2.nii.gz` outside a held-out axial slab (the middle 30%), the brain mask
`ch2bet.nii.gz > 0` as the target, and the slab segmented by Gaussian sliding windows every epoch.

The recipe is segrun's (`segrun train --data runs/brain-volume --preset unet3d-s --patch 48x64x64
--patches-per-epoch 60 --batch 2 --epochs 26 --val slab:0.35:0.65`), written again here:
- intensities: each volume clipped at its 0.5 and 99.5 percentiles, scaled to [0, 1] on 256 levels
  (`percentile:0.5:99.5`), then standardized by the mean and std of the training slices;
- the slab: z from round(0.35 * depth) to round(0.65 * depth); patches come from the slices outside it;
- patches: every third centred on a random brain voxel, the rest anywhere, never reading outside their block
  (outside: 0 once normalized, background);
- augmentation at nnU-Net's probabilities, as segrun's `PatchSampler`: rotation +-15 degrees about each axis
  and scaling 0.85-1.25 (0.2 each, one trilinear resampling, labels nearest), mirroring each axis (0.5), then
  brightness (0.15), contrast (0.15), gamma (0.3), Gaussian noise (0.1), Gaussian blur (0.2);
- the network: segrun's unet3d-s with segrun's initial weights (`segrun init --preset unet3d-s --seed S`,
  exported to ONNX so the initializers carry segrun's names), BatchNorm momentum 0.1, eps 1e-5;
- the loss: BCE-with-logits + batch soft Dice (smoothing 1), weights 1 and 1; Adam 1e-3, cosine to 0;
- validation: MONAI's `sliding_window_inference` on the slab alone (windows of the patch, overlap 0.5,
  Gaussian, sigma 1/8), pooled Dice of the brain at probability 0.5; the best epoch is the one with the best
  slab Dice (segrun's `best.segrun` is chosen the same way).

    swift run -c release segrun init --preset unet3d-s --seed 0 --out /tmp/unet3d-s-0.segrun
    swift run -c release segrun export /tmp/unet3d-s-0.segrun --onnx /tmp/unet3d-s-0.onnx
    python3 Benchmarks/parity/train_brain_3d.py --init /tmp/unet3d-s-0.onnx --threads 1

Prints one JSON line per epoch and a summary line. Comparisons only; segrun never runs this.
"""
import argparse, json, math, sys, time

import nibabel as nib
import numpy as np
import onnx
from onnx import numpy_helper
from scipy import ndimage
import torch
import torch.nn.functional as F


def load(image_path, mask_path):
    img = nib.load(image_path)
    codes = "".join(nib.aff2axcodes(img.affine))
    assert codes == "RAS", f"the recipe's volume is RAS; got {codes}"
    x = np.asarray(img.dataobj, dtype=np.float32).transpose(2, 1, 0).copy()  # D, H, W = z, y, x
    m = (np.asarray(nib.load(mask_path).dataobj) > 0).transpose(2, 1, 0).astype(np.float32).copy()
    lo, hi = np.percentile(x, 0.5), np.percentile(x, 99.5)
    x = np.floor(np.clip((x - lo) / max(hi - lo, 1e-12), 0, 1) * 255) / 255
    return x.astype(np.float32), m


def swift_round(v):
    return int(math.floor(v + 0.5))


class UNet3D(torch.nn.Module):
    """segrun's unet3d-s: per level two 3x3x3 conv + BatchNorm + ReLU, 2x2x2 max pooling, a 2x2x2 stride-2
    transposed convolution up, the skip first in the concatenation, a 1x1x1 head; weights by segrun's names."""
    def __init__(self, onnx_path):
        super().__init__()
        model = onnx.load(onnx_path)
        weights = {i.name: torch.tensor(numpy_helper.to_array(i).copy(), dtype=torch.float32) for i in model.graph.initializer}
        self.depth = sum(1 for n in weights if n.startswith("enc") and n.endswith(".0.conv.weight"))
        self.convs, self.norms = torch.nn.ModuleDict(), torch.nn.ModuleDict()
        self.ups = torch.nn.ModuleDict()
        names = [f"enc{l + 1}" for l in range(self.depth)] + ["bottleneck"] + [f"dec{l + 1}" for l in range(self.depth)]
        for block in names:
            for k in (0, 1):
                n = f"{block}.{k}"
                w = weights[n + ".conv.weight"]
                conv = torch.nn.Conv3d(w.shape[1], w.shape[0], 3, padding=1, bias=False)
                conv.weight.data.copy_(w)
                bn = torch.nn.BatchNorm3d(w.shape[0], eps=1e-5, momentum=0.1)
                for field in ("weight", "bias", "running_mean", "running_var"):
                    getattr(bn, field).data.copy_(weights[f"{n}.bn.{field}"])
                self.convs[n.replace(".", "_")], self.norms[n.replace(".", "_")] = conv, bn
        for l in range(self.depth):
            w = weights[f"dec{l + 1}.up.weight"]
            up = torch.nn.ConvTranspose3d(w.shape[0], w.shape[1], 2, stride=2)
            up.weight.data.copy_(w)
            up.bias.data.copy_(weights[f"dec{l + 1}.up.bias"])
            self.ups[f"dec{l + 1}"] = up
        w = weights["head.weight"]
        self.head = torch.nn.Conv3d(w.shape[1], w.shape[0], 1)
        self.head.weight.data.copy_(w)
        self.head.bias.data.copy_(weights["head.bias"])

    def block(self, x, name):
        for k in (0, 1):
            n = f"{name}_{k}"
            x = F.relu(self.norms[n](self.convs[n](x)))
        return x

    def forward(self, x):
        skips = []
        for l in range(self.depth):
            x = self.block(x, f"enc{l + 1}")
            skips.append(x)
            x = F.max_pool3d(x, 2)
        x = self.block(x, "bottleneck")
        for l in reversed(range(self.depth)):
            x = self.block(torch.cat([skips[l], self.ups[f"dec{l + 1}"](x)], dim=1), f"dec{l + 1}")
        return self.head(x)


def rotation(axis, angle):
    c, s = math.cos(angle), math.sin(angle)
    if axis == 0:
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == 1:
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


class Sampler:
    """Training patches from blocks (z ranges) of the normalized volume, as segrun's PatchSampler draws them."""
    def __init__(self, x, m, blocks, patch, rng):
        self.x, self.m, self.blocks, self.patch, self.rng = x, m, blocks, patch, rng
        self.fg = [np.argwhere(m[b0:b1] > 0) + np.array([b0, 0, 0]) for b0, b1 in blocks]

    def sample(self, index):
        r, (pd, ph, pw) = self.rng, self.patch
        if index % 3 == 2:
            counts = np.array([len(f) for f in self.fg])
            b = int(np.searchsorted(np.cumsum(counts), r.integers(counts.sum()), side="right"))
            voxel = self.fg[b][r.integers(len(self.fg[b]))]
        else:
            sizes = np.array([b1 - b0 for b0, b1 in self.blocks])
            b, voxel = int(np.searchsorted(np.cumsum(sizes), r.integers(sizes.sum()), side="right")), None
        b0, b1 = self.blocks[b]
        lower, upper, extent = [b0, 0, 0], [b1, self.x.shape[1], self.x.shape[2]], [pd, ph, pw]
        centre = []
        for a in range(3):
            room = upper[a] - lower[a] - extent[a]
            if voxel is not None:
                corner = int(voxel[a]) - extent[a] // 2
                corner = min(max(corner, lower[a]), upper[a] - extent[a]) if room >= 0 else lower[a] + room // 2
            else:
                corner = lower[a] + int(r.integers(room + 1)) if room >= 0 else lower[a] + room // 2
            centre.append(corner + (extent[a] - 1) / 2 - lower[a])
        image, labels = self.x[b0:b1], self.m[b0:b1]
        M, resample = np.eye(3), False
        if r.random() < 0.2:
            for axis in range(3):
                M = M @ rotation(axis, r.uniform(-15, 15) * math.pi / 180)
            resample = True
        if r.random() < 0.2:
            M, resample = M / r.uniform(0.85, 1.25), True
        half = (np.array(extent) - 1) / 2
        if resample:
            offset = np.array(centre) - M @ half
            xi = ndimage.affine_transform(image, M, offset=offset, output_shape=extent, order=1, mode="constant", cval=0.0)
            mi = ndimage.affine_transform(labels, M, offset=offset, output_shape=extent, order=0, mode="constant", cval=0.0)
        else:
            c = [int(round(centre[a] - half[a])) for a in range(3)]
            xi = np.zeros(extent, np.float32); mi = np.zeros(extent, np.float32)
            src = tuple(slice(max(0, c[a]), min(image.shape[a], c[a] + extent[a])) for a in range(3))
            dst = tuple(slice(s.start - c[a], s.stop - c[a]) for a, s in enumerate(src))
            xi[dst], mi[dst] = image[src], labels[src]
        for a in range(3):
            if r.random() < 0.5:
                xi, mi = np.flip(xi, a), np.flip(mi, a)
        xi = np.ascontiguousarray(xi, dtype=np.float32)
        if r.random() < 0.15:
            xi *= r.uniform(0.75, 1.25)
        if r.random() < 0.15:
            lo, hi, mean = xi.min(), xi.max(), xi.mean()
            xi = np.clip((xi - mean) * r.uniform(0.75, 1.25) + mean, lo, hi)
        if r.random() < 0.3:
            lo, hi = xi.min(), xi.max()
            span = max(hi - lo, 1e-7)
            xi = ((xi - lo) / span) ** r.uniform(0.7, 1.5) * span + lo
        if r.random() < 0.1:
            xi = xi + math.sqrt(r.uniform(0, 0.1)) * r.standard_normal(xi.shape)
        if r.random() < 0.2:
            sigma = r.uniform(0.5, 1)
            xi = ndimage.gaussian_filter(xi, sigma, mode="nearest", truncate=2 / sigma)
        return xi.astype(np.float32), np.ascontiguousarray(mi, dtype=np.float32)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--image", default="../shared/data/nifti/ch2.nii.gz")
    a.add_argument("--mask", default="../shared/data/nifti/ch2bet.nii.gz")
    a.add_argument("--init", required=True, help="segrun's initial unet3d-s, exported to ONNX")
    a.add_argument("--patch", default="48x64x64")
    a.add_argument("--patches-per-epoch", type=int, default=60)
    a.add_argument("--batch", type=int, default=2)
    a.add_argument("--epochs", type=int, default=26)
    a.add_argument("--slab", default="0.35:0.65")
    a.add_argument("--threads", type=int, default=1)
    a.add_argument("--seed", type=int, default=0)
    args = a.parse_args()
    from monai.inferers import sliding_window_inference
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    patch = [int(v) for v in args.patch.split("x")]
    x, m = load(args.image, args.mask)
    depth = x.shape[0]
    f0, f1 = (float(v) for v in args.slab.split(":"))
    z0 = min(depth - 1, swift_round(depth * f0)); z1 = min(depth, max(z0 + 1, swift_round(depth * f1)))
    blocks = [(b0, b1) for b0, b1 in ((0, z0), (z1, depth)) if b1 > b0]
    train = np.concatenate([x[b0:b1].ravel() for b0, b1 in blocks])
    mean, std = float(train.mean(dtype=np.float64)), float(max(1e-6, train.std(dtype=np.float64)))
    x = (x - mean) / std
    sampler = Sampler(x, m, blocks, patch, rng)
    model = UNet3D(args.init)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    batches = args.patches_per_epoch // args.batch
    total = args.epochs * batches
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(1, s / total))))
    slab = torch.from_numpy(x[z0:z1].copy())[None, None]
    truth = torch.from_numpy(m[z0:z1].copy())
    history = []
    for epoch in range(args.epochs):
        t0 = time.time()
        model.train()
        losses = []
        for b in range(batches):
            pairs = [sampler.sample(b * args.batch + k) for k in range(args.batch)]
            xb = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
            mb = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
            logits = model(xb)
            pr = torch.sigmoid(logits)
            dice = 1 - (2 * (pr * mb).sum() + 1) / (pr.sum() + mb.sum() + 1)
            loss = F.binary_cross_entropy_with_logits(logits, mb) + dice
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
            losses.append(loss.item())
        train_s = time.time() - t0
        model.eval()
        with torch.no_grad():
            logits = sliding_window_inference(slab, patch, 1, model, overlap=0.5, mode="gaussian", sigma_scale=0.125)
        predicted = (logits[0, 0] >= 0).float()
        d = float(2 * (predicted * truth).sum() / max(1.0, float(predicted.sum() + truth.sum())))
        history.append(d)
        print(json.dumps({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "slab_dice": round(d, 4),
                          "best": round(max(history), 4), "train_s": round(train_s, 1), "seconds": round(time.time() - t0, 1)}), flush=True)
    last10 = history[-10:]
    print(json.dumps({"summary": True, "best_dice": round(max(history), 4), "best_epoch": int(np.argmax(history)) + 1,
                      "median_last10": round(float(np.median(last10)), 4), "last": round(history[-1], 4),
                      "slab": [z0, z1], "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
