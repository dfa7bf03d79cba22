// Gradient check: the default evaluator against fnn_net_cost, correct
// networks passing, the hand-computed 2-2-1 kink and L2 cases, modes, and
// the entry point for a user's cost function.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "fastnn.h"

static const fnn_activation ACTIVATIONS[] = {
    FNN_RELU, FNN_LEAKY_RELU, FNN_TANH, FNN_SIGMOID, FNN_IDENTITY};
static const fnn_loss HEADS[] = {FNN_LOSS_SOFTMAX_CE, FNN_LOSS_SIGMOID_BCE,
                                 FNN_LOSS_MSE};

// A 5-4-3-k network with random weights and biases of the given dtype.
static fnn_net *small_net(fnn_activation g, fnn_loss loss, fnn_dtype dtype,
                          double l2, double keep_prob, uint64_t seed) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 3;
    o.sizes[0] = 5;
    o.sizes[1] = 4;
    o.sizes[2] = 3;
    o.sizes[3] = loss == FNN_LOSS_SOFTMAX_CE ? 3 : 2;
    o.activation = g;
    o.loss = loss;
    o.dtype = dtype;
    o.l2 = l2;
    o.keep_prob = keep_prob;
    o.seed = seed;
    o.init = FNN_INIT_NORMAL;
    fnn_net *net = fnn_net_create(&o, NULL);
    assert_non_null(net);
    fnn_rng rng;
    fnn_rng_seed(&rng, seed + 1);
    for (int l = 0; l < o.n_layers; l++) {
        int64_t b = fnn_net_bias_offset(net, l);
        for (int j = 0; j < o.sizes[l + 1]; j++) {
            double v = 0.3 * fnn_rng_normal(&rng);
            if (dtype == FNN_F64) {
                ((double *)fnn_net_params(net))[b + j] = v;
            } else {
                ((float *)fnn_net_params(net))[b + j] = (float)v;
            }
        }
    }
    return net;
}

#define BATCH 6

// Fills x [BATCH, 5] and labels for the head (classes 0..2, 0/1 targets,
// or real targets), in double.
static void batch_data(fnn_loss loss, uint64_t seed, double *x, double *y) {
    fnn_rng rng;
    fnn_rng_seed(&rng, seed);
    for (int i = 0; i < BATCH * 5; i++) {
        x[i] = fnn_rng_normal(&rng);
    }
    for (int i = 0; i < BATCH * 2; i++) {
        if (loss == FNN_LOSS_SOFTMAX_CE) {
            y[i] = (double)(i % 3);
        } else if (loss == FNN_LOSS_SIGMOID_BCE) {
            y[i] = (double)(i % 2);
        } else {
            y[i] = fnn_rng_normal(&rng);
        }
    }
}

// Sets central[k] for every coordinate from the blocks' worst lists, which
// hold every coordinate when no block has more than o->worst of them.
static void centrals(const fnn_gradcheck_report *r, double *central,
                     int64_t n) {
    int64_t seen = 0;
    for (int b = 0; b < r->n_blocks; b++) {
        const fnn_gradcheck_block *blk = &r->blocks[b];
        assert_int_equal(blk->n_worst, blk->rows * blk->cols);
        for (int i = 0; i < blk->n_worst; i++) {
            assert_true(blk->worst[i].index < n);
            central[blk->worst[i].index] = blk->worst[i].central;
            seen++;
        }
    }
    assert_int_equal(seen, n);
}

