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
#endif

#endif
