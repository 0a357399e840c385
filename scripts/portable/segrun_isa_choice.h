// The x86-64 kernel path a multi-path segrun picks at start, shared by the segrun-edge dispatcher
// (scripts/embedded/dispatch) and the portable CLI's launcher (scripts/portable), so both choose alike:
// avx512 where the CPU has AVX-512 F/BW/VL/DQ/CD, else avx2 where it has AVX2 + FMA, else portable.
// __builtin_cpu_supports checks CPUID and that the OS saves the vector registers. SEGRUN_ISA=avx512|avx2|portable
// caps the choice (for tests, or a more conservative path); it cannot raise it above what the CPU has.
#ifndef SEGRUN_ISA_CHOICE_H
#define SEGRUN_ISA_CHOICE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *segrun_isa_names[] = {"portable", "avx2", "avx512"};

/// Fills has[0..2] (portable, avx2, avx512) and *best; returns the chosen index, or -1 after printing a
/// one-line error (prefixed with `program`) for a bad SEGRUN_ISA.
static int segrun_choose_isa(const char *program, int has[3], int *best) {
    __builtin_cpu_init();
    has[0] = 1;
    has[1] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    has[2] = has[1] && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd");
    *best = has[2] ? 2 : has[1] ? 1 : 0;
    const char *cap = getenv("SEGRUN_ISA");
    if (!cap || !*cap) return *best;
    for (int i = 0; i < 3; i++) {
        if (strcmp(cap, segrun_isa_names[i]) != 0) continue;
        if (has[i]) return i;
        fprintf(stderr, "%s: SEGRUN_ISA=%s: this CPU has no %s (best path here: %s)\n", program, cap, cap, segrun_isa_names[*best]);
        return -1;
    }
    fprintf(stderr, "%s: SEGRUN_ISA=%s: expected avx512, avx2 or portable\n", program, cap);
    return -1;
}
#endif
