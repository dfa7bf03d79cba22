// fnn_sgemm against cblas_sgemm on every product of training the
// 784-256-128-10 network and on edge sizes; on the AVX-512 path, against a
// scalar fmaf chain over k in ascending order, which must give the same bits.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sgemm.h"
#include "fastnn.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct product {
    int trans_a, trans_b, m, n, k;
    float beta;
} product;

typedef struct operands {
    int lda, ldb, ldc;
    float *a, *b, *c0, *pack;
    float max_a, max_b, max_c;
} operands;

static float fill(fnn_rng *rng, float *x, size_t n) {
    float max = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(2 * fnn_rng_uniform(rng) - 1);
        max = fabsf(x[i]) > max ? fabsf(x[i]) : max;
    }
    return max;
}

// Random operands for p, row-major with the tightest leading dimensions
// plus `pad`.
static operands make_operands(const product *p, int pad, uint64_t seed) {
    fnn_rng rng;
    fnn_rng_seed(&rng, seed);
    operands o;
    int rows_a = p->trans_a ? p->k : p->m, cols_a = p->trans_a ? p->m : p->k;
    int rows_b = p->trans_b ? p->n : p->k, cols_b = p->trans_b ? p->k : p->n;
    o.lda = cols_a + pad;
    o.ldb = cols_b + pad;
    o.ldc = p->n + pad;
    size_t na = (size_t)rows_a * o.lda, nb = (size_t)rows_b * o.ldb;
    size_t nc = (size_t)p->m * o.ldc;
    o.a = malloc(na * sizeof(float));
    o.b = malloc(nb * sizeof(float));
    o.c0 = malloc(nc * sizeof(float));
    size_t np = fnn_sgemm_pack_floats(p->n, p->k);
    o.pack = aligned_alloc(64, (np * sizeof(float) + 63) / 64 * 64);
    assert_non_null(o.a);
    assert_non_null(o.b);
    assert_non_null(o.c0);
    assert_non_null(o.pack);
    o.max_a = fill(&rng, o.a, na);
    o.max_b = fill(&rng, o.b, nb);
    o.max_c = fill(&rng, o.c0, nc);
    return o;
}

static void free_operands(operands *o) {
    free(o->a);
    free(o->b);
    free(o->c0);
    free(o->pack);
}

// fnn_sgemm into a copy of c0; beta 0 gets NaN in C, which must not be read.
static float *run(const product *p, const operands *o) {
    size_t nc = (size_t)p->m * o->ldc;
    float *c = malloc(nc * sizeof(float));
    assert_non_null(c);
    for (size_t i = 0; i < nc; i++) {
        c[i] = p->beta == 0 ? NAN : o->c0[i];
    }
    fnn_sgemm(p->trans_a, p->trans_b, p->m, p->n, p->k, o->a, o->lda, o->b,
              o->ldb, p->beta, c, o->ldc, o->pack);
    return c;
}

static float *reference(const product *p, const operands *o) {
    size_t nc = (size_t)p->m * o->ldc;
    float *c = malloc(nc * sizeof(float));
    assert_non_null(c);
    memcpy(c, o->c0, nc * sizeof(float));
    cblas_sgemm(CblasRowMajor, p->trans_a ? CblasTrans : CblasNoTrans,
                p->trans_b ? CblasTrans : CblasNoTrans, p->m, p->n, p->k, 1,
                o->a, o->lda, o->b, o->ldb, p->beta, c, o->ldc);
    return c;
}

static float at_a(const product *p, const operands *o, int i, int q) {
    return p->trans_a ? o->a[(size_t)q * o->lda + i]
                      : o->a[(size_t)i * o->lda + q];
}

static float at_b(const product *p, const operands *o, int q, int j) {
    return p->trans_b ? o->b[(size_t)j * o->ldb + q]
                      : o->b[(size_t)q * o->ldb + j];
}

// Checks p against cblas_sgemm within 1e-5 k max|a| max|b| (+ |beta C|),
// and, when `exact`, against the fmaf chain bit for bit.
static void check(const product *p, int pad, int exact) {
    operands o = make_operands(p, pad, 1000 + p->m * 31 + p->n * 7 + p->k);
    float *got = run(p, &o);
    float *want = reference(p, &o);
    double tol = 1e-5 * ((double)p->k * o.max_a * o.max_b + o.max_c);
    for (int i = 0; i < p->m; i++) {
        for (int j = 0; j < p->n; j++) {
            size_t at = (size_t)i * o.ldc + j;
            assert_true(fabs((double)got[at] - want[at]) <= tol);
            if (!exact) {
                continue;
            }
            float acc = p->beta == 0 ? 0 : p->beta * o.c0[at];
            for (int q = 0; q < p->k; q++) {
                acc = fmaf(at_a(p, &o, i, q), at_b(p, &o, q, j), acc);
            }
            assert_memory_equal(&got[at], &acc, sizeof acc);
        }
    }
    free(got);
    free(want);
    free_operands(&o);
}

