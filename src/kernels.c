// Float32 element-wise kernels: a portable loop and an AVX-512 loop for
// each, selected at run time through __builtin_cpu_supports. The AVX-512
// functions are compiled for that target alone, so the library still runs
// on any x86-64 (and builds on other processors, where only the portable
// path exists).
#include "kernels.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define FNN_HAVE_AVX512 1
#include <immintrin.h>
#endif

// -1: not yet decided, 0: portable, 1: AVX-512. Atomic because the first
// kernel call may come from several pool threads at once, and each computes
// the same value.
static atomic_int avx512_state = -1;

int fnn_kernels_use_avx512(int enable) {
#ifdef FNN_HAVE_AVX512
    __builtin_cpu_init();
    avx512_state = enable && __builtin_cpu_supports("avx512f");
#else
    (void)enable;
    avx512_state = 0;
#endif
    return avx512_state;
}

static int use_avx512(void) {
    if (avx512_state < 0) {
        fnn_kernels_use_avx512(1);
    }
    return avx512_state;
}

static void adam_scalar(float *p, float *m, float *v, const float *g,
                        int64_t i, int64_t n, const fnn_adam_consts *c) {
    for (; i < n; i++) {
        float gi = g[i];
        m[i] = c->b1 * m[i] + c->a1 * gi;
        v[i] = c->b2 * v[i] + c->a2 * gi * gi;
        p[i] -= c->rate * m[i] / (sqrtf(v[i]) + c->eps);
    }
}

static void momentum_scalar(float *p, float *v, const float *g, int64_t i,
                            int64_t n, float mu, float rate) {
    for (; i < n; i++) {
        v[i] = mu * v[i] + g[i];
        p[i] -= rate * v[i];
    }
}

#ifdef FNN_HAVE_AVX512
#define AVX512 __attribute__((target("avx512f")))

AVX512 static int64_t adam_avx512(float *p, float *m, float *v,
                                  const float *g, int64_t n,
                                  const fnn_adam_consts *c) {
    __m512 b1 = _mm512_set1_ps(c->b1), a1 = _mm512_set1_ps(c->a1);
    __m512 b2 = _mm512_set1_ps(c->b2), a2 = _mm512_set1_ps(c->a2);
    __m512 rate = _mm512_set1_ps(c->rate), eps = _mm512_set1_ps(c->eps);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 gi = _mm512_loadu_ps(g + i);
        __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)),
                                  _mm512_mul_ps(a1, gi));
        __m512 vi = _mm512_add_ps(
            _mm512_mul_ps(b2, _mm512_loadu_ps(v + i)),
            _mm512_mul_ps(_mm512_mul_ps(a2, gi), gi));
        __m512 step = _mm512_div_ps(_mm512_mul_ps(rate, mi),
                                    _mm512_add_ps(_mm512_sqrt_ps(vi), eps));
        _mm512_storeu_ps(m + i, mi);
        _mm512_storeu_ps(v + i, vi);
        _mm512_storeu_ps(p + i, _mm512_sub_ps(_mm512_loadu_ps(p + i), step));
    }
    return i;
}

AVX512 static int64_t momentum_avx512(float *p, float *v, const float *g,
                                      int64_t n, float mu, float rate) {
    __m512 mu16 = _mm512_set1_ps(mu), rate16 = _mm512_set1_ps(rate);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(mu16, _mm512_loadu_ps(v + i)),
                                  _mm512_loadu_ps(g + i));
        _mm512_storeu_ps(v + i, vi);
        _mm512_storeu_ps(p + i, _mm512_sub_ps(_mm512_loadu_ps(p + i),
                                              _mm512_mul_ps(rate16, vi)));
    }
    return i;
}

// The largest |x| bit pattern of the first i values, 16 at a time. A float
// is infinite or NaN exactly when |x|'s bits are 0x7f800000 or more.
AVX512 static int64_t max_abs_bits_avx512(const float *x, int64_t n,
                                          uint32_t *worst) {
    __m512i mask = _mm512_set1_epi32(0x7fffffff);
    __m512i acc = _mm512_setzero_si512();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i bits = _mm512_loadu_si512((const void *)(x + i));
        acc = _mm512_max_epu32(acc, _mm512_and_si512(bits, mask));
    }
    *worst = (uint32_t)_mm512_reduce_max_epu32(acc);
    return i;
}

AVX512 static int64_t relu_avx512(const float *z, float *a, int64_t n) {
    __m512 zero = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 zi = _mm512_loadu_ps(z + i);
        // Not (z <= 0), which is true for NaN: NaN passes through.
        __mmask16 keep = _mm512_cmp_ps_mask(zi, zero, _CMP_NLE_UQ);
        _mm512_storeu_ps(a + i, _mm512_maskz_mov_ps(keep, zi));
    }
    return i;
}

AVX512 static int64_t relu_backward_avx512(const float *z, const float *da,
                                           float *dz, int64_t n) {
    __m512 zero = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __mmask16 keep = _mm512_cmp_ps_mask(_mm512_loadu_ps(z + i), zero,
                                            _CMP_NLE_UQ);
        _mm512_storeu_ps(dz + i, _mm512_maskz_loadu_ps(keep, da + i));
    }
    return i;
}

