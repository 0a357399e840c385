// The x86-64 segrun-edge holds the kernels three times, compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 +
// FMA) and baseline x86-64 (SSE2; fused multiply-adds through libm's correctly rounded fmaf, so its results are
// the same bits, only slower), and everything else (the Engine, the model reader, PNG, the command line) once.
// Swift has no per-function target attributes, so the copies are whole Kernels modules whose symbols
// scripts/build-edge suffixes with _v4, _v3 and _v1; every kernel entry point the rest calls is a trampoline
// that jumps through a slot of segrun_kernel_slots. This C main picks a copy from the CPU's features (the rule,
// and the SEGRUN_ISA cap, in scripts/portable/segrun_isa_choice.h), fills the slots from that copy's table, and
// only then runs segrun-edge.
#include <stdio.h>
#include <string.h>
#include "../../portable/segrun_isa_choice.h"

// Written by scripts/build-edge (kernel-table.s): one pointer per entry point, in the same order in each table.
extern void *const segrun_kernels_v4[], *const segrun_kernels_v3[], *const segrun_kernels_v1[];
extern void *segrun_kernel_slots[];
extern const long segrun_kernel_count;

int segrun_edge_main(int argc, char **argv);

int main(int argc, char **argv) {
    int has[3], best;
    int chosen = segrun_choose_isa("segrun-edge", has, &best);
    if (chosen < 0) return 1;
    if (argc == 2 && strcmp(argv[1], "--cpu") == 0) {
        printf("kernel paths in this binary: avx512 (%s), avx2 (%s), portable (available)\n",
               has[2] ? "available" : "not on this CPU", has[1] ? "available" : "not on this CPU");
        printf("chosen: %s%s\n", segrun_isa_names[chosen], chosen == best ? "" : " (capped by SEGRUN_ISA)");
        return 0;
    }
    void *const *table = chosen == 2 ? segrun_kernels_v4 : chosen == 1 ? segrun_kernels_v3 : segrun_kernels_v1;
    for (long i = 0; i < segrun_kernel_count; i++) segrun_kernel_slots[i] = table[i];
    return segrun_edge_main(argc, argv);
}
