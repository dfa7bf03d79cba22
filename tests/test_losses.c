// Output heads and the cost: values computed by hand from the formulas.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "fastnn.h"

// A single layer n -> n with W = I and b = 0, so the logits equal the input.
static fnn_net *identity_net(int n, fnn_loss loss, fnn_dtype dtype) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 1;
    o.sizes[0] = n;
    o.sizes[1] = n;
    o.loss = loss;
    o.dtype = dtype;
    o.init = FNN_INIT_ZEROS;
    fnn_net *net = fnn_net_create(&o, NULL);
    assert_non_null(net);
    int64_t w = fnn_net_weight_offset(net, 0);
    for (int i = 0; i < n; i++) {
        if (dtype == FNN_F64) {
            ((double *)fnn_net_params(net))[w + i * n + i] = 1;
        } else {
            ((float *)fnn_net_params(net))[w + i * n + i] = 1;
        }
    }
    return net;
}

static void softmax_extreme_logits(void **state) {
    (void)state;
    // log(e^1000 + e^999 + e^-1000) - 999 = 1 + log(1 + e^-1 + e^-2000)
    double expected = 1.0 + log1p(exp(-1.0));
    assert_true(fabs(expected - 1.3132616875182066) < 1e-13);
    fnn_net *net = identity_net(3, FNN_LOSS_SOFTMAX_CE, FNN_F64);
    double x[3] = {1000, 999, -1000};
    double y[1] = {1};
    double cost = 0;
    assert_int_equal(fnn_net_cost(net, x, y, 1, FNN_DROPOUT_OFF, 1, &cost),
                     FNN_OK);
    assert_true(isfinite(cost));
    assert_true(fabs(cost - expected) < 1e-15);
    // dJ/dz = softmax(z) - onehot(1)
    double *g = fnn_net_grads(net);
    double p0 = 1.0 / (1.0 + exp(-1.0));
    assert_true(fabs(g[fnn_net_bias_offset(net, 0) + 0] - p0) < 1e-12);
    assert_true(fabs(g[fnn_net_bias_offset(net, 0) + 1] - (1 - p0 - 1)) <
                1e-12);
    fnn_net_free(net);
}

static void softmax_extreme_logits_float32(void **state) {
    (void)state;
    fnn_net *net = identity_net(3, FNN_LOSS_SOFTMAX_CE, FNN_F32);
    float x[3] = {1000, 999, -1000};
    float y[1] = {1};
    double cost = 0;
    assert_int_equal(fnn_net_cost(net, x, y, 1, FNN_DROPOUT_OFF, 0, &cost),
                     FNN_OK);
    assert_true(fabs(cost - 1.3132616875182066) < 1e-6);
    fnn_net_free(net);
}

static void bce_large_logit_float32(void **state) {
    (void)state;
    fnn_net *net = identity_net(1, FNN_LOSS_SIGMOID_BCE, FNN_F32);
    float x[1] = {40};
    float y0[1] = {0};
    float y1[1] = {1};
    double cost = 0;
    // label 0: -log(1 - s(40)) = 40 + log(1 + e^-40)
    assert_int_equal(fnn_net_cost(net, x, y0, 1, FNN_DROPOUT_OFF, 0, &cost),
                     FNN_OK);
    assert_true(fabs(cost - 40.0) < 1e-12);
    // label 1: -log s(40) = log(1 + e^-40), about 4.25e-18
    assert_int_equal(fnn_net_cost(net, x, y1, 1, FNN_DROPOUT_OFF, 0, &cost),
                     FNN_OK);
    double expected = log1p(exp(-40.0));
    assert_true(cost > 0);
    assert_true(fabs(cost - expected) / expected < 1e-6);
    assert_true(fabs(cost - 4.25e-18) < 0.01e-18);
    fnn_net_free(net);
}

static void mse_half_squared_error(void **state) {
    (void)state;
    fnn_net *net = identity_net(1, FNN_LOSS_MSE, FNN_F64);
    double x[2] = {3, -1};
    double y[2] = {1, 1};
    double cost = 0;
    // (0.5 * 2^2 + 0.5 * 2^2) / 2 = 2
    assert_int_equal(fnn_net_cost(net, x, y, 2, FNN_DROPOUT_OFF, 1, &cost),
                     FNN_OK);
    assert_true(fabs(cost - 2.0) < 1e-15);
    // db = mean(z - y) = (2 + -2) / 2 = 0;  dW = mean((z - y) x) = (6 + 2)/2
    double *g = fnn_net_grads(net);
    assert_true(fabs(g[fnn_net_bias_offset(net, 0)]) < 1e-15);
    assert_true(fabs(g[fnn_net_weight_offset(net, 0)] - 4.0) < 1e-15);
    fnn_net_free(net);
}

