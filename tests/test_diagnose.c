// Tests of fnn_diagnose: per-layer statistics against a hand computation
// and against an independent naive forward and backward pass, the verdict
// rules on constructed statistics, and the expected growth factors.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "fastnn.h"

static fnn_net *make_net(int n_layers, const int *sizes, fnn_activation g,
                         fnn_loss loss, fnn_dtype dtype) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = n_layers;
    memcpy(o.sizes, sizes, (size_t)(n_layers + 1) * sizeof(int));
    o.activation = g;
    o.loss = loss;
    o.dtype = dtype;
    fnn_status s;
    fnn_net *net = fnn_net_create(&o, &s);
    assert_non_null(net);
    return net;
}

static void set_param(fnn_net *net, int64_t i, double v) {
    if (fnn_net_get_options(net)->dtype == FNN_F64) {
        ((double *)fnn_net_params(net))[i] = v;
    } else {
        ((float *)fnn_net_params(net))[i] = (float)v;
    }
}

// 2-2-1 ReLU network with MSE output, worked by hand:
//   x = [[1, 2], [-1, 1]], W0 = [[1, -1], [0.5, 0.5]], b0 = 0
//   z0 = [[-1, 1.5], [-2, 0]], a0 = relu(z0) = [[0, 1.5], [0, 0]]
//   W1 = [[2, 1]], b1 = 0.5, z1 = [2, 0.5], y = [1, 0]
//   dz1 = (z1 - y) / 2 = [0.5, 0.25], dW1 = dz1^T a0 = [0, 0.75]
//   da0 = dz1 W1 = [[1, 0.5], [0.5, 0.25]], dz0 = da0 * (z0 > 0)
//       = [[0, 0.5], [0, 0]], dW0 = dz0^T x = [[0, 0], [0.5, 1]]
//   J = (0.5 * 1^2 + 0.5 * 0.5^2) / 2 = 0.3125
static void check_hand_case(fnn_dtype dtype, double tol) {
    const int sizes[] = {2, 2, 1};
    fnn_net *net = make_net(2, sizes, FNN_RELU, FNN_LOSS_MSE, dtype);
    const double w0[] = {1, -1, 0.5, 0.5};
    for (int i = 0; i < 4; i++) {
        set_param(net, fnn_net_weight_offset(net, 0) + i, w0[i]);
    }
    set_param(net, fnn_net_weight_offset(net, 1) + 0, 2);
    set_param(net, fnn_net_weight_offset(net, 1) + 1, 1);
    set_param(net, fnn_net_bias_offset(net, 1), 0.5);
    const double xd[] = {1, 2, -1, 1};
    const double yd[] = {1, 0};
    float xf[4], yf[2];
    for (int i = 0; i < 4; i++) {
        xf[i] = (float)xd[i];
    }
    yf[0] = 1;
    yf[1] = 0;
    const void *x = dtype == FNN_F64 ? (const void *)xd : (const void *)xf;
    const void *y = dtype == FNN_F64 ? (const void *)yd : (const void *)yf;

    fnn_diagnosis d;
    assert_int_equal(fnn_diagnose(net, x, y, 2, &d), FNN_OK);
    assert_int_equal(d.n_layers, 2);
    assert_true(d.backward_ran);
    assert_float_equal(d.cost, 0.3125, tol);
    // z0 values -1, 1.5, -2, 0: mean -0.375, E[z^2] 1.8125.
    assert_float_equal(d.layers[0].preactivation_mean, -0.375, tol);
    assert_float_equal(d.layers[0].preactivation_std,
                       sqrt(1.8125 - 0.375 * 0.375), tol);
    // a0 values 0, 1.5, 0, 0: mean 0.375, E[a^2] 0.5625.
    assert_float_equal(d.layers[0].activation_mean, 0.375, tol);
    assert_float_equal(d.layers[0].activation_std,
                       sqrt(0.5625 - 0.375 * 0.375), tol);
    // The output layer's activation is its pre-activation: [2, 0.5].
    assert_float_equal(d.layers[1].preactivation_mean, 1.25, tol);
    assert_float_equal(d.layers[1].preactivation_std, 0.75, tol);
    assert_float_equal(d.layers[1].activation_std, 0.75, tol);
    assert_float_equal(d.layers[1].gradient_norm, 0.75, tol);
    assert_float_equal(d.layers[0].gradient_norm, sqrt(0.25 + 1.0), tol);
    assert_int_equal(d.layers[0].nonfinite, 0);
    assert_int_equal(d.first_nonfinite, -1);
    // Layer 1 is xavier (auto for the output): sigma = sqrt(2 / 3), and a
    // ReLU input halves E[z^2], so the factor is sigma sqrt(2 / 2).
    assert_true(isnan(d.layers[0].expected_factor));
    assert_float_equal(d.layers[1].expected_factor, sqrt(2.0 / 3.0), 1e-9);
    assert_int_equal(d.verdict, FNN_VERDICT_OK);
    fnn_net_free(net);
}

