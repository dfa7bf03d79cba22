// The float32 kernels of kernels.h: the AVX-512 path must return exactly the
// bits of the portable path, both must match the formulas evaluated in
// double, and training must be bit-identical for a given seed.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kernels.h"
#include "fastnn.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// Not a multiple of 16, so the scalar tail after the vector loop runs too.
#define N 1037

static void fill(fnn_rng *rng, float *x, int64_t n, double lo, double hi) {
    for (int64_t i = 0; i < n; i++) {
        x[i] = (float)(lo + (hi - lo) * fnn_rng_uniform(rng));
    }
}

static int have_avx512(void) {
    int on = fnn_kernels_use_avx512(1);
    return on;
}

typedef struct adam_case {
    float p[N], m[N], v[N], g[N];
} adam_case;

static void adam_inputs(adam_case *a) {
    fnn_rng rng;
    fnn_rng_seed(&rng, 7);
    fill(&rng, a->p, N, -1, 1);
    fill(&rng, a->m, N, -0.1, 0.1);
    fill(&rng, a->v, N, 0, 0.01);
    fill(&rng, a->g, N, -0.5, 0.5);
}

static const fnn_adam_consts ADAM = {0.9f, 0.1f, 0.999f, 0.001f, 1e-3f,
                                     1e-8f};

static void adam_paths_bit_identical(void **state) {
    (void)state;
    if (!have_avx512()) {
        skip();
    }
    static adam_case fast, slow;
    adam_inputs(&fast);
    adam_inputs(&slow);
    fnn_kernels_use_avx512(1);
    fnn_adam_f32(fast.p, fast.m, fast.v, fast.g, N, &ADAM);
    fnn_kernels_use_avx512(0);
    fnn_adam_f32(slow.p, slow.m, slow.v, slow.g, N, &ADAM);
    fnn_kernels_use_avx512(1);
    assert_memory_equal(fast.p, slow.p, sizeof fast.p);
    assert_memory_equal(fast.m, slow.m, sizeof fast.m);
    assert_memory_equal(fast.v, slow.v, sizeof fast.v);
}

static void adam_matches_formula(void **state) {
    (void)state;
    static adam_case a, orig;
    adam_inputs(&a);
    orig = a;
    fnn_adam_f32(a.p, a.m, a.v, a.g, N, &ADAM);
    for (int i = 0; i < N; i++) {
        double g = orig.g[i];
        double m = 0.9 * orig.m[i] + 0.1 * g;
        double v = 0.999 * orig.v[i] + 0.001 * g * g;
        double p = orig.p[i] - 1e-3 * m / (sqrt(v) + 1e-8);
        assert_float_equal(a.m[i], m, 1e-6);
        assert_float_equal(a.v[i], v, 1e-7);
        assert_float_equal(a.p[i], p, 1e-6);
    }
}

static void momentum_paths_and_formula(void **state) {
    (void)state;
    static float p[2][N], v[2][N], g[N], p0[N], v0[N];
    fnn_rng rng;
    fnn_rng_seed(&rng, 11);
    fill(&rng, p0, N, -1, 1);
    fill(&rng, v0, N, -0.2, 0.2);
    fill(&rng, g, N, -0.5, 0.5);
    for (int path = 0; path < 2; path++) {
        memcpy(p[path], p0, sizeof p0);
        memcpy(v[path], v0, sizeof v0);
        fnn_kernels_use_avx512(path == 0);
        fnn_momentum_f32(p[path], v[path], g, N, 0.9f, 0.05f);
    }
    fnn_kernels_use_avx512(1);
    assert_memory_equal(p[0], p[1], sizeof p0);
    assert_memory_equal(v[0], v[1], sizeof v0);
    for (int i = 0; i < N; i++) {
        double vi = 0.9 * v0[i] + g[i];
        assert_float_equal(v[0][i], vi, 1e-6);
        assert_float_equal(p[0][i], p0[i] - 0.05 * vi, 1e-6);
    }
}

