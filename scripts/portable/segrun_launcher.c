// `segrun` of the portable x86-64 distribution (scripts/build-portable): one command for every x86-64 CPU.
//
// The full CLI links Foundation, Dispatch and ArgumentParser dynamically and is built by SwiftPM, which
// compiles each module once per build; Swift has no per-function target attributes. So the distribution
// holds three complete builds beside this launcher, segrun-avx512 (x86-64 with AVX-512, Skylake-X and
// later, Zen 4/5), segrun-avx2 (AVX2 + FMA, Haswell and later, Zen 1-3) and segrun-portable (baseline
// x86-64, SSE2: fused multiply-adds through libm's fmaf, the same bits, much slower), and this launcher
// picks one at start from the CPU's features and execs it. SEGRUN_ISA=avx512|avx2|portable caps the choice
// (for tests, or for a more conservative path); it cannot raise it above what the CPU has. The chosen
// path is passed on in SEGRUN_LAUNCHED_ISA, which `segrun info --cpu` prints.
// (segrun-edge does the same inside one static binary: scripts/build-edge.)
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "segrun_isa_choice.h"

int main(int argc, char **argv) {
    (void)argc;
    int has[3], best;
    int chosen = segrun_choose_isa("segrun", has, &best);
    if (chosen < 0) return 1;
    char self[PATH_MAX], target[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        perror("segrun: cannot find its own path (/proc/self/exe)");
        return 1;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(target, sizeof target, "%s/segrun-%s", self, segrun_isa_names[chosen]);
    char note[128];
    snprintf(note, sizeof note, "%s (of avx512: %s, avx2: %s, portable: yes)%s", segrun_isa_names[chosen], has[2] ? "yes" : "no",
             has[1] ? "yes" : "no", chosen == best ? "" : ", capped by SEGRUN_ISA");
    setenv("SEGRUN_LAUNCHED_ISA", note, 1);
    execv(target, argv);
    fprintf(stderr, "segrun: cannot run %s: ", target);
    perror(NULL);
    return 1;
}
