// Host/device portability for the per-element optimizer math: the
// BLOCKSCOPE_HD and BLOCKSCOPE_HD_INLINE qualifiers, bit casts and fp32 products that never fuse.
//
// The CPU reference loops and the CUDA kernels call the same inline functions
// (docs/style.md 2). For both to produce the same bits, every product that feeds an
// addition, and every product a function returns, goes through mul_rn: nvcc
// contracts a*b + c into one FMA by default (--fmad=true) while the host build
// does not (ISO C++ mode, -ffp-contract=off), and __fmul_rn is never contracted.
// Callers' own arithmetic is theirs to keep contraction-free. Division and sqrtf are IEEE-rounded on the
// device unless fast-math is on, which blockscope never enables.
// Not here: memory movement, reductions, anything that needs <cuda_fp16.h>.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define BLOCKSCOPE_HD __host__ __device__
#define BLOCKSCOPE_HD_INLINE __host__ __device__ __forceinline__
#else
#define BLOCKSCOPE_HD
// Force-inlined on the host so the CPU loops' ISA clones (cpu/step.cpp)
// compile the callee into each clone.
#define BLOCKSCOPE_HD_INLINE inline __attribute__((always_inline))
#endif

namespace blockscope::optimizers::math {

// fp32 <-> its IEEE-754 bit pattern.
BLOCKSCOPE_HD inline std::uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  return u;
#endif
}

BLOCKSCOPE_HD inline float bits_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof(x));
  return x;
#endif
}

// a * b rounded to fp32 on its own, never fused with a following addition.
BLOCKSCOPE_HD inline float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

// floor(x) as an integer for finite |x| < 2^31: truncation, then one step
// down for negative non-integers. Same value as (int)floorf(x), but with no libm call,
// so CPU loops vectorise on plain SSE2.
BLOCKSCOPE_HD inline std::int32_t floor_to_int(float x) {
  const std::int32_t truncated = static_cast<std::int32_t>(x);
  return static_cast<float>(truncated) > x ? truncated - 1 : truncated;
}

}  // namespace blockscope::optimizers::math
