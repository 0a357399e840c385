// Throughput of the multiply instructions the int8 and fp32 kernels are built on, on this CPU.
//   gcc -O2 Benchmarks/isa/int8-throughput.c -o /tmp/tp && /tmp/tp
//
// Each loop is inline assembly with 12 independent destinations, so the compiler can neither hoist a
// product out of the loop nor spill, and latency hides: only issue rate counts. (An earlier version in C
// intrinsics multiplied the same two constants in every chain; GCC computed the product once per
// iteration, and the table under-read vpmaddwd by half.)
//
// Measured on the Zen 3 of BENCHMARKS.md (G instructions/s, one thread):
//   vpmaddwd 5.68, vpmaddubsw 5.69, vfmadd231ps 5.68: all three issue twice per cycle;
//   vpmaddwd + vpaddd into 6 accumulators 4.57 G pairs/s: the int8 microkernel's step, 146 G int8 ops/s,
//   1.6x the fp32 FMA peak (91 GFLOP/s). The adds compete with the multiplies for the 4 vector pipes.
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CLOBBER "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm13"
#define ONE(ins, k) ins " %%ymm14, %%ymm15, %%ymm" #k "\n"
#define TWELVE(ins) ONE(ins, 0) ONE(ins, 1) ONE(ins, 2) ONE(ins, 3) ONE(ins, 4) ONE(ins, 5) \
                    ONE(ins, 6) ONE(ins, 7) ONE(ins, 8) ONE(ins, 9) ONE(ins, 10) ONE(ins, 11)
// vpmaddwd into a temporary, then vpaddd into one of 6 accumulators: what Q8Microkernel does per product.
#define PAIR(k, acc) "vpmaddwd %%ymm14, %%ymm15, %%ymm" #k "\n vpaddd %%ymm" #k ", %%ymm" #acc ", %%ymm" #acc "\n"

static void report(const char *name, long n, double t) { printf("%-28s %.2f G/s\n", name, n * 12 / t / 1e9); }

int main(void) {
    const long n = 100000000;
    double t0;
#define LOOP(name, body)                                                         \
    t0 = now();                                                                  \
    for (long i = 0; i < n; i++) __asm__ volatile(body ::: CLOBBER);             \
    report(name, n, now() - t0);
    LOOP("vpmaddwd", TWELVE("vpmaddwd"))
    LOOP("vpmaddubsw", TWELVE("vpmaddubsw"))
    LOOP("vfmadd231ps", TWELVE("vfmadd231ps"))
    LOOP("vpaddd", TWELVE("vpaddd"))
    LOOP("vpmaddwd + vpaddd (pairs)", PAIR(0, 6) PAIR(1, 7) PAIR(2, 8) PAIR(3, 9) PAIR(4, 10) PAIR(5, 11)
                                      PAIR(0, 6) PAIR(1, 7) PAIR(2, 8) PAIR(3, 9) PAIR(4, 10) PAIR(5, 11))
    return 0;
}