static void hand_case_f64(void **state) {
    (void)state;
    check_hand_case(FNN_F64, 1e-12);
}

static void hand_case_f32(void **state) {
    (void)state;
    check_hand_case(FNN_F32, 1e-6);
}

// Naive reference of a 5-4-3-3 tanh network with softmax cross-entropy:
// plain loops in double, written from the formulas, with no BLAS.
#define REF_BATCH 6
static const int REF_SIZES[] = {5, 4, 3, 3};

typedef struct reference {
    double z[3][REF_BATCH][5];
    double a[3][REF_BATCH][5];
    double dw_norm[3];
} reference;

static void reference_pass(const double *params, const fnn_net *net,
                           const double x[REF_BATCH][5], const int *label,
                           reference *r) {
    double dz[REF_BATCH][5];
    for (int l = 0; l < 3; l++) {
        const double *w = params + fnn_net_weight_offset(net, l);
        const double *b = params + fnn_net_bias_offset(net, l);
        for (int i = 0; i < REF_BATCH; i++) {
            for (int j = 0; j < REF_SIZES[l + 1]; j++) {
                double sum = b[j];
                for (int k = 0; k < REF_SIZES[l]; k++) {
                    double in = l == 0 ? x[i][k] : r->a[l - 1][i][k];
                    sum += w[j * REF_SIZES[l] + k] * in;
                }
                r->z[l][i][j] = sum;
                r->a[l][i][j] = l < 2 ? tanh(sum) : sum;
            }
        }
    }
    // dJ/dz of the output: (softmax - onehot) / m.
    for (int i = 0; i < REF_BATCH; i++) {
        double total = 0;
        for (int j = 0; j < 3; j++) {
            total += exp(r->z[2][i][j]);
        }
        for (int j = 0; j < 3; j++) {
            dz[i][j] = (exp(r->z[2][i][j]) / total - (j == label[i])) /
                       REF_BATCH;
        }
    }
    for (int l = 2; l >= 0; l--) {
        const double *w = params + fnn_net_weight_offset(net, l);
        double sq = 0;
        for (int j = 0; j < REF_SIZES[l + 1]; j++) {
            for (int k = 0; k < REF_SIZES[l]; k++) {
                double g = 0;
                for (int i = 0; i < REF_BATCH; i++) {
                    g += dz[i][j] * (l == 0 ? x[i][k] : r->a[l - 1][i][k]);
                }
                sq += g * g;
            }
        }
        r->dw_norm[l] = sqrt(sq);
        if (l == 0) {
            break;
        }
        double prev[REF_BATCH][5];
        for (int i = 0; i < REF_BATCH; i++) {
            for (int k = 0; k < REF_SIZES[l]; k++) {
                double da = 0;
                for (int j = 0; j < REF_SIZES[l + 1]; j++) {
                    da += dz[i][j] * w[j * REF_SIZES[l] + k];
                }
                double t = r->a[l - 1][i][k];
                prev[i][k] = da * (1 - t * t);
            }
        }
        memcpy(dz, prev, sizeof dz);
    }
}

