// Float32 matrix product: an AVX-512 kernel that keeps an MR x (16 NV)
// tile of C in zmm registers, and cblas_sgemm as the fallback.
#include "sgemm.h"

#include <cblas.h>
#include <stdatomic.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define FNN_HAVE_AVX512 1
#include <immintrin.h>
#endif

// -1: not yet decided, 0: cblas_sgemm, 1: AVX-512 kernel. Atomic because
// the first product may come from several pool threads at once, and each
// computes the same value.
static atomic_int avx512_state = -1;

int fnn_sgemm_use_avx512(int enable) {
#ifdef FNN_HAVE_AVX512
    __builtin_cpu_init();
    avx512_state = enable && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("fma");
#else
    (void)enable;
    avx512_state = 0;
#endif
    return avx512_state;
}

static int use_avx512(void) {
    if (avx512_state < 0) {
        fnn_sgemm_use_avx512(1);
    }
    return avx512_state;
}

size_t fnn_sgemm_packed_floats(int n, int k) {
    return (size_t)k * (size_t)((n + 15) / 16 * 16);
}

size_t fnn_sgemm_pack_floats(int n, int k) {
    size_t bt = fnn_sgemm_packed_floats(n, k);
    // A^T [k, m] and C^T [n, m] for m up to FNN_SGEMM_XT_MAX_ROWS.
    size_t xt = ((size_t)k + (size_t)n) * FNN_SGEMM_XT_MAX_ROWS;
    return bt > xt ? bt : xt;
}

#ifdef FNN_HAVE_AVX512

#define AVX512 __attribute__((target("avx512f,fma")))
#define TILE_INLINE static inline __attribute__((always_inline)) AVX512

// MR rows by NV 16-float vectors of C per tile: 24 accumulators of the 32
// zmm registers. KC is the depth of one pass over B, so that a KC x (16 NV)
// panel of B (48 KiB) stays in the L1 or L2 cache while the tiles use it.
enum { MR = 8, NV = 3, NR = 16 * NV, KC = 256 };

// One operand view: element (i, p) of op(A) is a[i * rs + p * cs].
typedef struct view {
    const float *a;
    long rs, cs;
} view;

// Adds A tile [mr, kc] times B panel [kc, 16 nv] (rows ldb apart) to the C
// tile [mr, 16 nv], whose last vector is masked by `last`. With load_c 0
// the tile starts from zero and C is only written.
TILE_INLINE void tile(int mr, int nv, __mmask16 last, int kc,
                      const float *a, long rs, long cs, const float *b,
                      long ldb, float *c, long ldc, int load_c) {
    __m512 acc[MR][NV];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? last : 0xffff;
            acc[r][v] = load_c ? _mm512_maskz_loadu_ps(m, c + r * ldc + 16 * v)
                               : _mm512_setzero_ps();
        }
    }
    for (int p = 0; p < kc; p++) {
        __m512 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? last : 0xffff;
            bv[v] = _mm512_maskz_loadu_ps(m, b + p * ldb + 16 * v);
        }
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            __m512 av = _mm512_set1_ps(a[r * rs + p * cs]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) {
                acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? last : 0xffff;
            _mm512_mask_storeu_ps(c + r * ldc + 16 * v, m, acc[r][v]);
        }
    }
}

#define TILE_NV(mr_)                                                         \
    static AVX512 void tile_##mr_(int nv, __mmask16 last, int kc,            \
                                  const float *a, long rs, long cs,          \
                                  const float *b, long ldb, float *c,        \
                                  long ldc, int load_c) {                    \
        if (nv == 3) {                                                       \
            tile(mr_, 3, last, kc, a, rs, cs, b, ldb, c, ldc, load_c);       \
        } else if (nv == 2) {                                                \
            tile(mr_, 2, last, kc, a, rs, cs, b, ldb, c, ldc, load_c);       \
        } else {                                                             \
            tile(mr_, 1, last, kc, a, rs, cs, b, ldb, c, ldc, load_c);       \
        }                                                                    \
    }
TILE_NV(1)
TILE_NV(2)
TILE_NV(3)
TILE_NV(4)
TILE_NV(5)
TILE_NV(6)
TILE_NV(7)
TILE_NV(8)

