// Throughput of the multiply instructions the int8 and fp32 kernels are built on, on this CPU: 12
// independent accumulator chains each, so latency hides and only issue rate counts.
//   gcc -O2 -mavx2 -mfma Benchmarks/isa/int8-throughput.c -o /tmp/tp && /tmp/tp
// On the Zen 3 of BENCHMARKS.md, vpmaddwd and vpmaddubsw issue once per cycle, vfmadd231ps twice: a
// vpmaddwd (16 int16 products) therefore does the same work per cycle as an fp32 FMA (2 x 8 products).
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(void) {
    const long n = 200000000 / 12;
    __m256i b = _mm256_set1_epi16(3), c = _mm256_set1_epi16(5);
    __m256i a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_epi32(i);
    double t0 = now();
    for (long i = 0; i < n; i++) {
#define W(k) a[k] = _mm256_add_epi32(a[k], _mm256_madd_epi16(b, c));
        W(0) W(1) W(2) W(3) W(4) W(5) W(6) W(7) W(8) W(9) W(10) W(11)
        __asm__ volatile("" : "+x"(b), "+x"(c));
    }
    double t = now() - t0;
    __m256i s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_epi32(s, a[i]);
    printf("vpmaddwd   %.2f G instructions/s (%d)\n", n * 12 / t / 1e9, _mm256_extract_epi32(s, 0));

    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_epi16(i);
    t0 = now();
    for (long i = 0; i < n; i++) {
#define U(k) a[k] = _mm256_add_epi16(a[k], _mm256_maddubs_epi16(b, c));
        U(0) U(1) U(2) U(3) U(4) U(5) U(6) U(7) U(8) U(9) U(10) U(11)
        __asm__ volatile("" : "+x"(b), "+x"(c));
    }
    t = now() - t0;
    s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_epi16(s, a[i]);
    printf("vpmaddubsw %.2f G instructions/s (%d)\n", n * 12 / t / 1e9, _mm256_extract_epi32(s, 0));

    __m256 x = _mm256_set1_ps(1.0001f), y = _mm256_set1_ps(0.9999f), f[12];
    for (int i = 0; i < 12; i++) f[i] = _mm256_set1_ps((float)i);
    t0 = now();
    for (long i = 0; i < n; i++) {
#define F(k) f[k] = _mm256_fmadd_ps(x, y, f[k]);
        F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
        __asm__ volatile("" : "+x"(x), "+x"(y));
    }
    t = now() - t0;
    __m256 g = f[0];
    for (int i = 1; i < 12; i++) g = _mm256_add_ps(g, f[i]);
    printf("vfmadd231ps %.2f G instructions/s (%f)\n", n * 12 / t / 1e9, g[0]);
    return 0;
}
