// The x86-64 segrun-edge holds the whole runtime three times, compiled for x86-64-v4 (AVX-512), x86-64-v3
// (AVX2 + FMA) and baseline x86-64 (SSE2; fused multiply-adds through libm's correctly rounded fmaf, so
// its results are the same bits, only slower). Swift has no per-function target attributes, so the copies
// are whole modules whose symbols scripts/build-edge suffixes with _v4, _v3 and _v1. This is the C main
// that picks one at start (the rule, and the SEGRUN_ISA cap, in scripts/portable/segrun_isa_choice.h).
#include <stdio.h>
#include <string.h>
#include "../../portable/segrun_isa_choice.h"

int segrun_edge_main_v4(int argc, char **argv);
int segrun_edge_main_v3(int argc, char **argv);
int segrun_edge_main_v1(int argc, char **argv);

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
    switch (chosen) {
    case 2: return segrun_edge_main_v4(argc, argv);
    case 1: return segrun_edge_main_v3(argc, argv);
    default: return segrun_edge_main_v1(argc, argv);
    }
}