// The default evaluator (one column patched, the later layers rerun) and
// the reference one (fnn_net_cost for every J) give the same numerical
// gradient: both are the training code, so they differ only by rounding.
static void evaluators_case(fnn_activation g, fnn_loss loss, double keep) {
    fnn_net *net = small_net(g, loss, FNN_F64, 0.3, keep, 11);
    double x[BATCH * 5];
    double y[BATCH * 2];
    batch_data(loss, 3, x, y);
    int64_t n = fnn_net_param_count(net);
    double central[2][64];
    assert_true(n <= 64);
    for (int reference = 0; reference < 2; reference++) {
        fnn_gradcheck_options o = fnn_gradcheck_options_default();
        o.reference = reference;
        o.with_dropout = keep < 1;
        o.worst = FNN_GRADCHECK_MAX_WORST; // >= 20, the largest block
        o.mode = FNN_GRADCHECK_FULL;
        fnn_gradcheck_report r;
        assert_int_equal(fnn_gradcheck_run(net, x, y, BATCH, &o, &r, NULL),
                         FNN_OK);
        assert_int_equal(r.verdict, FNN_GRADCHECK_PASS);
        centrals(&r, central[reference], n);
        fnn_gradcheck_report_free(&r);
    }
    double diff = 0;
    double norm = 0;
    for (int64_t k = 0; k < n; k++) {
        double d = central[0][k] - central[1][k];
        diff += d * d;
        norm += central[1][k] * central[1][k];
        assert_true(fabs(d) <= 1e-6 * fabs(central[1][k]) + 1e-8);
    }
    assert_true(norm > 0);
    assert_true(sqrt(diff) <= 1e-6 * sqrt(norm));
    fnn_net_free(net);
}

static void evaluators_agree(void **state) {
    (void)state;
    for (int a = 0; a < 5; a++) {
        for (int h = 0; h < 3; h++) {
            evaluators_case(ACTIVATIONS[a], HEADS[h], 1.0);
            evaluators_case(ACTIVATIONS[a], HEADS[h], 0.6);
        }
    }
}

static void fill_batch_f32(fnn_loss loss, float *x, float *y) {
    double xd[BATCH * 5];
    double yd[BATCH * 2];
    batch_data(loss, 5, xd, yd);
    for (int i = 0; i < BATCH * 5; i++) {
        x[i] = (float)xd[i];
    }
    for (int i = 0; i < BATCH * 2; i++) {
        y[i] = (float)yd[i];
    }
}

static void check_passes(const fnn_net *net, const float *x, const float *y,
                         int reference) {
    fnn_gradcheck_options o = fnn_gradcheck_options_default();
    o.reference = reference;
    fnn_gradcheck_report r;
    fnn_error err = {{0}};
    assert_int_equal(fnn_gradcheck_run(net, x, y, BATCH, &o, &r, &err),
                     FNN_OK);
    assert_int_equal(r.mode, FNN_GRADCHECK_FULL);
    assert_int_equal(r.parameters_checked, fnn_net_param_count(net));
    assert_int_equal(r.evaluations, 2 * r.parameters_checked);
    assert_true(r.relative_difference < 1e-7);
    assert_int_equal(r.verdict, FNN_GRADCHECK_PASS);
    // Blocks with small gradients (after training) see more rounding
    // than the whole: one cost minus another at epsilon = 1e-7 leaves about
    // 1e-10 of noise per coordinate, so a block may warn but never fail.
    for (int b = 0; b < r.n_blocks; b++) {
        assert_true(r.blocks[b].relative_difference < 1e-6);
    }
    assert_int_equal(r.first_failure, -1);
    fnn_gradcheck_report_free(&r);
}

// Takes 40 Adam steps on the batch, so the check also runs away from the
// initialization.
static void train_steps(fnn_net *net, const float *x, const float *y) {
    fnn_optim_options oo = fnn_optim_options_default();
    oo.learning_rate = 0.05;
    fnn_optim *opt = fnn_optim_create(net, &oo, NULL);
    assert_non_null(opt);
    double first = 0;
    double last = 0;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(fnn_net_cost(net, x, y, BATCH, FNN_DROPOUT_OFF, 1,
                                      &last),
                         FNN_OK);
        first = i == 0 ? last : first;
        assert_int_equal(fnn_optim_step(opt, net, oo.learning_rate), FNN_OK);
    }
    assert_true(last < first);
    fnn_optim_free(opt);
}

static void correct_network_passes(void **state) {
    (void)state;
    for (int a = 0; a < 5; a++) {
        for (int h = 0; h < 3; h++) {
            for (int with_l2 = 0; with_l2 < 2; with_l2++) {
                fnn_net *net = small_net(ACTIVATIONS[a], HEADS[h], FNN_F32,
                                         with_l2 ? 0.2 : 0, 1, 21 + a);
                float x[BATCH * 5];
                float y[BATCH * 2];
                fill_batch_f32(HEADS[h], x, y);
                check_passes(net, x, y, 0);
                check_passes(net, x, y, 1);
                train_steps(net, x, y);
                check_passes(net, x, y, 0);
                fnn_net_free(net);
            }
        }
    }
}

