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

#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__)
typedef signed char segrun_i8x32 __attribute__((vector_size(32)));

/// vpdpbusd ymm (AVX512-VNNI with VL, or AVX-VNNI): every Int32 lane of `acc` gains the sum of the four
/// products of its 4-byte group, `a`'s bytes read as unsigned, `b`'s as signed (exact, no saturation: four
/// u8 x s8 products fit in 18 bits and the add wraps like `&+`). The build's target CPU must have it (the
/// manifest defines SEGRUN_VNNI only then); `SEGRUN_VNNI=0` in the environment turns the path off at start.
static inline __attribute__((always_inline)) segrun_i32x8 segrun_dpbusd_i8x32(segrun_i32x8 acc, segrun_i8x32 a, segrun_i8x32 b) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return (segrun_i32x8)_mm256_dpbusd_epi32((__m256i)acc, (__m256i)a, (__m256i)b);
#else
    return (segrun_i32x8)_mm256_dpbusd_avx_epi32((__m256i)acc, (__m256i)a, (__m256i)b);
#endif
}

/// vpdpwssd ymm (AVX512-VNNI with VL, or AVX-VNNI): every Int32 lane of `acc` gains the sum of its two int16
/// products (`vpmaddwd` and `vpaddd` in one instruction; exact, wrapping like `&+`, no saturation).
static inline __attribute__((always_inline)) segrun_i32x8 segrun_dpwssd_i16x16(segrun_i32x8 acc, segrun_i16x16 a, segrun_i16x16 b) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return (segrun_i32x8)_mm256_dpwssd_epi32((__m256i)acc, (__m256i)a, (__m256i)b);
#else
    return (segrun_i32x8)_mm256_dpwssd_avx_epi32((__m256i)acc, (__m256i)a, (__m256i)b);
#endif
}

#if defined(__AVX512VNNI__) && defined(__AVX512F__)
typedef int segrun_i32x16 __attribute__((vector_size(64)));
typedef signed char segrun_i8x64 __attribute__((vector_size(64)));
typedef short segrun_i16x32 __attribute__((vector_size(64)));

/// vpdpwssd zmm (AVX512-VNNI): the same on 16 Int32 lanes.
static inline __attribute__((always_inline)) segrun_i32x16 segrun_dpwssd_i16x32(segrun_i32x16 acc, segrun_i16x32 a, segrun_i16x32 b) {
    return (segrun_i32x16)_mm512_dpwssd_epi32((__m512i)acc, (__m512i)a, (__m512i)b);
}

/// vpdpbusd zmm (AVX512-VNNI): the same on 16 Int32 lanes.
static inline __attribute__((always_inline)) segrun_i32x16 segrun_dpbusd_i8x64(segrun_i32x16 acc, segrun_i8x64 a, segrun_i8x64 b) {
    return (segrun_i32x16)_mm512_dpbusd_epi32((__m512i)acc, (__m512i)a, (__m512i)b);
}
#endif

char *getenv(const char *name);

/// Whether the VNNI path is on: always in a build for a CPU with VNNI, unless `SEGRUN_VNNI=0`.
static inline int segrun_vnni_enabled(void) {
    const char *force = getenv("SEGRUN_VNNI");
    return !(force && force[0] == '0');
}
#endif
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

typedef signed char segrun_i8x32 __attribute__((vector_size(32)));

/// sdot (Armv8.2 dot product, `FEAT_DotProd`) on each 128-bit half: every Int32 lane of `acc` gains the sum of
/// the four int8 x int8 products of its 4-byte group (exact). The instruction is emitted through inline
/// assembly with `.arch_extension dotprod`, so the kernels build for plain Armv8-A and run it only where
/// `segrun_cpu_has_dotprod()` says the CPU has it.
static inline __attribute__((always_inline)) segrun_i32x8 segrun_sdot_i8x32(segrun_i32x8 acc, segrun_i8x32 a, segrun_i8x32 b) {
    int32x4_t low = (int32x4_t)__builtin_shufflevector(acc, acc, 0, 1, 2, 3);
    int32x4_t high = (int32x4_t)__builtin_shufflevector(acc, acc, 4, 5, 6, 7);
    int8x16_t a0 = (int8x16_t)__builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int8x16_t a1 = (int8x16_t)__builtin_shufflevector(a, a, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
    int8x16_t b0 = (int8x16_t)__builtin_shufflevector(b, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int8x16_t b1 = (int8x16_t)__builtin_shufflevector(b, b, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
    __asm__(".arch_extension dotprod\n\tsdot %0.4s, %1.16b, %2.16b" : "+w"(low) : "w"(a0), "w"(b0));
    __asm__(".arch_extension dotprod\n\tsdot %0.4s, %1.16b, %2.16b" : "+w"(high) : "w"(a1), "w"(b1));
    return (segrun_i32x8)__builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7);
}

unsigned long getauxval(unsigned long type);
char *getenv(const char *name);

/// Whether this CPU has the dot-product instructions: `getauxval(AT_HWCAP) & HWCAP_ASIMDDP` (AT_HWCAP is 16,
/// HWCAP_ASIMDDP bit 20 on Linux/aarch64). `SEGRUN_DOTPROD=0` in the environment turns the path off (for tests
/// of the fallback on machines that have it).
static inline int segrun_cpu_has_dotprod(void) {
    const char *force = getenv("SEGRUN_DOTPROD");
    if (force && force[0] == '0') return 0;
    return (int)((getauxval(16) >> 20) & 1);
}
#endif

#endif
