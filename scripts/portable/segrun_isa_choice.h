// The x86-64 kernel path a multi-path segrun picks at start, shared by the segrun-edge dispatcher
// (scripts/embedded/dispatch) and the portable CLI's launcher (scripts/portable), so both choose alike:
// avx512 where the CPU has AVX-512 F/BW/VL/DQ/CD, else avx2 where it has AVX2 + FMA, else portable.
// The features are read from CPUID, with XGETBV for whether the OS saves the vector registers (what
// __builtin_cpu_supports checks too, but its compiler-rt table of every feature is 4.5 KB of segrun-edge).
// SEGRUN_ISA=avx512|avx2|portable caps the choice (for tests, or a more conservative path); it cannot raise it
// above what the CPU has.
#ifndef SEGRUN_ISA_CHOICE_H
#define SEGRUN_ISA_CHOICE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cpuid.h>

static const char *segrun_isa_names[] = {"portable", "avx2", "avx512"};

/// Fills has[0..2] (portable, avx2, avx512) and *best; returns the chosen index, or -1 after printing a
/// one-line error (prefixed with `program`) for a bad SEGRUN_ISA.
static int segrun_choose_isa(const char *program, int has[3], int *best) {
    has[0] = 1;
    has[1] = has[2] = 0;
    unsigned a, b, c, d;
    // Leaf 1: FMA (ecx bit 12), OSXSAVE (27), AVX (28). XCR0: the OS saves XMM and YMM (bits 1-2), and for
    // AVX-512 the opmask and both halves of the ZMM registers (bits 5-7). Leaf 7: AVX2 (ebx bit 5), AVX-512 F (16),
    // DQ (17), CD (28), BW (30), VL (31).
    if (__get_cpuid(1, &a, &b, &c, &d) && (c >> 12 & 1) && (c >> 27 & 1) && (c >> 28 & 1)) {
        unsigned xcr0, xcr0High;
        __asm__("xgetbv" : "=a"(xcr0), "=d"(xcr0High) : "c"(0));
        if ((xcr0 & 0x6) == 0x6 && __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
            has[1] = b >> 5 & 1;
            unsigned avx512 = 1u << 16 | 1u << 17 | 1u << 28 | 1u << 30 | 1u << 31;
            has[2] = has[1] && (xcr0 & 0xE0) == 0xE0 && (b & avx512) == avx512;
        }
    }
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
