// Initialization, normalization statistics and optimizer steps, checked
// against the formulas.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "fastnn.h"

static fnn_net *one_layer(int n_in, int n_out, fnn_init init,
                          fnn_activation act, fnn_dtype dtype) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 2;
    o.sizes[0] = n_in;
    o.sizes[1] = n_out;
    o.sizes[2] = 2;
    o.init = init;
    o.activation = act;
    o.dtype = dtype;
    o.seed = 1234;
    fnn_net *net = fnn_net_create(&o, NULL);
    assert_non_null(net);
    return net;
}

// Sample standard deviation and maximum magnitude of layer 0's weights.
static void weight_stats(fnn_net *net, double *std, double *max_abs) {
    const fnn_net_options *o = fnn_net_get_options(net);
    int64_t n = (int64_t)o->sizes[0] * o->sizes[1];
    const double *w = (const double *)fnn_net_params(net) +
                      fnn_net_weight_offset(net, 0);
    double sum = 0, sq = 0;
    *max_abs = 0;
    for (int64_t i = 0; i < n; i++) {
        sum += w[i];
        sq += w[i] * w[i];
        *max_abs = fmax(*max_abs, fabs(w[i]));
    }
    double mean = sum / n;
    *std = sqrt(sq / n - mean * mean);
}

static void check_init(int n_in, int n_out, fnn_init init, double expected) {
    fnn_net *net = one_layer(n_in, n_out, init, FNN_RELU, FNN_F64);
    double std, max_abs;
    weight_stats(net, &std, &max_abs);
    assert_true(fabs(std - expected) / expected < 0.02);
    if (init == FNN_INIT_HE_UNIFORM || init == FNN_INIT_XAVIER_UNIFORM) {
        assert_true(max_abs <= expected * sqrt(3.0));
    }
    // Biases start at 0.
    const double *b = (const double *)fnn_net_params(net) +
                      fnn_net_bias_offset(net, 0);
    for (int i = 0; i < n_out; i++) {
        assert_true(b[i] == 0.0);
    }
    fnn_net_free(net);
}

static void init_std_matches_formulas(void **state) {
    (void)state;
    // He on 784 -> 32: the fan-in is the 784 inputs, sqrt(2/784) = 0.0505.
    assert_true(fabs(sqrt(2.0 / 784) - 0.0505) < 1e-4);
    check_init(784, 32, FNN_INIT_HE, sqrt(2.0 / 784));
    check_init(512, 1024, FNN_INIT_HE, sqrt(2.0 / 512));
    check_init(512, 1024, FNN_INIT_HE_UNIFORM, sqrt(2.0 / 512));
    check_init(512, 256, FNN_INIT_XAVIER, sqrt(2.0 / (512 + 256)));
    check_init(512, 256, FNN_INIT_XAVIER_UNIFORM, sqrt(2.0 / (512 + 256)));
    check_init(300, 700, FNN_INIT_LECUN, sqrt(1.0 / 300));
    check_init(300, 700, FNN_INIT_SMALL, 0.01);
    check_init(300, 700, FNN_INIT_NORMAL, 1.0);
}

static void init_auto_follows_activation(void **state) {
    (void)state;
    assert_int_equal(fnn_init_for(FNN_RELU), FNN_INIT_HE);
    assert_int_equal(fnn_init_for(FNN_LEAKY_RELU), FNN_INIT_HE);
    assert_int_equal(fnn_init_for(FNN_TANH), FNN_INIT_LECUN);
    assert_int_equal(fnn_init_for(FNN_SIGMOID), FNN_INIT_XAVIER);
    assert_int_equal(fnn_init_for(FNN_IDENTITY), FNN_INIT_XAVIER);
    fnn_net *net = one_layer(400, 300, FNN_INIT_AUTO, FNN_TANH, FNN_F64);
    assert_int_equal(fnn_net_layer_init(net, 0), FNN_INIT_LECUN);
    assert_int_equal(fnn_net_layer_init(net, 1), FNN_INIT_XAVIER);
    double std, max_abs;
    weight_stats(net, &std, &max_abs);
    assert_true(fabs(std - sqrt(1.0 / 400)) / sqrt(1.0 / 400) < 0.02);
    fnn_net_free(net);
}

