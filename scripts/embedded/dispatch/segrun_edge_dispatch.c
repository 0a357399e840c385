// The x86-64 segrun-edge holds the whole runtime three times, compiled for x86-64-v4 (AVX-512), x86-64-v3
// (AVX2 + FMA) and baseline x86-64 (SSE2; fused multiply-adds through libm's correctly rounded fmaf, so
// its results are the same bits, only slower). Swift has no per-function target attributes, so the copies
// are whole modules whose symbols scripts/build-edge suffixes with _v4, _v3 and _v1. This is the C main
// that picks one at start from the CPU's features (__builtin_cpu_supports checks CPUID and that the OS
// saves the vector registers). SEGRUN_ISA=avx512|avx2|portable caps the choice, for tests and for users
// who want a slower, more conservative path; it cannot raise it above what the CPU has.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int segrun_edge_main_v4(int argc, char **argv);
int segrun_edge_main_v3(int argc, char **argv);
int segrun_edge_main_v1(int argc, char **argv);

static const char *names[] = {"portable", "avx2", "avx512"};

int main(int argc, char **argv) {
    __builtin_cpu_init();
    int has[3] = {1, 0, 0};
    has[1] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    has[2] = has[1] && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd");
    int best = has[2] ? 2 : has[1] ? 1 : 0;
    int chosen = best;
    const char *cap = getenv("SEGRUN_ISA");
    if (cap && *cap) {
        int wanted = -1;
        for (int i = 0; i < 3; i++) if (strcmp(cap, names[i]) == 0) wanted = i;
        if (wanted < 0) {
            fprintf(stderr, "segrun-edge: SEGRUN_ISA=%s: expected avx512, avx2 or portable\n", cap);
            return 1;
        }
        if (!has[wanted]) {
            fprintf(stderr, "segrun-edge: SEGRUN_ISA=%s: this CPU has no %s (best path here: %s)\n", cap, cap, names[best]);
            return 1;
        }
        chosen = wanted;
    }
    if (argc == 2 && strcmp(argv[1], "--cpu") == 0) {
        printf("kernel paths in this binary: avx512 (%s), avx2 (%s), portable (available)\n",
               has[2] ? "available" : "not on this CPU", has[1] ? "available" : "not on this CPU");
        printf("chosen: %s%s\n", names[chosen], chosen == best ? "" : " (capped by SEGRUN_ISA)");
        return 0;
    }
    switch (chosen) {
    case 2: return segrun_edge_main_v4(argc, argv);
    case 1: return segrun_edge_main_v3(argc, argv);
    default: return segrun_edge_main_v1(argc, argv);
    }
}
