#!/usr/bin/env python3
"""Writes the small NIfTI and NRRD fixtures of Tests/ImageIOTests/Fixtures/volumes and the values an independent
reader (nibabel, pynrrd) gives for them (expected.json), which ImageIOTests compares segrun's readers against.

    pip install nibabel pynrrd numpy
    python3 Benchmarks/volumes/make_fixtures.py Tests/ImageIOTests/Fixtures/volumes

Every datatype, both byte orders, sform / qform (with qfac -1) / neither, scaling, NIfTI-2, .hdr/.img pairs,
gzip, 4D (channels), and for NRRD raw and gzip, both byte orders, detached headers, LPS and RAS spaces, and a
vector axis first. Run once; the outputs are committed. segrun never imports this.
"""
import gzip, json, os, sys
import numpy as np
import nibabel as nib
import nrrd

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
expected = {}
SHAPE = (5, 4, 3)


def values(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        lo, hi = max(info.min, -30000), min(info.max, 60000)
        return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def rotation_affine(spacing, origin, angle=0.3):
    c, s = np.cos(angle), np.sin(angle)
    r = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    a = np.eye(4)
    a[:3, :3] = r @ np.diag(spacing)
    a[:3, 3] = origin
    return a


def record(name, data_xyz, affine, spacing, channels=1):
    """data_xyz: the values as the reader should give them, indexed [x, y, z] (or [x, y, z, c])."""
    flat = np.asarray(data_xyz, dtype=np.float64)
    if flat.ndim == 4:
        flat = np.moveaxis(flat, 3, 0)  # c, x, y, z
    flat = flat.transpose(*range(flat.ndim - 3), flat.ndim - 1, flat.ndim - 2, flat.ndim - 3).ravel()  # z, y, x order, x fastest
    idx = sorted(set([0, 1, 7, len(flat) // 2, len(flat) - 1]))
    expected[name] = {"size": [int(v) for v in data_xyz.shape[:3]] + [1] * (3 - min(3, data_xyz.ndim)),
                      "channels": channels, "spacing": [float(v) for v in spacing], "affine": np.asarray(affine).tolist(),
                      "indices": idx, "values": [float(flat[i]) for i in idx], "sum": float(flat.sum())}


# NIfTI: every datatype, little-endian, sform with a rotation.
for dtype in [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.int64, np.uint64, np.float32, np.float64]:
    name = "nii-%s-le-sform.nii" % np.dtype(dtype).name
    data = values(SHAPE, dtype, 1)
    img = nib.Nifti1Image(data, rotation_affine([0.9, 1.1, 2.5], [-10, 20, 5]), dtype=dtype)
    img.header.set_data_dtype(dtype)
    img.header["scl_slope"], img.header["scl_inter"] = 1, 0
    img.set_qform(None, code=0)
    img.set_sform(img.affine, code=2)
    nib.save(img, os.path.join(out, name))
    back = nib.load(os.path.join(out, name))
    record(name, back.get_fdata(), back.affine, back.header.get_zooms()[:3])

# Big-endian int16, qform only (a rotation about z, qfac -1), scaled.
data = values(SHAPE, np.int16, 2)
hdr = nib.Nifti1Header(endianness=">")
img = nib.Nifti1Image(data, None, header=hdr)
aff = rotation_affine([1.0, 1.5, 3.0], [4, -8, 12], angle=0.7)
aff[:3, 2] *= -1  # qfac -1
img.set_qform(aff, code=1)
img.set_sform(None, code=0)
img.header.set_slope_inter(2.0, -10.0)
name = "nii-int16-be-qform-scaled.nii"
nib.save(img, os.path.join(out, name))
back = nib.load(os.path.join(out, name))
assert back.header.endianness == ">"
record(name, back.get_fdata(), back.affine, back.header.get_zooms()[:3])

# float32, gzipped, no geometry codes (NIfTI's method 1: the spacing alone).
data = values(SHAPE, np.float32, 3)
img = nib.Nifti1Image(data, np.diag([0.5, 0.75, 2.0, 1]))
img.set_qform(None, code=0)
img.set_sform(None, code=0)
name = "nii-float32-nocodes.nii.gz"
nib.save(img, os.path.join(out, name))
back = nib.load(os.path.join(out, name))
record(name, back.get_fdata(), np.diag(list(back.header.get_zooms()[:3]) + [1]), back.header.get_zooms()[:3])

# A .hdr/.img pair, uint16.
data = values(SHAPE, np.uint16, 4)
img = nib.Nifti1Pair(data, rotation_affine([1, 1, 1], [1, 2, 3]))
img.set_sform(img.affine, code=1)
name = "pair-uint16.hdr"
nib.save(img, os.path.join(out, name))
back = nib.load(os.path.join(out, name))
record(name, back.get_fdata(), back.affine, back.header.get_zooms()[:3])

# NIfTI-2, float64, sform.
data = values(SHAPE, np.float64, 5)
img = nib.Nifti2Image(data, rotation_affine([1.2, 0.8, 1.6], [-3, 3, -3], angle=-0.4))
img.set_sform(img.affine, code=4)
name = "nii2-float64-sform.nii"
nib.save(img, os.path.join(out, name))
back = nib.load(os.path.join(out, name))
record(name, back.get_fdata(), back.affine, back.header.get_zooms()[:3])

# 4D: two channels (modalities), int16, gzipped.
data = values(SHAPE + (2,), np.int16, 6)
img = nib.Nifti1Image(data, rotation_affine([1, 1, 2], [0, 0, 0]))
img.set_sform(img.affine, code=1)
name = "nii-4d-2channels.nii.gz"
nib.save(img, os.path.join(out, name))
back = nib.load(os.path.join(out, name))
record(name, back.get_fdata(), back.affine, back.header.get_zooms()[:3], channels=2)

# RGB24: refused with a clear error.
rgb = np.zeros(SHAPE, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
nib.save(nib.Nifti1Image(rgb, np.eye(4)), os.path.join(out, "nii-rgb24.nii"))


# NRRD.
def lps_to_ras(directions, origin):
    a = np.eye(4)
    a[:3, :3] = np.asarray(directions, dtype=float).T
    a[:3, 3] = origin
    return np.diag([-1, -1, 1, 1]) @ a


dirs = np.array([[0.9, 0.1, 0], [-0.1, 1.1, 0], [0, 0, 2.5]])
origin = np.array([10.0, -20.0, 5.0])
for encoding, endian, dtype in [("raw", "little", np.int16), ("gzip", "big", np.float32), ("gzip", "little", np.uint8)]:
    data = values(SHAPE, dtype, 7)
    name = "nrrd-%s-%s-%s.nrrd" % (np.dtype(dtype).name, encoding, endian)
    nrrd.write(os.path.join(out, name), data, {"space": "left-posterior-superior", "space directions": dirs, "space origin": origin,
                                              "encoding": encoding, "endian": endian, "kinds": ["domain"] * 3})
    back, header = nrrd.read(os.path.join(out, name))
    record(name, back, lps_to_ras(header["space directions"], header["space origin"]), np.linalg.norm(dirs, axis=1))

# Detached header (.nhdr + .raw), RAS space.
data = values(SHAPE, np.uint16, 8)
nrrd.write(os.path.join(out, "nrrd-detached.nhdr"), data, {"space": "right-anterior-superior", "space directions": np.diag([1.5, 1.5, 3.0]),
                                                         "space origin": [1.0, 2.0, 3.0], "encoding": "raw"},
           detached_header=True)
back, header = nrrd.read(os.path.join(out, "nrrd-detached.nhdr"))
a = np.eye(4); a[:3, :3] = np.diag([1.5, 1.5, 3.0]); a[:3, 3] = [1, 2, 3]
record("nrrd-detached.nhdr", back, a, [1.5, 1.5, 3.0])

# A vector axis first: 2 channels per voxel (channel-fastest in the file).
data = values((2,) + SHAPE, np.float32, 9)
nrrd.write(os.path.join(out, "nrrd-vector-first.nrrd"), data,
           {"space": "left-posterior-superior", "space directions": [[np.nan] * 3] + list(dirs), "space origin": origin,
            "kinds": ["vector", "domain", "domain", "domain"], "encoding": "gzip"})
back, header = nrrd.read(os.path.join(out, "nrrd-vector-first.nrrd"))
record("nrrd-vector-first.nrrd", np.moveaxis(back, 0, 3), lps_to_ras(dirs, origin), np.linalg.norm(dirs, axis=1), channels=2)

json.dump(expected, open(os.path.join(out, "expected.json"), "w"), indent=1, sort_keys=True)
print("wrote %d fixtures to %s" % (len(expected) + 1, out))