// Features [0, n rounded down to 16) of a normalized row: each 16 inputs
// widened to two vectors of 8 doubles, centered, scaled and narrowed.
AVX512 static inline __m512 normalize16(__m512d lo, __m512d hi,
                                        const double *mean, const double *std,
                                        int j) {
    lo = _mm512_div_pd(_mm512_sub_pd(lo, _mm512_loadu_pd(mean + j)),
                       _mm512_loadu_pd(std + j));
    hi = _mm512_div_pd(_mm512_sub_pd(hi, _mm512_loadu_pd(mean + j + 8)),
                       _mm512_loadu_pd(std + j + 8));
    __m256 flo = _mm512_cvtpd_ps(lo), fhi = _mm512_cvtpd_ps(hi);
    __m512d both = _mm512_insertf64x4(
        _mm512_castpd256_pd512(_mm256_castps_pd(flo)), _mm256_castps_pd(fhi),
        1);
    return _mm512_castpd_ps(both);
}

AVX512 static int normalize_u8_avx512(const uint8_t *src, const double *mean,
                                      const double *std, float *dst, int n) {
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512i i32 = _mm512_cvtepu8_epi32(
            _mm_loadu_si128((const __m128i *)(const void *)(src + j)));
        __m512d lo = _mm512_cvtepi32_pd(_mm512_castsi512_si256(i32));
        __m512d hi = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(i32, 1));
        _mm512_storeu_ps(dst + j, normalize16(lo, hi, mean, std, j));
    }
    return j;
}

AVX512 static int normalize_f32_avx512(const float *src, const double *mean,
                                       const double *std, float *dst, int n) {
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512d lo = _mm512_cvtps_pd(_mm256_loadu_ps(src + j));
        __m512d hi = _mm512_cvtps_pd(_mm256_loadu_ps(src + j + 8));
        _mm512_storeu_ps(dst + j, normalize16(lo, hi, mean, std, j));
    }
    return j;
}

// Columns [0, cols rounded down to 16) of the column sum.
AVX512 static int col_sum_avx512(const float *dz, int rows, int cols,
                                 float *db) {
    int j = 0;
    for (; j + 16 <= cols; j += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (int i = 0; i < rows; i++) {
            acc = _mm512_add_ps(acc,
                                _mm512_loadu_ps(dz + (int64_t)i * cols + j));
        }
        _mm512_storeu_ps(db + j, acc);
    }
    return j;
}
#endif

void fnn_adam_f32(float *p, float *m, float *v, const float *g, int64_t n,
                  const fnn_adam_consts *c) {
    int64_t i = 0;
#ifdef FNN_HAVE_AVX512
    if (use_avx512()) {
        i = adam_avx512(p, m, v, g, n, c);
    }
#endif
    adam_scalar(p, m, v, g, i, n, c);
}

void fnn_momentum_f32(float *p, float *v, const float *g, int64_t n,
                      float mu, float rate) {
    int64_t i = 0;
#ifdef FNN_HAVE_AVX512
    if (use_avx512()) {
        i = momentum_avx512(p, v, g, n, mu, rate);
    }
#endif
    momentum_scalar(p, v, g, i, n, mu, rate);
}

int fnn_all_finite_f32(const float *x, int64_t n) {
    uint32_t worst = 0;
    int64_t i = 0;
#ifdef FNN_HAVE_AVX512
    if (use_avx512()) {
        i = max_abs_bits_avx512(x, n, &worst);
    }
#endif
    for (; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        bits &= 0x7fffffffu;
        worst = bits > worst ? bits : worst;
    }
    return worst < 0x7f800000u;
}

void fnn_relu_f32(const float *z, float *a, int64_t n) {
    int64_t i = 0;
#ifdef FNN_HAVE_AVX512
    if (use_avx512()) {
        i = relu_avx512(z, a, n);
    }
#endif
    for (; i < n; i++) {
        a[i] = z[i] <= 0 ? 0 : z[i];
    }
}

void fnn_relu_backward_f32(const float *z, const float *da, float *dz,
                           int64_t n) {
    int64_t i = 0;
#ifdef FNN_HAVE_AVX512
    if (use_avx512()) {
        i = relu_backward_avx512(z, da, dz, n);
    }
#endif
    for (; i < n; i++) {
        dz[i] = z[i] <= 0 ? 0 : da[i];
    }
}

void fnn_normalize_u8_f32(const uint8_t *src, const double *mean,
                          const double *std, float *dst, int n) {
    int j = 0;
#ifdef FNN_HAVE_AVX512
    if (use_avx512()) {
        j = normalize_u8_avx512(src, mean, std, dst, n);
    }
#endif
    for (; j < n; j++) {
        dst[j] = (float)(((double)src[j] - mean[j]) / std[j]);
    }
}

void fnn_normalize_f32_f32(const float *src, const double *mean,
                           const double *std, float *dst, int n) {
    int j = 0;
#ifdef FNN_HAVE_AVX512
    if (use_avx512()) {
        j = normalize_f32_avx512(src, mean, std, dst, n);
    }
#endif
    for (; j < n; j++) {
        dst[j] = (float)(((double)src[j] - mean[j]) / std[j]);
    }
}

void fnn_col_sum_f32(const float *dz, int rows, int cols, float *db) {
    int j0 = 0;
#ifdef FNN_HAVE_AVX512
    if (use_avx512()) {
        j0 = col_sum_avx512(dz, rows, cols, db);
    }
#endif
    for (int j = j0; j < cols; j++) {
        db[j] = 0;
    }
    for (int i = 0; i < rows; i++) {
        const float *row = dz + (int64_t)i * cols;
        for (int j = j0; j < cols; j++) {
            db[j] += row[j];
        }
    }
}