// Population mean and std of values[i][j] for i < REF_BATCH, j < width.
static void ref_moments(double v[REF_BATCH][5], int width, double *mean,
                        double *std) {
    double sum = 0;
    double sq = 0;
    int n = REF_BATCH * width;
    for (int i = 0; i < REF_BATCH; i++) {
        for (int j = 0; j < width; j++) {
            sum += v[i][j];
        }
    }
    *mean = sum / n;
    for (int i = 0; i < REF_BATCH; i++) {
        for (int j = 0; j < width; j++) {
            sq += (v[i][j] - *mean) * (v[i][j] - *mean);
        }
    }
    *std = sqrt(sq / n);
}

static void matches_naive_reference(void **state) {
    (void)state;
    fnn_net *net = make_net(3, REF_SIZES, FNN_TANH, FNN_LOSS_SOFTMAX_CE,
                            FNN_F64);
    double *params = fnn_net_params(net);
    // Nonzero biases, so the means are not all near zero.
    for (int l = 0; l < 3; l++) {
        for (int j = 0; j < REF_SIZES[l + 1]; j++) {
            params[fnn_net_bias_offset(net, l) + j] = 0.1 * (j + 1) - 0.2;
        }
    }
    double x[REF_BATCH][5];
    double y[REF_BATCH];
    int label[REF_BATCH];
    for (int i = 0; i < REF_BATCH; i++) {
        for (int k = 0; k < 5; k++) {
            x[i][k] = sin(1.7 * i + 0.9 * k) * (k + 1);
        }
        label[i] = i % 3;
        y[i] = label[i];
    }
    reference r;
    reference_pass(params, net, x, label, &r);
    fnn_diagnosis d;
    assert_int_equal(fnn_diagnose(net, x, y, REF_BATCH, &d), FNN_OK);
    for (int l = 0; l < 3; l++) {
        double mean, std;
        ref_moments(r.z[l], REF_SIZES[l + 1], &mean, &std);
        assert_float_equal(d.layers[l].preactivation_mean, mean, 1e-12);
        assert_float_equal(d.layers[l].preactivation_std, std, 1e-12);
        ref_moments(r.a[l], REF_SIZES[l + 1], &mean, &std);
        assert_float_equal(d.layers[l].activation_mean, mean, 1e-12);
        assert_float_equal(d.layers[l].activation_std, std, 1e-12);
        assert_float_equal(d.layers[l].gradient_norm, r.dw_norm[l], 1e-12);
    }
    fnn_net_free(net);
}

// A diagnosis of n layers whose statistics are all 1.
static fnn_diagnosis flat(int n) {
    fnn_diagnosis d;
    memset(&d, 0, sizeof d);
    d.n_layers = n;
    d.backward_ran = 1;
    d.first_nonfinite = -1;
    for (int l = 0; l < n; l++) {
        d.layers[l].preactivation_std = 1;
        d.layers[l].activation_std = 1;
        d.layers[l].gradient_norm = 1;
    }
    return d;
}

static void judge(fnn_diagnosis *d, fnn_verdict v, fnn_verdict_cause c,
                  int layer) {
    fnn_diagnosis_judge(d);
    assert_int_equal(d->verdict, v);
    assert_int_equal(d->cause, c);
    assert_int_equal(d->verdict_layer, layer);
}

static void verdict_ok_at_threshold(void **state) {
    (void)state;
    fnn_diagnosis d = flat(5);
    d.layers[3].activation_std = 1e-3; // not below 1e-3
    d.layers[4].activation_std = 1e3;  // not above 1e3
    d.layers[0].gradient_norm = 1e-3;
    judge(&d, FNN_VERDICT_OK, FNN_CAUSE_NONE, -1);
    assert_true(isnan(d.verdict_ratio));
}

static void verdict_vanishing_activation(void **state) {
    (void)state;
    fnn_diagnosis d = flat(6);
    d.layers[0].activation_std = 2;
    d.layers[2].activation_std = 0.1;
    d.layers[3].activation_std = 1.9e-3; // ratio 9.5e-4, the first below
    d.layers[4].activation_std = 1e-6;
    judge(&d, FNN_VERDICT_VANISHING, FNN_CAUSE_ACTIVATION_STD, 3);
    assert_float_equal(d.verdict_ratio, 9.5e-4, 1e-15);
}