// The 2-2-1 network of the documentation: ReLU hidden layer, linear output,
// J = 0.5 (y_hat - y)^2, W1 = [[1, -1], [0.5, 0.25]], b1 = 0, W2 = [[1, 1]],
// b2 = 0.
static fnn_net *net_221(double l2) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 2;
    o.sizes[0] = 2;
    o.sizes[1] = 2;
    o.sizes[2] = 1;
    o.activation = FNN_RELU;
    o.loss = FNN_LOSS_MSE;
    o.dtype = FNN_F64;
    o.l2 = l2;
    o.init = FNN_INIT_ZEROS;
    fnn_net *net = fnn_net_create(&o, NULL);
    assert_non_null(net);
    double *p = fnn_net_params(net);
    const double w1[4] = {1, -1, 0.5, 0.25};
    memcpy(p + fnn_net_weight_offset(net, 0), w1, sizeof w1);
    p[fnn_net_weight_offset(net, 1)] = 1;
    p[fnn_net_weight_offset(net, 1) + 1] = 1;
    return net;
}

static void kink_is_not_failure(void **state) {
    (void)state;
    fnn_net *net = net_221(0);
    // x = [1, 1] puts hidden unit 0 exactly at z = 0.
    const double x[2] = {1, 1};
    const double y[1] = {0};
    for (int reference = 0; reference < 2; reference++) {
        fnn_gradcheck_options o = fnn_gradcheck_options_default();
        o.reference = reference;
        fnn_gradcheck_report r;
        assert_int_equal(fnn_gradcheck_run(net, x, y, 1, &o, &r, NULL),
                         FNN_OK);
        // Perturbing W1[0, 0], W1[0, 1] or b1[0] moves z0 across 0.
        assert_int_equal(r.kinks, 3);
        assert_int_equal(r.blocks[0].kinks, 2);
        assert_int_equal(r.blocks[1].kinks, 1);
        // Plain central differences: 0.375 instead of 0 in those three
        // coordinates, so ||d|| / (||a|| + ||n||) = 0.19501 (by hand).
        assert_true(fabs(r.central_relative_difference - 0.1950118) < 1e-6);
        assert_true(r.relative_difference < 1e-7);
        assert_int_equal(r.verdict, FNN_GRADCHECK_PASS);
        // At the kink: left slope 0, right slope dJ/dy_hat * x = 0.75.
        const fnn_gradcheck_coord *c = &r.blocks[0].worst[0];
        int found = 0;
        for (int i = 0; i < r.blocks[0].n_worst; i++) {
            c = &r.blocks[0].worst[i];
            if (c->kink && c->row == 0 && c->col == 0) {
                found = 1;
                break;
            }
        }
        assert_true(found);
        assert_true(fabs(c->left) < 1e-12);
        assert_true(fabs(c->right - 0.75) < 1e-6);
        assert_true(fabs(c->central - 0.375) < 1e-6);
        assert_true(c->analytic == 0);
        fnn_gradcheck_report_free(&r);
    }
    fnn_net_free(net);
}

