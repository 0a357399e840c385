"""Writes a synthetic CT as a gzipped NIfTI-1, int16 Hounsfield units, slice by slice (python3's standard
library only): an elliptic body of soft tissue (40 HU) in air (-1000), a spine (700), and a liver-like blob
(60) whose size varies along z; 0.7 x 0.7 x 2.5 mm voxels unless given, RAS affine.
Usage: make_ct.py OUT NX NY NZ [DX DY DZ]"""
import array, gzip, struct, sys

out, nx, ny, nz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
dx, dy, dz = (float(v) for v in sys.argv[5:8]) if len(sys.argv) >= 8 else (0.7, 0.7, 2.5)
header = bytearray(352)
struct.pack_into("<i", header, 0, 348)
struct.pack_into("<8h", header, 40, 3, nx, ny, nz, 1, 1, 1, 1)
struct.pack_into("<hh", header, 70, 4, 16)  # datatype int16, bitpix
struct.pack_into("<8f", header, 76, 1, dx, dy, dz, 1, 1, 1, 1)
struct.pack_into("<f", header, 108, 352)  # vox_offset
struct.pack_into("<ff", header, 112, 1, 0)  # scl_slope, scl_inter
header[123] = 2  # xyzt_units: mm
struct.pack_into("<hh", header, 252, 1, 1)  # qform_code, sform_code: scanner
struct.pack_into("<4f", header, 280, dx, 0, 0, -nx * dx / 2)
struct.pack_into("<4f", header, 296, 0, dy, 0, -ny * dy / 2)
struct.pack_into("<4f", header, 312, 0, 0, dz, -nz * dz / 2)
header[344:348] = b"n+1\0"

def row(runs):
    a = array.array("h")
    for value, count in runs:
        a.extend(array.array("h", [value]) * count)
    return a

with gzip.open(out, "wb", compresslevel=1) as f:
    f.write(bytes(header))
    for z in range(nz):
        t = z / max(1, nz - 1)
        liver = 0.25 * (1 - abs(2 * t - 1))  # grows to the middle of the volume, then shrinks
        sl = array.array("h")
        for y in range(ny):
            v = (y - ny / 2) / (0.38 * ny)
            if abs(v) >= 1:
                sl.extend(row([(-1000, nx)]))
                continue
            half = int(0.45 * nx * (1 - v * v) ** 0.5)
            x0 = nx // 2 - half
            runs = [(-1000, x0)]
            inner = 2 * half
            spine = abs(y - int(0.3 * ny)) < ny // 20
            lv = (y - ny / 2) / (liver * ny + 1e-9)
            lhalf = int(liver * nx * max(0.0, 1 - lv * lv) ** 0.5) if abs(lv) < 1 else 0
            segments = []
            if lhalf > 0:
                segments.append((int(0.35 * nx) - lhalf, 2 * lhalf, 60))
            if spine:
                segments.append((nx // 2 - nx // 25, 2 * (nx // 25), 700))
            position = x0
            for start, length, value in sorted(segments):
                start = max(position, min(start, x0 + inner))
                end = max(start, min(start + length, x0 + inner))
                runs.append((40, start - position))
                runs.append((value, end - start))
                position = end
            runs.append((40, x0 + inner - position))
            runs.append((-1000, nx - x0 - inner))
            sl.extend(row(runs))
        if sys.byteorder != "little":
            sl.byteswap()
        f.write(sl.tobytes())
