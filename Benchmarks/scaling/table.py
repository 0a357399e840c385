#!/usr/bin/env python3
"""The data-parallel scaling table of docs/SCALING.md, from a measured step time and the gradient size.

    python3 Benchmarks/scaling/table.py --name unet-s --parameters 7768353 --step 1.39 [--bn-layers 18]

Per step each of N nodes sends and receives 2 (N-1)/N of the gradient bytes (segrun's reduce-scatter by
MPI_Alltoall then MPI_Allgather moves the same bytes as a ring allreduce), at the link's rate, plus a latency
per message round; synchronized BatchNorm adds three small allgathers per BatchNorm layer per step. The compute
time per step is the measured one (weak scaling: each node keeps its per-node batch). segrun reduces after the
backward pass, without overlapping communication and compute, so a step takes compute + communication.
"""
import argparse

p = argparse.ArgumentParser()
p.add_argument("--name", required=True)
p.add_argument("--parameters", type=int, required=True)
p.add_argument("--step", type=float, required=True, help="measured compute seconds per step on one node")
p.add_argument("--bn-layers", type=int, default=0)
p.add_argument("--latency", type=float, default=30e-6, help="seconds per message round (TCP over Ethernet)")
p.add_argument("--efficiency", type=float, default=0.9, help="fraction of the line rate MPI reaches")
args = p.parse_args()

gradient = 4 * args.parameters
print(f"{args.name}: {args.parameters / 1e6:.2f} M parameters, {gradient / 1e6:.1f} MB of gradients per step; compute {args.step:.3f} s per step")
print()
print("| nodes | bytes per node per step | 10 GbE: comm s | 10 GbE: efficiency | 25 GbE: comm s | 25 GbE: efficiency |")
print("|---|---|---|---|---|---|")
for n in [2, 4, 8, 16, 32, 64]:
    moved = 2 * (n - 1) / n * gradient
    row = [f"{n}", f"{moved / 1e6:.1f} MB"]
    for gbits in [10, 25]:
        rate = gbits * 1e9 / 8 * args.efficiency
        # Alltoall and allgather: (N-1) message rounds each; BatchNorm: 3 allgathers of log2(N) rounds per layer.
        latency = 2 * (n - 1) * args.latency + 3 * args.bn_layers * max(1, (n - 1).bit_length()) * args.latency
        comm = moved / rate + latency
        row += [f"{comm:.3f}", f"{args.step / (args.step + comm) * 100:.0f}%"]
    print("| " + " | ".join(row) + " |")