static void l2_in_cost_and_gradient(void **state) {
    (void)state;
    fnn_net *net = net_221(0.1);
    // x = [1, 0.5]: z = [0.5, 0.625], away from the kink; y_hat = 1.125.
    const double x[2] = {1, 0.5};
    const double y[1] = {0};
    double cost;
    assert_int_equal(fnn_net_cost(net, x, y, 1, FNN_DROPOUT_OFF, 1, &cost),
                     FNN_OK);
    // 0.5 * 1.125^2 + 0.1 / 2 * (1 + 1 + 0.25 + 0.0625 + 1 + 1)
    assert_true(fabs(cost - 0.8484375) < 1e-15);
    const double *g = fnn_net_grads(net);
    // dJ/dW2[0] = 1.125 * 0.5 + 0.1 * 1; dJ/dW1[1, 1] = 1.125 * 0.5 + 0.025
    assert_true(fabs(g[fnn_net_weight_offset(net, 1)] - 0.6625) < 1e-15);
    assert_true(fabs(g[fnn_net_weight_offset(net, 0) + 3] - 0.5875) < 1e-15);
    fnn_gradcheck_report r;
    assert_int_equal(fnn_gradcheck_run(net, x, y, 1, NULL, &r, NULL),
                     FNN_OK);
    assert_int_equal(r.kinks, 0);
    assert_true(r.relative_difference < 1e-8);
    assert_int_equal(r.verdict, FNN_GRADCHECK_PASS);
    fnn_gradcheck_report_free(&r);
    fnn_net_free(net);
}

static void parameters_bit_identical(void **state) {
    (void)state;
    for (int dt = 0; dt < 2; dt++) {
        fnn_dtype dtype = dt ? FNN_F64 : FNN_F32;
        fnn_net *net = small_net(FNN_RELU, FNN_LOSS_SOFTMAX_CE, dtype, 0.1,
                                 0.7, 5);
        size_t bytes = (size_t)fnn_net_param_count(net) *
                       (dtype == FNN_F64 ? 8 : 4);
        unsigned char before[2048];
        assert_true(bytes <= sizeof before);
        memcpy(before, fnn_net_params(net), bytes);
        double xd[BATCH * 5];
        double yd[BATCH * 2];
        float xf[BATCH * 5];
        float yf[BATCH * 2];
        batch_data(FNN_LOSS_SOFTMAX_CE, 9, xd, yd);
        for (int i = 0; i < BATCH * 5; i++) {
            xf[i] = (float)xd[i];
        }
        for (int i = 0; i < BATCH * 2; i++) {
            yf[i] = (float)yd[i];
        }
        const void *x = dt ? (const void *)xd : (const void *)xf;
        const void *y = dt ? (const void *)yd : (const void *)yf;
        for (int mode = 1; mode <= 3; mode++) {
            for (int reference = 0; reference < 2; reference++) {
                fnn_gradcheck_options o = fnn_gradcheck_options_default();
                o.mode = (fnn_gradcheck_mode)mode;
                o.reference = reference;
                o.with_dropout = 1;
                fnn_gradcheck_report r;
                assert_int_equal(
                    fnn_gradcheck_run(net, x, y, BATCH, &o, &r, NULL),
                    FNN_OK);
                assert_int_equal(r.with_dropout, 1);
                assert_int_equal(r.verdict, FNN_GRADCHECK_PASS);
                fnn_gradcheck_report_free(&r);
                assert_memory_equal(before, fnn_net_params(net), bytes);
            }
        }
        fnn_net_free(net);
    }
}

static void dropout_off_by_default(void **state) {
    (void)state;
    fnn_net *net = small_net(FNN_TANH, FNN_LOSS_SOFTMAX_CE, FNN_F64, 0, 0.5,
                             8);
    double x[BATCH * 5];
    double y[BATCH * 2];
    batch_data(FNN_LOSS_SOFTMAX_CE, 4, x, y);
    fnn_gradcheck_report r;
    assert_int_equal(fnn_gradcheck_run(net, x, y, BATCH, NULL, &r, NULL),
                     FNN_OK);
    assert_int_equal(r.with_dropout, 0);
    assert_true(r.keep_prob == 0.5);
    assert_int_equal(r.verdict, FNN_GRADCHECK_PASS);
    fnn_gradcheck_report_free(&r);
    fnn_net_free(net);
}

