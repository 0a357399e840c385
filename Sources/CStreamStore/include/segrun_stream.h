// One-instruction wrappers for cache hints, the accepted exception to "no C" in Kernels as CInt8's are: Swift
// cannot emit `vmovntps` or `prefetcht0`. A kernel whose output is far larger than the caches writes it with the
// streaming stores, so each line is not first read from memory (write-allocate) and the stores do not evict the
// data the kernel reads; where the instruction does not exist each is a plain store. A kernel that reads data
// once, from memory, asks for it ahead with the prefetch. The kernel logic stays Swift.
#ifndef SEGRUN_STREAM_H
#define SEGRUN_STREAM_H

typedef float segrun_f32x16 __attribute__((vector_size(64)));
typedef float segrun_f32x8 __attribute__((vector_size(32)));

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// vmovntps zmm: 16 floats to `p`, which must be 64-byte aligned.
static inline __attribute__((always_inline)) void segrun_stream_f32x16(float *p, segrun_f32x16 v) {
#if defined(__x86_64__) && defined(__AVX512F__)
    _mm512_stream_ps(p, (__m512)v);
#else
    __builtin_memcpy(p, &v, sizeof v);
#endif
}

/// vmovntps ymm: 8 floats to `p`, which must be 32-byte aligned.
static inline __attribute__((always_inline)) void segrun_stream_f32x8(float *p, segrun_f32x8 v) {
#if defined(__x86_64__) && defined(__AVX__)
    _mm256_stream_ps(p, (__m256)v);
#else
    __builtin_memcpy(p, &v, sizeof v);
#endif
}

/// sfence: streamed stores are ordered like ordinary ones again. A kernel calls it once its streamed output is
/// written, before the thread hands the output over.
static inline __attribute__((always_inline)) void segrun_stream_fence(void) {
#if defined(__x86_64__)
    _mm_sfence();
#endif
}

/// prefetcht0: asks for the cache line holding `p` ahead of its use.
static inline __attribute__((always_inline)) void segrun_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

#endif