static void init_zeros_and_seed(void **state) {
    (void)state;
    fnn_net *z = one_layer(10, 10, FNN_INIT_ZEROS, FNN_RELU, FNN_F64);
    const double *p = fnn_net_params(z);
    for (int64_t i = 0; i < fnn_net_param_count(z); i++) {
        assert_true(p[i] == 0.0);
    }
    fnn_net_free(z);
    // The same seed gives the same weights; float32 holds the rounded draws.
    fnn_net *a = one_layer(50, 40, FNN_INIT_HE, FNN_RELU, FNN_F64);
    fnn_net *b = one_layer(50, 40, FNN_INIT_HE, FNN_RELU, FNN_F64);
    fnn_net *c = one_layer(50, 40, FNN_INIT_HE, FNN_RELU, FNN_F32);
    int64_t n = fnn_net_param_count(a);
    assert_memory_equal(fnn_net_params(a), fnn_net_params(b), n * 8);
    for (int64_t i = 0; i < n; i++) {
        double v = ((double *)fnn_net_params(a))[i];
        assert_true(((float *)fnn_net_params(c))[i] == (float)v);
    }
    fnn_net_free(a);
    fnn_net_free(b);
    fnn_net_free(c);
}

static void welford_large_offset(void **state) {
    (void)state;
    fnn_norm *norm = fnn_norm_create(2, NULL);
    assert_non_null(norm);
    const double cycle[3] = {1e9 + 0.1, 1e9 + 0.2, 1e9 + 0.3};
    for (int i = 0; i < 3000; i++) {
        double row[2] = {cycle[i % 3], 5.0};
        fnn_norm_update(norm, row);
    }
    fnn_norm_finish(norm);
    // Population std of {0.1, 0.2, 0.3}: sqrt(((0.1)^2 + 0 + (0.1)^2) / 3)
    double expected = sqrt(0.02 / 3);
    assert_true(fabs(expected - 0.0816497) < 1e-7);
    assert_true(fabs(norm->std[0] - expected) < 1e-6);
    assert_true(fabs(norm->mean[0] - (1e9 + 0.2)) < 1e-5);
    // A constant column has std exactly 0 and is flagged.
    assert_true(norm->std[1] == 0.0);
    assert_true(norm->mean[1] == 5.0);
    assert_int_equal(norm->n_zero_variance, 1);
    fnn_norm_free(norm);
}

static void zero_variance_feature_only_centered(void **state) {
    (void)state;
    fnn_net *net = one_layer(2, 3, FNN_INIT_HE, FNN_RELU, FNN_F64);
    double mean[2] = {5.0, 1.0};
    double std[2] = {0.0, 2.0};
    assert_int_equal(fnn_net_set_normalization(net, mean, std), FNN_OK);
    assert_true(fnn_net_norm_std(net)[0] == 1.0);
    double x[2] = {5.0, 3.0};
    double y[1] = {0};
    double cost;
    // The normalized row is {0, 1}: check it through layer 0's z = W x + b.
    assert_int_equal(fnn_net_cost(net, x, y, 1, FNN_DROPOUT_OFF, 0, &cost),
                     FNN_OK);
    const double *w = (const double *)fnn_net_params(net) +
                      fnn_net_weight_offset(net, 0);
    const double *z = fnn_net_preactivation(net, 0);
    for (int i = 0; i < 3; i++) {
        assert_true(fabs(z[i] - (w[i * 2] * 0.0 + w[i * 2 + 1] * 1.0)) <
                    1e-15);
    }
    fnn_net_free(net);
}

// One layer 1 -> 2 with identity output and MSE: the gradient is set by hand.
static fnn_net *tiny_net(void) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 1;
    o.sizes[0] = 1;
    o.sizes[1] = 1;
    o.loss = FNN_LOSS_MSE;
    o.dtype = FNN_F64;
    o.init = FNN_INIT_ZEROS;
    fnn_net *net = fnn_net_create(&o, NULL);
    assert_non_null(net);
    return net;
}