static void modes_count_coordinates(void **state) {
    (void)state;
    fnn_net *net = small_net(FNN_SIGMOID, FNN_LOSS_MSE, FNN_F64, 0.1, 1, 2);
    double x[BATCH * 5];
    double y[BATCH * 2];
    batch_data(FNN_LOSS_MSE, 6, x, y);
    fnn_gradcheck_options o = fnn_gradcheck_options_default();
    fnn_gradcheck_report r;

    o.mode = FNN_GRADCHECK_PER_BLOCK;
    o.per_block = 3;
    assert_int_equal(fnn_gradcheck_run(net, x, y, BATCH, &o, &r, NULL),
                     FNN_OK);
    // Blocks of 20, 4, 12, 3, 6, 2 values: 3 each, the last one 2.
    assert_int_equal(r.parameters_checked, 3 * 5 + 2);
    double cost;
    assert_int_equal(fnn_net_cost(net, x, y, BATCH, FNN_DROPOUT_OFF, 1, &cost),
                     FNN_OK);
    const double *g = fnn_net_grads(net);
    for (int b = 0; b < r.n_blocks; b++) {
        const fnn_gradcheck_block *blk = &r.blocks[b];
        assert_int_equal(blk->checked, blk->rows * blk->cols < 3
                                           ? blk->rows * blk->cols
                                           : 3);
        // The coordinate with the largest |analytic| is always included.
        int64_t best = blk->offset;
        for (int64_t k = blk->offset; k < blk->offset + blk->rows * blk->cols;
             k++) {
            best = fabs(g[k]) > fabs(g[best]) ? k : best;
        }
        int found = 0;
        for (int i = 0; i < blk->n_worst; i++) {
            found |= blk->worst[i].index == best;
        }
        assert_true(found);
    }
    fnn_gradcheck_report_free(&r);

    o.mode = FNN_GRADCHECK_DIRECTIONS;
    o.directions = 7;
    assert_int_equal(fnn_gradcheck_run(net, x, y, BATCH, &o, &r, NULL),
                     FNN_OK);
    assert_int_equal(r.parameters_checked, 7);
    assert_int_equal(r.evaluations, 14);
    assert_int_equal(r.verdict, FNN_GRADCHECK_PASS);
    assert_int_equal(r.blocks[0].verdict, FNN_GRADCHECK_NOT_CHECKED);
    fnn_gradcheck_report_free(&r);

    o.mode = FNN_GRADCHECK_AUTO;
    o.max_full_params = 10;
    assert_int_equal(fnn_gradcheck_run(net, x, y, BATCH, &o, &r, NULL),
                     FNN_OK);
    assert_int_equal(r.mode, FNN_GRADCHECK_PER_BLOCK);
    fnn_gradcheck_report_free(&r);
    fnn_net_free(net);
}

// J = sum_i c_i theta_i^2 + theta_0 theta_1, split into blocks "a" [2, 2]
// and "b" [3, 1]. flip_b negates the gradient of block b.
typedef struct quadratic {
    int flip_b;
    int calls;
} quadratic;

static int quadratic_cost(void *user, const double *t, double *cost,
                          double *grad) {
    quadratic *q = user;
    q->calls++;
    double j = t[0] * t[1];
    for (int i = 0; i < 7; i++) {
        j += (i + 1) * t[i] * t[i];
        if (grad) {
            grad[i] = 2 * (i + 1) * t[i];
        }
    }
    if (grad) {
        grad[0] += t[1];
        grad[1] += t[0];
        for (int i = 4; q->flip_b && i < 7; i++) {
            grad[i] = -grad[i];
        }
    }
    *cost = j;
    return 0;
}

static void user_function(void **state) {
    (void)state;
    const double theta[7] = {0.5, -1, 2, 0.25, 1.5, -0.75, 3};
    double copy[7];
    memcpy(copy, theta, sizeof copy);
    const fnn_gradcheck_block_spec blocks[2] = {{"a", 2, 2}, {"b", 3, 1}};
    quadratic q = {0};
    fnn_gradcheck_report r;
    assert_int_equal(fnn_gradcheck_function(quadratic_cost, &q, theta, 7,
                                            blocks, 2, NULL, &r, NULL),
                     FNN_OK);
    assert_int_equal(q.calls, 1 + 2 * 7);
    assert_int_equal(r.verdict, FNN_GRADCHECK_PASS);
    assert_string_equal(r.blocks[1].name, "b");
    assert_int_equal(r.blocks[0].worst[0].row * 2 + r.blocks[0].worst[0].col,
                     r.blocks[0].worst[0].index);
    fnn_gradcheck_report_free(&r);
    assert_memory_equal(theta, copy, sizeof copy);

    // A wrong sign is caught (the check compares signed values) and
    // located in block b only.
    q.flip_b = 1;
    assert_int_equal(fnn_gradcheck_function(quadratic_cost, &q, theta, 7,
                                            blocks, 2, NULL, &r, NULL),
                     FNN_OK);
    assert_int_equal(r.verdict, FNN_GRADCHECK_FAIL);
    assert_int_equal(r.blocks[0].verdict, FNN_GRADCHECK_PASS);
    assert_int_equal(r.blocks[1].verdict, FNN_GRADCHECK_FAIL);
    // Block b: analytic -g, numerical g, so ||2g|| / ||2g|| = 1.
    assert_true(fabs(r.blocks[1].relative_difference - 1) < 1e-6);
    assert_int_equal(r.worst[0].block, 1);
    fnn_gradcheck_report_free(&r);
}