static void verdict_exploding_activation(void **state) {
    (void)state;
    fnn_diagnosis d = flat(4);
    d.layers[2].activation_std = 1001;
    judge(&d, FNN_VERDICT_EXPLODING, FNN_CAUSE_ACTIVATION_STD, 2);
}

static void verdict_nonfinite_layer(void **state) {
    (void)state;
    fnn_diagnosis d = flat(5);
    d.layers[3].nonfinite = 7;
    d.layers[3].activation_std = NAN;
    judge(&d, FNN_VERDICT_EXPLODING, FNN_CAUSE_NONFINITE, 3);
}

static void verdict_gradient_from_output(void **state) {
    (void)state;
    // Gradients are compared with the output layer, scanning backward, so
    // layers.2 (5e-4) is named before layers.0 (1e-5).
    fnn_diagnosis d = flat(5);
    d.layers[4].gradient_norm = 1;
    d.layers[2].gradient_norm = 5e-4;
    d.layers[0].gradient_norm = 1e-5;
    judge(&d, FNN_VERDICT_VANISHING, FNN_CAUSE_GRADIENT_NORM, 2);
    // A small output gradient makes the earlier ones look exploded.
    d = flat(3);
    d.layers[2].gradient_norm = 1e-6;
    judge(&d, FNN_VERDICT_EXPLODING, FNN_CAUSE_GRADIENT_NORM, 1);
}

static void verdict_exploding_outranks(void **state) {
    (void)state;
    fnn_diagnosis d = flat(5);
    d.layers[1].activation_std = 1e-4;   // vanishing activations
    d.layers[0].gradient_norm = INFINITY; // exploding gradient
    judge(&d, FNN_VERDICT_EXPLODING, FNN_CAUSE_NONFINITE, 0);
    // Both vanishing: the activation finding wins.
    d = flat(5);
    d.layers[3].activation_std = 1e-4;
    d.layers[1].gradient_norm = 1e-4;
    judge(&d, FNN_VERDICT_VANISHING, FNN_CAUSE_ACTIVATION_STD, 3);
}

static void verdict_zero_and_no_backward(void **state) {
    (void)state;
    fnn_diagnosis d = flat(3);
    d.layers[0].activation_std = 0;
    judge(&d, FNN_VERDICT_VANISHING, FNN_CAUSE_ACTIVATION_STD, 0);
    d = flat(3);
    d.layers[2].gradient_norm = 0;
    judge(&d, FNN_VERDICT_VANISHING, FNN_CAUSE_GRADIENT_NORM, 2);
    d = flat(3);
    d.backward_ran = 0;
    judge(&d, FNN_VERDICT_EXPLODING, FNN_CAUSE_NONFINITE, 2);
}

static void expected_factor_formulas(void **state) {
    (void)state;
    // relu: sigma sqrt(n / 2) at any scale; small at n = 256 gives 0.113.
    for (double s = 1e-3; s < 1e3; s *= 10) {
        assert_float_equal(
            fnn_diagnose_expected_factor(FNN_RELU, FNN_INIT_SMALL, 256, 256, s),
            0.01 * sqrt(128.0), 1e-9);
        assert_float_equal(
            fnn_diagnose_expected_factor(FNN_RELU, FNN_INIT_HE, 256, 10, s),
            1.0, 1e-9);
        assert_float_equal(fnn_diagnose_expected_factor(FNN_IDENTITY,
                                                        FNN_INIT_NORMAL, 100,
                                                        100, s),
                           10.0, 1e-9);
    }
    // tanh and sigmoid with lecun (sigma = 1/sqrt(n)): sqrt(E[g(z)^2]) / s.
    // E[tanh(z)^2] = 0.394294490 and E[sigmoid(z)^2] = 0.293379036 for
    // z ~ N(0, 1), from numpy's trapezoid rule on [-14, 14], 2e6 intervals.
    assert_float_equal(
        fnn_diagnose_expected_factor(FNN_TANH, FNN_INIT_LECUN, 64, 64, 1.0),
        sqrt(0.39429449039784115), 1e-8);
    assert_float_equal(
        fnn_diagnose_expected_factor(FNN_SIGMOID, FNN_INIT_LECUN, 64, 64, 1.0),
        sqrt(0.29337903585809294), 1e-8);
    // For z ~ N(0, 4): E[tanh^2] = 0.635261234, so sqrt(.) / 2.
    assert_float_equal(
        fnn_diagnose_expected_factor(FNN_TANH, FNN_INIT_LECUN, 64, 64, 2.0),
        sqrt(0.6352612342569396) / 2, 1e-8);
    assert_true(isnan(
        fnn_diagnose_expected_factor(FNN_RELU, FNN_INIT_HE, 64, 64, 0.0)));
    assert_true(isnan(fnn_diagnose_expected_factor(FNN_RELU, FNN_INIT_HE, 64,
                                                   64, INFINITY)));
}