static void adam_steps_match_formula(void **state) {
    (void)state;
    fnn_net *net = tiny_net();
    double *p = fnn_net_params(net);
    double *g = fnn_net_grads(net);
    p[0] = 1.0;
    p[1] = -2.0;
    fnn_optim_options oo = fnn_optim_options_default();
    oo.kind = FNN_ADAM;
    fnn_optim *opt = fnn_optim_create(net, &oo, NULL);
    assert_non_null(opt);
    double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double m = 0, v = 0, w = 1.0;
    const double grads[2] = {0.5, -0.25};
    for (int t = 1; t <= 2; t++) {
        g[0] = grads[t - 1];
        g[1] = 0;
        assert_int_equal(fnn_optim_step(opt, net, lr), FNN_OK);
        m = b1 * m + (1 - b1) * grads[t - 1];
        v = b2 * v + (1 - b2) * grads[t - 1] * grads[t - 1];
        double m_hat = m / (1 - pow(b1, t));
        double v_hat = v / (1 - pow(b2, t));
        w -= lr * m_hat / (sqrt(v_hat) + eps);
        assert_true(fabs(p[0] - w) < 1e-15);
    }
    // The first step moves by lr * g / (|g| + eps), about lr.
    assert_true(fabs((1.0 - 0.1 * 0.5 / (0.5 + 1e-8)) - 0.9) < 1e-8);
    // A zero gradient leaves the bias in place; one step counter for all.
    assert_true(p[1] == -2.0);
    assert_int_equal(fnn_optim_steps(opt), 2);
    fnn_optim_free(opt);
    fnn_net_free(net);
}

static void sgd_and_momentum_steps(void **state) {
    (void)state;
    fnn_net *net = tiny_net();
    double *p = fnn_net_params(net);
    double *g = fnn_net_grads(net);
    fnn_optim_options oo = fnn_optim_options_default();
    oo.kind = FNN_SGD;
    fnn_optim *sgd = fnn_optim_create(net, &oo, NULL);
    p[0] = 1.0;
    g[0] = 2.0;
    g[1] = 0;
    fnn_optim_step(sgd, net, 0.1);
    assert_true(fabs(p[0] - 0.8) < 1e-15);
    fnn_optim_free(sgd);
    oo.kind = FNN_MOMENTUM;
    oo.momentum = 0.9;
    fnn_optim *mom = fnn_optim_create(net, &oo, NULL);
    p[0] = 1.0;
    fnn_optim_step(mom, net, 0.1); // v = 2, p = 1 - 0.2
    fnn_optim_step(mom, net, 0.1); // v = 0.9 * 2 + 2 = 3.8, p = 0.8 - 0.38
    assert_true(fabs(p[0] - 0.42) < 1e-15);
    fnn_optim_free(mom);
    fnn_net_free(net);
}

static void schedules(void **state) {
    (void)state;
    assert_true(fnn_schedule_rate(FNN_SCHEDULE_CONSTANT, 0.1, 3, 10, 5, 0.1) ==
                0.1);
    assert_true(fabs(fnn_schedule_rate(FNN_SCHEDULE_STEP, 1, 7, 20, 5, 0.1) -
                     0.1) < 1e-15);
    assert_true(fabs(fnn_schedule_rate(FNN_SCHEDULE_COSINE, 1, 5, 10, 0, 0) -
                     0.5) < 1e-15);
    assert_true(fabs(fnn_schedule_rate(FNN_SCHEDULE_COSINE, 1, 0, 10, 0, 0) -
                     1.0) < 1e-15);
}

static void rng_uniform_and_normal_moments(void **state) {
    (void)state;
    fnn_rng a, b;
    fnn_rng_seed(&a, 99);
    fnn_rng_seed(&b, 99);
    double sum = 0, sq = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = fnn_rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
        assert_true(u == fnn_rng_uniform(&b));
        double z = fnn_rng_normal(&a);
        (void)fnn_rng_normal(&b);
        sum += z;
        sq += z * z;
    }
    // Mean 0 and variance 1 within about 5 standard errors.
    assert_true(fabs(sum / n) < 5 / sqrt(n));
    assert_true(fabs(sq / n - 1) < 5 * sqrt(2.0 / n));
    for (int i = 0; i < 1000; i++) {
        assert_true(fnn_rng_below(&a, 7) < 7);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_std_matches_formulas),
        cmocka_unit_test(init_auto_follows_activation),
        cmocka_unit_test(init_zeros_and_seed),
        cmocka_unit_test(welford_large_offset),
        cmocka_unit_test(zero_variance_feature_only_centered),
        cmocka_unit_test(adam_steps_match_formula),
        cmocka_unit_test(sgd_and_momentum_steps),
        cmocka_unit_test(schedules),
        cmocka_unit_test(rng_uniform_and_normal_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