static int zero_cost(void *user, const double *t, double *cost,
                     double *grad) {
    (void)user;
    (void)t;
    *cost = 1.5;
    if (grad) {
        grad[0] = grad[1] = 0;
    }
    return 0;
}

static int failing_cost(void *user, const double *t, double *cost,
                        double *grad) {
    (void)user;
    (void)grad;
    *cost = 0;
    return t[0] != 1; // fails once perturbed
}

static void zero_gradient_and_errors(void **state) {
    (void)state;
    const double theta[2] = {1, 2};
    fnn_gradcheck_report r;
    assert_int_equal(fnn_gradcheck_function(zero_cost, NULL, theta, 2, NULL,
                                            0, NULL, &r, NULL),
                     FNN_OK);
    // Both norms are 0: the relative difference is 0, not NaN.
    assert_true(r.relative_difference == 0);
    assert_int_equal(r.verdict, FNN_GRADCHECK_PASS);
    assert_string_equal(r.blocks[0].name, "theta");
    fnn_gradcheck_report_free(&r);

    fnn_error err = {{0}};
    assert_int_equal(fnn_gradcheck_function(failing_cost, NULL, theta, 2,
                                            NULL, 0, NULL, &r, &err),
                     FNN_ERR_INTERRUPTED);
    assert_null(r.blocks);

    const fnn_gradcheck_block_spec bad[1] = {{"a", 3, 1}};
    assert_int_equal(fnn_gradcheck_function(zero_cost, NULL, theta, 2, bad,
                                            1, NULL, &r, &err),
                     FNN_ERR_INVALID);
    assert_non_null(strstr(err.message, "block 0"));

    fnn_gradcheck_options o = fnn_gradcheck_options_default();
    o.epsilon = 0;
    assert_int_equal(fnn_gradcheck_function(zero_cost, NULL, theta, 2, NULL,
                                            0, &o, &r, &err),
                     FNN_ERR_INVALID);
    assert_non_null(strstr(err.message, "epsilon"));
}

static void names_round_trip(void **state) {
    (void)state;
    for (int m = 0; m <= FNN_GRADCHECK_DIRECTIONS; m++) {
        fnn_gradcheck_mode out;
        const char *name = fnn_gradcheck_mode_name((fnn_gradcheck_mode)m);
        assert_int_equal(fnn_gradcheck_mode_parse(name, &out), FNN_OK);
        assert_int_equal(out, m);
    }
    fnn_gradcheck_mode out;
    assert_int_equal(fnn_gradcheck_mode_parse("fast", &out), FNN_ERR_INVALID);
    assert_string_equal(fnn_gradcheck_verdict_name(FNN_GRADCHECK_WARN),
                        "warn");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(evaluators_agree),
        cmocka_unit_test(correct_network_passes),
        cmocka_unit_test(kink_is_not_failure),
        cmocka_unit_test(l2_in_cost_and_gradient),
        cmocka_unit_test(parameters_bit_identical),
        cmocka_unit_test(dropout_off_by_default),
        cmocka_unit_test(modes_count_coordinates),
        cmocka_unit_test(user_function),
        cmocka_unit_test(zero_gradient_and_errors),
        cmocka_unit_test(names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