typedef void (*tile_fn)(int, __mmask16, int, const float *, long, long,
                        const float *, long, float *, long, int);
static const tile_fn tiles[MR + 1] = {
    NULL, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6, tile_7, tile_8,
};

// Transposes the 16 x 16 block src (rows lds apart) into dst (rows ldd
// apart): 64 in-register shuffles in place of 256 scattered loads. dst
// need not be aligned.
static AVX512 void transpose16(const float *src, long lds, float *dst,
                               long ldd) {
    __m512 t[16], u[16];
    for (int r = 0; r < 16; r += 2) {
        __m512 a = _mm512_loadu_ps(src + r * lds);
        __m512 b = _mm512_loadu_ps(src + (r + 1) * lds);
        t[r] = _mm512_unpacklo_ps(a, b);
        t[r + 1] = _mm512_unpackhi_ps(a, b);
    }
    // u[4 g + q] holds, in 128-bit lane L, column 4 L + q of rows 4 g..4 g+3.
    for (int g = 0; g < 16; g += 4) {
        u[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xee);
        u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xee);
    }
    for (int q = 0; q < 4; q++) {
        __m512 v = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x88);
        __m512 w = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xdd);
        __m512 x = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x88);
        __m512 y = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xdd);
        _mm512_storeu_ps(dst + q * ldd, _mm512_shuffle_f32x4(v, x, 0x88));
        _mm512_storeu_ps(dst + (4 + q) * ldd,
                         _mm512_shuffle_f32x4(w, y, 0x88));
        _mm512_storeu_ps(dst + (8 + q) * ldd,
                         _mm512_shuffle_f32x4(v, x, 0xdd));
        _mm512_storeu_ps(dst + (12 + q) * ldd,
                         _mm512_shuffle_f32x4(w, y, 0xdd));
    }
}

// Copies columns [j_begin, j_end) of B^T, B stored as [n, k] with rows ldb
// apart, into pack [k, n rounded up to 16] with zero padding columns.
// j_begin is a multiple of 16. Full 16 x 16 blocks are transposed in
// registers, the rest gathered 16 rows at a time.
static AVX512 void pack_bt(int n, int k, const float *b, int ldb,
                           int j_begin, int j_end, float *pack) {
    long ldp = (n + 15) / 16 * 16;
    __m512i rows = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                          15),
        _mm512_set1_epi32(ldb));
    for (int j0 = j_begin; j0 < j_end; j0 += 16) {
        int w = n - j0 < 16 ? n - j0 : 16;
        __mmask16 m = (__mmask16)((1u << w) - 1);
        const float *src = b + (long)j0 * ldb;
        int p = 0;
        for (; w == 16 && p + 16 <= k; p += 16) {
            transpose16(src + p, ldb, pack + p * ldp + j0, ldp);
        }
        for (; p < k; p++) {
            __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, rows,
                                                src + p, 4);
            _mm512_store_ps(pack + p * ldp + j0, v);
        }
    }
}

// Writes dst [cols, rows] (rows ldd apart) = src [rows, cols] (rows lds
// apart) transposed.
static AVX512 void transpose(int rows, int cols, const float *src, long lds,
                             float *dst, long ldd) {
    int i0 = 0;
    for (; i0 + 16 <= rows; i0 += 16) {
        int j0 = 0;
        for (; j0 + 16 <= cols; j0 += 16) {
            transpose16(src + i0 * lds + j0, lds, dst + j0 * ldd + i0, ldd);
        }
        for (; j0 < cols; j0++) {
            for (int i = i0; i < i0 + 16; i++) {
                dst[j0 * ldd + i] = src[i * lds + j0];
            }
        }
    }
    for (; i0 < rows; i0++) {
        for (int j = 0; j < cols; j++) {
            dst[j * ldd + i0] = src[i0 * lds + j];
        }
    }
}