// 17 values: one full vector and a tail, with the edge cases of max(z, 0).
static void relu_edge_cases(void **state) {
    (void)state;
    float z[17] = {-1, 0, -0.0f, 2, NAN, 1e-30f, -1e-30f, 3, -4,
                   5, -6, 7, -8, 9, -10, 0.5f, -0.5f};
    float da[17], a[17], dz[17];
    for (int i = 0; i < 17; i++) {
        da[i] = (float)(i + 1);
    }
    for (int path = 0; path < 2; path++) {
        fnn_kernels_use_avx512(path == 0);
        fnn_relu_f32(z, a, 17);
        fnn_relu_backward_f32(z, da, dz, 17);
        for (int i = 0; i < 17; i++) {
            // +0 at and below zero, never -0; NaN passes through forward
            // and lets da through backward, as PyTorch's relu does.
            int keep = !(z[i] <= 0);
            float want = keep ? z[i] : 0.0f;
            assert_memory_equal(&a[i], &want, sizeof want);
            float want_dz = keep ? da[i] : 0.0f;
            assert_memory_equal(&dz[i], &want_dz, sizeof want_dz);
        }
        assert_true(isnan(a[4]));
        assert_true(dz[4] == da[4]);
    }
    fnn_kernels_use_avx512(1);
}

static void col_sum_paths_and_formula(void **state) {
    (void)state;
    enum { ROWS = 37, COLS = 40 };
    static float dz[ROWS * COLS], db[2][COLS];
    fnn_rng rng;
    fnn_rng_seed(&rng, 3);
    fill(&rng, dz, ROWS * COLS, -1, 1);
    for (int path = 0; path < 2; path++) {
        fnn_kernels_use_avx512(path == 0);
        fnn_col_sum_f32(dz, ROWS, COLS, db[path]);
    }
    fnn_kernels_use_avx512(1);
    assert_memory_equal(db[0], db[1], sizeof db[0]);
    for (int j = 0; j < COLS; j++) {
        double sum = 0;
        for (int i = 0; i < ROWS; i++) {
            sum += dz[i * COLS + j];
        }
        assert_float_equal(db[0][j], sum, 1e-5);
    }
}

// A small two-class data set: the label is 1 when x0 + x1 > 0.
static fnn_dataset *toy_data(void) {
    enum { ROWS = 200, FEATURES = 20 };
    static float x[ROWS * FEATURES], y[ROWS];
    static fnn_dataset ds;
    fnn_rng rng;
    fnn_rng_seed(&rng, 5);
    fill(&rng, x, ROWS * FEATURES, -1, 1);
    for (int i = 0; i < ROWS; i++) {
        y[i] = x[i * FEATURES] + x[i * FEATURES + 1] > 0;
    }
    ds = (fnn_dataset){.n_rows = ROWS, .n_features = FEATURES, .f32 = x,
                       .labels = y, .n_classes = 2, .labels_integer = 1};
    return &ds;
}

// Trains a 20-32-16-2 network for 3 epochs and copies its parameters out.
static void train_once(fnn_optimizer kind, float *out, int64_t *n) {
    fnn_net_options no = fnn_net_options_default();
    no.n_layers = 3;
    no.sizes[0] = 20;
    no.sizes[1] = 32;
    no.sizes[2] = 16;
    no.sizes[3] = 2;
    fnn_net *net = fnn_net_create(&no, NULL);
    assert_non_null(net);
    fnn_train_options to = fnn_train_options_default();
    to.epochs = 3;
    to.batch_size = 24;
    to.optim.kind = kind;
    to.optim.learning_rate = kind == FNN_ADAM ? 1e-2 : 0.05;
    assert_int_equal(fnn_train(net, toy_data(), NULL, &to, NULL), FNN_OK);
    *n = fnn_net_param_count(net);
    memcpy(out, fnn_net_params(net), (size_t)*n * sizeof(float));
    fnn_net_free(net);
}