static void overflow_is_a_finding(void **state) {
    (void)state;
    // N(0, 1) weights on identity layers of width 64 grow std(z) by
    // sqrt(64) = 8 per layer. From about 6e3 at layers.0 (inputs of scale
    // 1e3), float32 (max 3.4e38) overflows near layers.39 of these 60.
    int sizes[62];
    sizes[0] = 64;
    for (int l = 1; l <= 60; l++) {
        sizes[l] = 64;
    }
    sizes[61] = 2;
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 61;
    memcpy(o.sizes, sizes, sizeof sizes);
    o.activation = FNN_IDENTITY;
    o.init = FNN_INIT_NORMAL;
    fnn_status s;
    fnn_net *net = fnn_net_create(&o, &s);
    assert_non_null(net);
    float x[4 * 64];
    float y[4] = {0, 1, 0, 1};
    for (int i = 0; i < 4 * 64; i++) {
        x[i] = (float)(1e3 * sin(i));
    }
    fnn_diagnosis d;
    assert_int_equal(fnn_diagnose(net, x, y, 4, &d), FNN_OK);
    assert_int_equal(d.verdict, FNN_VERDICT_EXPLODING);
    assert_true(d.first_nonfinite > 0);
    assert_false(d.backward_ran);
    assert_true(isnan(d.layers[0].gradient_norm));
    // 8 per layer passes 1e3 at layers.4 (8^4 = 4096 > 1e3 > 8^3 = 512).
    assert_int_equal(d.cause, FNN_CAUSE_ACTIVATION_STD);
    assert_in_range(d.verdict_layer, 3, 5);
    fnn_net_free(net);
}

static void rejects_bad_arguments(void **state) {
    (void)state;
    const int sizes[] = {2, 3};
    fnn_net *net = make_net(1, sizes, FNN_RELU, FNN_LOSS_SOFTMAX_CE, FNN_F32);
    float x[2] = {1, 2};
    float y[1] = {5}; // class 5 of 3
    fnn_diagnosis d;
    assert_int_equal(fnn_diagnose(net, x, y, 1, &d), FNN_ERR_INVALID);
    assert_int_equal(fnn_diagnose(net, x, y, 0, &d), FNN_ERR_INVALID);
    assert_int_equal(fnn_diagnose(NULL, x, y, 1, &d), FNN_ERR_INVALID);
    assert_int_equal(fnn_diagnose(net, x, y, 1, NULL), FNN_ERR_INVALID);
    assert_string_equal(fnn_verdict_name(FNN_VERDICT_VANISHING), "vanishing");
    assert_string_equal(fnn_verdict_cause_name(FNN_CAUSE_GRADIENT_NORM),
                        "gradient_norm");
    fnn_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_case_f64),
        cmocka_unit_test(hand_case_f32),
        cmocka_unit_test(matches_naive_reference),
        cmocka_unit_test(verdict_ok_at_threshold),
        cmocka_unit_test(verdict_vanishing_activation),
        cmocka_unit_test(verdict_exploding_activation),
        cmocka_unit_test(verdict_nonfinite_layer),
        cmocka_unit_test(verdict_gradient_from_output),
        cmocka_unit_test(verdict_exploding_outranks),
        cmocka_unit_test(verdict_zero_and_no_backward),
        cmocka_unit_test(expected_factor_formulas),
        cmocka_unit_test(overflow_is_a_finding),
        cmocka_unit_test(rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
