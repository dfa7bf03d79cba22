// Element-wise float32 kernels of the training step, with an AVX-512 path
// chosen at run time and a portable one. Both paths evaluate the same IEEE
// operations in the same order (no fused multiply-add: the build is ISO C,
// so -ffp-contract=off), so they return bit-identical results and a run does
// not depend on which processor it ran on.
#ifndef FNN_KERNELS_H
#define FNN_KERNELS_H

#include <stdint.h>

// Adam with the step's folded constants (see optim_impl.h), over n values:
// m = b1 m + a1 g;  v = b2 v + (a2 g) g;  p -= (rate m) / (sqrt(v) + eps).
typedef struct fnn_adam_consts {
    float b1, a1, b2, a2, rate, eps;
} fnn_adam_consts;

void fnn_adam_f32(float *p, float *m, float *v, const float *g, int64_t n,
                  const fnn_adam_consts *c);
// v = mu v + g;  p -= rate v.
void fnn_momentum_f32(float *p, float *v, const float *g, int64_t n,
                      float mu, float rate);
// a = z <= 0 ? 0 : z over n values: +0 for z <= 0 (-0 included), and NaN
// stays NaN, as in PyTorch's relu, so a non-finite value reaches the loss.
void fnn_relu_f32(const float *z, float *a, int64_t n);
// dz = z <= 0 ? 0 : da over n values (da passes for NaN z, as in PyTorch).
void fnn_relu_backward_f32(const float *z, const float *da, float *dz,
                           int64_t n);
// db[j] = sum over rows i of dz[i, j], summed in row order, dz [rows, cols].
void fnn_col_sum_f32(const float *dz, int rows, int cols, float *db);

// dst[j] = (float)(((double)src[j] - mean[j]) / std[j]) over n features:
// one row of input normalized in double and rounded once to float32.
void fnn_normalize_u8_f32(const uint8_t *src, const double *mean,
                          const double *std, float *dst, int n);
void fnn_normalize_f32_f32(const float *src, const double *mean,
                           const double *std, float *dst, int n);

// Returns 1 when none of the n values is infinite or NaN.
int fnn_all_finite_f32(const float *x, int64_t n);

// Selects the path: 1 uses AVX-512 where the processor has it, 0 forces the
// portable path (for tests). Returns 1 when the AVX-512 path is in use.
int fnn_kernels_use_avx512(int enable);

#endif