static AVX512 void gemm_avx512(int m, int n, int k, view a, const float *b,
                               long ldb, float beta, float *c, long ldc) {
    if (beta != 0 && beta != 1) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                c[i * ldc + j] *= beta;
            }
        }
    }
    for (int p0 = 0; p0 < k || p0 == 0; p0 += KC) {
        int kc = k - p0 < KC ? k - p0 : KC;
        int load_c = p0 > 0 || beta != 0;
        for (int j0 = 0; j0 < n; j0 += NR) {
            int w = n - j0 < NR ? n - j0 : NR;
            int nv = (w + 15) / 16;
            int tail = w - 16 * (nv - 1);
            __mmask16 last = (__mmask16)((1u << tail) - 1);
            const float *bp = b + p0 * ldb + j0;
            for (int i0 = 0; i0 < m; i0 += MR) {
                int mr = m - i0 < MR ? m - i0 : MR;
                tiles[mr](nv, last, kc, a.a + i0 * a.rs + p0 * a.cs, a.rs,
                          a.cs, bp, ldb, c + i0 * ldc + j0, ldc, load_c);
            }
        }
        if (k == 0) {
            break;
        }
    }
}

// Computes C [m, n] = A B^T + beta C for m <= FNN_SGEMM_XT_MAX_ROWS, A
// [m, k] and B [n, k] row-major, through C^T = B A^T in `scratch`. Value
// (j, i) of C^T is the chain of fmaf(B[j][p], A[i][p], .) over ascending p
// from beta C[i][j], and fmaf's product does not depend on the order of its
// factors, so C gets the bits of the packed-B^T path.
static AVX512 void gemm_xt(int m, int n, int k, const float *a, long lda,
                           const float *b, long ldb, float beta, float *c,
                           long ldc, float *scratch) {
    long ldx = (m + 15) / 16 * 16;
    float *xt = scratch;                   // A^T [k, ldx]
    float *ct = scratch + (size_t)k * ldx; // C^T [n, ldx]
    pack_bt(m, k, a, (int)lda, 0, m, xt);
    if (beta != 0) {
        transpose(m, n, c, ldc, ct, ldx);
    }
    view bv = {b, ldb, 1};
    gemm_avx512(n, m, k, bv, xt, ldx, beta, ct, ldx);
    transpose(n, m, ct, ldx, c, ldc);
}

#endif

void fnn_sgemm(int trans_a, int trans_b, int m, int n, int k,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc, float *pack) {
#ifdef FNN_HAVE_AVX512
    if (use_avx512() && (!trans_b || pack) && m > 0 && n > 0) {
        if (trans_b && !trans_a && m <= FNN_SGEMM_XT_MAX_ROWS) {
            gemm_xt(m, n, k, a, lda, b, ldb, beta, c, ldc, pack);
            return;
        }
        view av = {a, trans_a ? 1 : lda, trans_a ? lda : 1};
        long ldp = ldb;
        if (trans_b) {
            pack_bt(n, k, b, ldb, 0, n, pack);
            b = pack;
            ldp = (n + 15) / 16 * 16;
        }
        gemm_avx512(m, n, k, av, b, ldp, beta, c, ldc);
        return;
    }
#endif
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda,
                b, ldb, beta, c, ldc);
}

int fnn_sgemm_uses_kernel(void) {
    return use_avx512();
}

void fnn_sgemm_pack_bt(int n, int k, const float *b, int ldb, int j_begin,
                       int j_end, float *pack) {
#ifdef FNN_HAVE_AVX512
    if (use_avx512() && n > 0) {
        pack_bt(n, k, b, ldb, j_begin, j_end < n ? j_end : n, pack);
    }
#else
    (void)n, (void)k, (void)b, (void)ldb, (void)j_begin, (void)j_end;
    (void)pack;
#endif
}

void fnn_sgemm_packed(int trans_a, int m, int n, int k, const float *a,
                      int lda, const float *pack, float beta, float *c,
                      int ldc) {
#ifdef FNN_HAVE_AVX512
    if (use_avx512() && m > 0 && n > 0) {
        view av = {a, trans_a ? 1 : lda, trans_a ? lda : 1};
        gemm_avx512(m, n, k, av, pack, (n + 15) / 16 * 16, beta, c, ldc);
    }
#else
    (void)trans_a, (void)m, (void)n, (void)k, (void)a, (void)lda;
    (void)pack, (void)beta, (void)c, (void)ldc;
#endif
}
