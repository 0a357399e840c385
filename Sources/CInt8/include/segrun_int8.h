// One-instruction wrappers for the int8 kernels: the accepted exception to "no C" in Kernels.
//
// LLVM does not turn Swift's widening multiplies into `vpmaddwd` (it emits `vpmulld`, a third of
// the speed; see ../shared/PLATFORM.md). Each function here is a single intrinsic on GCC vector
// types, which Swift imports as SIMD types and inlines into the Swift kernels. Tiling, packing,
// loops and requantization all stay in Swift (Sources/Kernels/Int8).
#ifndef SEGRUN_INT8_H
#define SEGRUN_INT8_H

typedef short segrun_i16x16 __attribute__((vector_size(32)));
typedef int segrun_i32x8 __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>

/// vpmaddwd ymm: adjacent int16 pairs multiplied and summed into int32 lanes (exact, cannot saturate).
static inline __attribute__((always_inline)) segrun_i32x8 segrun_madd_i16x16(segrun_i16x16 a, segrun_i16x16 b) {
    return (segrun_i32x8)_mm256_madd_epi16((__m256i)a, (__m256i)b);
}
#elif defined(__aarch64__)
#include <arm_neon.h>

/// The same contract on NEON: smull / smull2 (int16 x int16 -> int32, exact) on each half, then addp sums
/// adjacent products. LLVM turns Swift's widening multiply into sxtl + mul + uzp instead.
static inline __attribute__((always_inline)) segrun_i32x8 segrun_madd_i16x16(segrun_i16x16 a, segrun_i16x16 b) {
    int16x8_t a0 = (int16x8_t)__builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7);
    int16x8_t a1 = (int16x8_t)__builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
    int16x8_t b0 = (int16x8_t)__builtin_shufflevector(b, b, 0, 1, 2, 3, 4, 5, 6, 7);
    int16x8_t b1 = (int16x8_t)__builtin_shufflevector(b, b, 8, 9, 10, 11, 12, 13, 14, 15);
    int32x4_t low = vpaddq_s32(vmull_s16(vget_low_s16(a0), vget_low_s16(b0)), vmull_high_s16(a0, b0));
    int32x4_t high = vpaddq_s32(vmull_s16(vget_low_s16(a1), vget_low_s16(b1)), vmull_high_s16(a1, b1));
    return (segrun_i32x8)__builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7);
}
#endif

#endif
