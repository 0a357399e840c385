#!/usr/bin/env python3
"""Bring your PyTorch model: train a small U-Net on real brain MRI slices in PyTorch and export it as ONNX,
the way a clinic's imaging team would, for `segrun import` (README, "Bring your PyTorch model").

    pip install torch==2.13.0+cpu onnx pillow
    python3 examples/pytorch/train_unet.py ../shared/data/brain-mask examples/pytorch/brain-unet.onnx

The data is the brain-mask folder of real slices (Colin27 T1, BSD-3-clause, see examples/pytorch/LICENSE):
images/NAME.png with masks/NAME.png. Slices with the 20% highest and lowest z are held out (neighbouring
slices are nearly identical, so a random split would flatter the score). The normalization and class names go
into the ONNX file's metadata_props, which segrun reads.
"""
import glob, os, sys
import numpy as np, onnx, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image

MEAN, STD = 0.2, 0.3


def conv_block(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                         nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        w = width
        self.e1, self.e2, self.e3 = conv_block(1, w), conv_block(w, 2 * w), conv_block(2 * w, 4 * w)
        self.up2, self.d2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, 2), conv_block(4 * w, 2 * w)
        self.up1, self.d1 = nn.ConvTranspose2d(2 * w, w, 2, 2), conv_block(2 * w, w)
        self.head = nn.Conv2d(w, 1, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(F.max_pool2d(a, 2))
        c = self.e3(F.max_pool2d(b, 2))
        d = self.d2(torch.cat([self.up2(c), b], 1))
        return self.head(self.d1(torch.cat([self.up1(d), a], 1)))


def load(folder):
    pairs = []
    for p in sorted(glob.glob(os.path.join(folder, "images", "*.png"))):
        x = np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255
        y = (np.asarray(Image.open(os.path.join(folder, "masks", os.path.basename(p))).convert("L")) > 127).astype(np.float32)
        pairs.append(((x - MEAN) / STD, y))
    return pairs


def crops(pairs, size, rng):
    xs, ys = [], []
    for x, y in pairs:
        r, c = rng.integers(0, x.shape[0] - size + 1), rng.integers(0, x.shape[1] - size + 1)
        xs.append(x[r:r + size, c:c + size]); ys.append(y[r:r + size, c:c + size])
    return torch.tensor(np.stack(xs))[:, None], torch.tensor(np.stack(ys))[:, None]


def dice(logits, y):
    p = (logits > 0).float()
    return float(2 * (p * y).sum() / (p.sum() + y.sum() + 1e-6))


def main():
    folder, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    pairs = load(folder)
    n = len(pairs)
    val = pairs[: n // 5] + pairs[-n // 5:]
    train = pairs[n // 5: -n // 5]
    net = UNet()
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 20)
    for epoch in range(20):
        net.train()
        x, y = crops(train + train, 128, rng)
        for i in torch.randperm(len(x)).split(8):
            opt.zero_grad()
            logits = net(x[i])
            prob = torch.sigmoid(logits)
            loss = F.binary_cross_entropy_with_logits(logits, y[i]) + 1 - (2 * (prob * y[i]).sum() + 1) / (prob.sum() + y[i].sum() + 1)
            loss.backward()
            opt.step()
        schedule.step()
        net.eval()
        with torch.no_grad():
            scores = []
            for x1, y1 in val:
                h, w = x1.shape
                ph, pw = (-h) % 4, (-w) % 4
                t = F.pad(torch.tensor(x1)[None, None], (0, pw, 0, ph))
                scores.append(dice(net(t)[..., :h, :w], torch.tensor(y1)[None, None]))
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, validation Dice {np.mean(scores):.3f}")
    torch.onnx.export(net.eval(), torch.randn(1, 1, 128, 128), out, dynamo=False, opset_version=17,
                      input_names=["image"], output_names=["logits"], dynamic_axes={"image": {2: "height", 3: "width"}})
    m = onnx.load(out)
    for key, value in [("input.mean", f"[{MEAN}]"), ("input.std", f"[{STD}]"), ("output.class_names", "[brain]"), ("output.threshold", "0.5")]:
        m.metadata_props.add(key=key, value=value)
    onnx.save(m, out)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