static void check_cases(int m, int n, int k, int pad, int exact) {
    for (int t = 0; t < 3; t++) {
        for (int beta = 0; beta <= 1; beta++) {
            // The three products of training: forward (N, T), dW (T, N),
            // da (N, N).
            product p = {t == 1, t == 0, m, n, k, (float)beta};
            check(&p, pad, exact);
        }
    }
}

static void training_shapes_match_cblas(void **state) {
    (void)state;
    static const int sizes[] = {784, 256, 128, 10};
    static const int batches[] = {16, 32, 64, 128, 512, 1024};
    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
        for (int l = 0; l < 3; l++) {
            int bt = batches[b], n_in = sizes[l], n_out = sizes[l + 1];
            product fwd = {0, 1, bt, n_out, n_in, 1};
            product dw0 = {1, 0, n_out, n_in, bt, 0};
            product dw1 = {1, 0, n_out, n_in, bt, 1};
            product da = {0, 0, bt, n_in, n_out, 0};
            check(&fwd, 0, 0);
            check(&dw0, 0, 0);
            check(&dw1, 0, 0);
            check(&da, 0, 0);
        }
    }
}

static void edge_sizes_match_fma_chain(void **state) {
    (void)state;
    int exact = fnn_sgemm_use_avx512(1);
    static const int mn[] = {1, 7, 17, 33, 255};
    static const int ks[] = {1, 17, 784};
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 5; j++) {
            for (int q = 0; q < 3; q++) {
                check_cases(mn[i], mn[j], ks[q], 0, exact);
            }
        }
    }
    // Leading dimensions wider than the rows.
    check_cases(33, 17, 40, 5, exact);
}

// Training splits a batch into row blocks, one per thread: the rows of a
// product must not depend on which block computed them, nor on the call.
static void rows_bit_identical_across_splits_and_calls(void **state) {
    (void)state;
    product p = {0, 1, 128, 256, 784, 1};
    operands o = make_operands(&p, 0, 5);
    float *whole = run(&p, &o);
    float *again = run(&p, &o);
    assert_memory_equal(whole, again, (size_t)128 * 256 * sizeof(float));
    product half = p;
    half.m = 61;
    float *top = run(&half, &o);
    operands lower = o;
    lower.a = o.a + (size_t)61 * o.lda;
    lower.c0 = o.c0 + (size_t)61 * o.ldc;
    half.m = 128 - 61;
    float *bottom = run(&half, &lower);
    assert_memory_equal(whole, top, (size_t)61 * 256 * sizeof(float));
    assert_memory_equal(whole + 61 * 256, bottom,
                        (size_t)67 * 256 * sizeof(float));
    free(whole);
    free(again);
    free(top);
    free(bottom);
    free_operands(&o);
}

// The multi-threaded pass packs W^T once, in 16-column strips claimed by
// the threads in any order, and each row block multiplies by that shared
// copy: the product must have the bits of fnn_sgemm packing for itself.
// 250 columns end in a partial strip; k = 37 ends in a partial 16 x 16 block.
static void prepacked_strips_bit_identical(void **state) {
    (void)state;
    if (!fnn_sgemm_uses_kernel()) {
        skip();
    }
    const int shapes[][3] = {{64, 250, 37}, {16, 10, 128}, {7, 256, 784}};
    for (int s = 0; s < 3; s++) {
        product p = {0, 1, shapes[s][0], shapes[s][1], shapes[s][2], 1};
        operands o = make_operands(&p, 3, 21 + (uint64_t)s);
        float *want = run(&p, &o);
        size_t np = fnn_sgemm_pack_floats(p.n, p.k);
        float *shared = aligned_alloc(64, np * sizeof(float));
        assert_non_null(shared);
        int strips = (p.n + 15) / 16;
        for (int j = strips - 1; j >= 0; j--) {
            fnn_sgemm_pack_bt(p.n, p.k, o.b, o.ldb, 16 * j, 16 * j + 16,
                              shared);
        }
        size_t nc = (size_t)p.m * o.ldc;
        float *got = malloc(nc * sizeof(float));
        assert_non_null(got);
        memcpy(got, o.c0, nc * sizeof(float));
        fnn_sgemm_packed(0, p.m, p.n, p.k, o.a, o.lda, shared, 1, got,
                         o.ldc);
        assert_memory_equal(got, want, nc * sizeof(float));
        free(got);
        free(shared);
        free(want);
        free_operands(&o);
    }
}

// On a processor with AVX-512 the kernel must be the path in use, and the
// cblas_sgemm fallback must still satisfy the same checks.
static void kernel_selected_and_fallback_works(void **state) {
    (void)state;
    int want = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    want = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#endif
    assert_int_equal(fnn_sgemm_use_avx512(1), want);
    assert_int_equal(fnn_sgemm_use_avx512(0), 0);
    check_cases(33, 255, 17, 0, 0);
    check_cases(128, 10, 128, 0, 0);
    fnn_sgemm_use_avx512(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(training_shapes_match_cblas),
        cmocka_unit_test(edge_sizes_match_fma_chain),
        cmocka_unit_test(rows_bit_identical_across_splits_and_calls),
        cmocka_unit_test(prepacked_strips_bit_identical),
        cmocka_unit_test(kernel_selected_and_fallback_works),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