static void training_bit_identical(void **state) {
    (void)state;
    static float runs[3][2000];
    fnn_optimizer kinds[2] = {FNN_ADAM, FNN_MOMENTUM};
    for (int k = 0; k < 2; k++) {
        int64_t n[3];
        fnn_kernels_use_avx512(1);
        train_once(kinds[k], runs[0], &n[0]);
        train_once(kinds[k], runs[1], &n[1]);
        fnn_kernels_use_avx512(0);
        train_once(kinds[k], runs[2], &n[2]);
        fnn_kernels_use_avx512(1);
        assert_int_equal(n[0], 20 * 32 + 32 + 32 * 16 + 16 + 16 * 2 + 2);
        size_t bytes = (size_t)n[0] * sizeof(float);
        // Same seed twice, and the AVX-512 path against the portable one.
        assert_memory_equal(runs[0], runs[1], bytes);
        assert_memory_equal(runs[0], runs[2], bytes);
    }
}

static void all_finite_paths(void **state) {
    (void)state;
    float x[100];
    for (int i = 0; i < 100; i++) {
        x[i] = (float)(i - 50) * 6e36f;
    }
    x[99] = -FLT_MAX;
    const float bad[3] = {INFINITY, -INFINITY, NAN};
    for (int avx = 0; avx <= 1; avx++) {
        fnn_kernels_use_avx512(avx);
        assert_true(fnn_all_finite_f32(x, 100));
        assert_true(fnn_all_finite_f32(x, 0));
        // Every position: inside the 16-wide blocks and in the tail.
        for (int k = 0; k < 3; k++) {
            for (int at = 0; at < 100; at += 7) {
                float saved = x[at];
                x[at] = bad[k];
                assert_false(fnn_all_finite_f32(x, 100));
                x[at] = saved;
            }
        }
    }
    fnn_kernels_use_avx512(1);
}

// One row normalized: both paths give the formula's bits, from u8 and from
// float32 inputs, with a tail after the 16-wide blocks.
static void normalize_paths_and_formula(void **state) {
    (void)state;
    static uint8_t u8[N];
    static float f32[N], out[N];
    static double mean[N], std[N];
    fnn_rng rng;
    fnn_rng_seed(&rng, 9);
    for (int j = 0; j < N; j++) {
        u8[j] = (uint8_t)(256 * fnn_rng_uniform(&rng));
        f32[j] = (float)(1e4 * (fnn_rng_uniform(&rng) - 0.5));
        mean[j] = 200 * fnn_rng_uniform(&rng) - 50;
        std[j] = j % 5 == 0 ? 1.0 : 1e-3 + 100 * fnn_rng_uniform(&rng);
    }
    for (int avx = 0; avx <= 1; avx++) {
        fnn_kernels_use_avx512(avx);
        fnn_normalize_u8_f32(u8, mean, std, out, N);
        for (int j = 0; j < N; j++) {
            float want = (float)(((double)u8[j] - mean[j]) / std[j]);
            assert_memory_equal(&out[j], &want, sizeof want);
        }
        fnn_normalize_f32_f32(f32, mean, std, out, N);
        for (int j = 0; j < N; j++) {
            float want = (float)(((double)f32[j] - mean[j]) / std[j]);
            assert_memory_equal(&out[j], &want, sizeof want);
        }
    }
    fnn_kernels_use_avx512(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adam_paths_bit_identical),
        cmocka_unit_test(adam_matches_formula),
        cmocka_unit_test(momentum_paths_and_formula),
        cmocka_unit_test(relu_edge_cases),
        cmocka_unit_test(col_sum_paths_and_formula),
        cmocka_unit_test(training_bit_identical),
        cmocka_unit_test(all_finite_paths),
        cmocka_unit_test(normalize_paths_and_formula),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