static void l2_term_in_cost_and_gradient(void **state) {
    (void)state;
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 2;
    o.sizes[0] = 3;
    o.sizes[1] = 4;
    o.sizes[2] = 2;
    o.dtype = FNN_F64;
    o.seed = 7;
    fnn_net *plain = fnn_net_create(&o, NULL);
    o.l2 = 0.3;
    fnn_net *reg = fnn_net_create(&o, NULL);
    assert_non_null(plain);
    assert_non_null(reg);
    double x[6] = {0.5, -1, 2, 1.5, 0.25, -0.75};
    double y[2] = {0, 1};
    int m = 2;
    double c0 = 0, c1 = 0;
    assert_int_equal(fnn_net_cost(plain, x, y, m, FNN_DROPOUT_OFF, 1, &c0),
                     FNN_OK);
    assert_int_equal(fnn_net_cost(reg, x, y, m, FNN_DROPOUT_OFF, 1, &c1),
                     FNN_OK);
    const double *w = fnn_net_params(reg);
    double sq = 0;
    for (int l = 0; l < 2; l++) {
        int64_t off = fnn_net_weight_offset(reg, l);
        for (int i = 0; i < o.sizes[l] * o.sizes[l + 1]; i++) {
            sq += w[off + i] * w[off + i];
        }
    }
    assert_true(fabs((c1 - c0) - 0.3 / (2.0 * m) * sq) < 1e-14);
    const double *g0 = fnn_net_grads(plain);
    const double *g1 = fnn_net_grads(reg);
    for (int l = 0; l < 2; l++) {
        int64_t wo = fnn_net_weight_offset(reg, l);
        int64_t bo = fnn_net_bias_offset(reg, l);
        for (int i = 0; i < o.sizes[l] * o.sizes[l + 1]; i++) {
            double expected = 0.3 / m * w[wo + i];
            assert_true(fabs((g1[wo + i] - g0[wo + i]) - expected) < 1e-14);
        }
        // Biases are not penalized.
        for (int i = 0; i < o.sizes[l + 1]; i++) {
            assert_true(g1[bo + i] == g0[bo + i]);
        }
    }
    fnn_net_free(plain);
    fnn_net_free(reg);
}

static void dropout_scales_at_training_only(void **state) {
    (void)state;
    // 1 -> 1000 (identity, bias 1, W1 = 0) -> 1 (MSE, W2 = 1/1000): every
    // hidden activation is 1, so the output is the mean of the dropout mask.
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 2;
    o.sizes[0] = 1;
    o.sizes[1] = 1000;
    o.sizes[2] = 1;
    o.init = FNN_INIT_ZEROS;
    o.activation = FNN_IDENTITY;
    o.loss = FNN_LOSS_MSE;
    o.keep_prob = 0.8;
    o.dtype = FNN_F64;
    fnn_net *net = fnn_net_create(&o, NULL);
    assert_non_null(net);
    double *p = fnn_net_params(net);
    for (int i = 0; i < 1000; i++) {
        p[fnn_net_bias_offset(net, 0) + i] = 1;
        p[fnn_net_weight_offset(net, 1) + i] = 1e-3;
    }
    double x[1] = {0};
    double y[1] = {0};
    double cost;
    assert_int_equal(fnn_net_cost(net, x, y, 1, FNN_DROPOUT_SAMPLE, 1, &cost),
                     FNN_OK);
    // dW2[i] = out * a_i * mask_i, and mask_i is 0 or 1/keep_prob.
    const double *g = fnn_net_grads(net);
    double out = sqrt(2 * cost);
    int kept = 0;
    for (int i = 0; i < 1000; i++) {
        double gi = g[fnn_net_weight_offset(net, 1) + i];
        if (gi != 0) {
            kept++;
            assert_true(fabs(gi - out / 0.8) < 1e-12);
        }
    }
    // Binomial(1000, 0.8): mean 800, standard deviation 12.6.
    assert_true(kept > 740 && kept < 860);
    assert_true(fabs(out - kept / 800.0) < 1e-12);
    // Evaluation applies no mask and no scaling: the output is exactly 1.
    double pred[1];
    assert_int_equal(fnn_net_predict(net, x, 1, pred), FNN_OK);
    assert_true(fabs(pred[0] - 1.0) < 1e-12);
    fnn_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(softmax_extreme_logits),
        cmocka_unit_test(softmax_extreme_logits_float32),
        cmocka_unit_test(bce_large_logit_float32),
        cmocka_unit_test(mse_half_squared_error),
        cmocka_unit_test(l2_term_in_cost_and_gradient),
        cmocka_unit_test(dropout_scales_at_training_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
