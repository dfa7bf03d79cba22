// Float32 matrix product of the training step: an AVX-512 register-blocked
// kernel chosen at run time, and cblas_sgemm everywhere else. Float64 never
// comes here: the gradient check keeps cblas_dgemm.
#ifndef FNN_SGEMM_H
#define FNN_SGEMM_H

#include <stddef.h>

// Products with at most this many rows and a transposed B are computed as
// C^T = B A^T, which packs the small A^T (a mini-batch's rows of layer
// input) instead of B^T (the whole weight matrix). `bench/sgemm_shapes`
// measures both on the 784-256-128-10 layers (docs/benchmarks.md).
#define FNN_SGEMM_XT_MAX_ROWS 64

// Computes C [m, n] = op(A) op(B) + beta C, row-major, alpha 1, where op(A)
// is [m, k] and op(B) [k, n]. Nonzero trans_a / trans_b mean that A / B are
// stored transposed. With beta 0, C is never read. When trans_b is set,
// `pack` is scratch for the transposed copy of B (or, for few rows, of A
// and C) and must hold fnn_sgemm_pack_floats(n, k) floats, 64-byte aligned.
// A NULL pack sends that product to cblas_sgemm. Otherwise pack may be
// NULL.
//
// On the AVX-512 path every C value is one fused multiply-add chain over k
// in ascending order, starting from beta C (or 0), whatever m, n and the
// blocking. So results depend only on the operands, never on timing or on
// how rows are split across threads.
// NOTE: the kernel and cblas_sgemm round differently, so a processor
// without AVX-512 trains to other bits than one with it.
void fnn_sgemm(int trans_a, int trans_b, int m, int n, int k,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc, float *pack);

// Returns the floats of fnn_sgemm's scratch buffer `pack` for a transposed
// B, op(B) [k, n], whatever the row count m.
size_t fnn_sgemm_pack_floats(int n, int k);

// Returns the floats of B^T [k, n] packed by fnn_sgemm_pack_bt.
size_t fnn_sgemm_packed_floats(int n, int k);

// Returns 1 when fnn_sgemm runs the AVX-512 kernel, the only path that
// packs B. fnn_sgemm_pack_bt and fnn_sgemm_packed may be used only then.
int fnn_sgemm_uses_kernel(void);

// Writes columns [j_begin, j_end) of the packed copy of op(B) = B^T, B
// stored as [n, k] with rows ldb apart: the buffer fnn_sgemm fills for
// trans_b. j_begin is a multiple of 16, and j_end past n means n. Threads
// may pack disjoint column ranges of one buffer at the same time.
void fnn_sgemm_pack_bt(int n, int k, const float *b, int ldb, int j_begin,
                       int j_end, float *pack);

// Computes fnn_sgemm's trans_b product from a B that fnn_sgemm_pack_bt
// packed whole. It runs the same chains, so it gives the same bits.
void fnn_sgemm_packed(int trans_a, int m, int n, int k, const float *a,
                      int lda, const float *pack, float beta, float *c,
                      int ldc);

// Selects the path: 1 uses the AVX-512 kernel where the processor has it,
// 0 forces cblas_sgemm (for tests). Returns 1 when the kernel is in use.
int fnn_sgemm_use_avx512(int enable);

#endif
