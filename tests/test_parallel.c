// Training passes split over threads (parallel.c). The gradient on several
// threads must equal the single-threaded fnn_net_cost gradient up to the
// rounding of sums taken in another order, for every activation and head,
// with and without dropout and L2. One thread must give exactly the bits of
// fnn_net_cost, and repeated multi-threaded runs must be bit-identical.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net_internal.h"

#include <math.h>
#include <string.h>

enum { N_IN = 13, HIDDEN1 = 24, HIDDEN2 = 16, BATCH = 37 };

typedef struct pass_case {
    fnn_activation activation;
    fnn_loss loss;
    int n_out;
    double keep_prob;
    double l2;
    fnn_dtype dtype;
} pass_case;

static fnn_net *make_net(const pass_case *c, int threads) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 3;
    o.sizes[0] = N_IN;
    o.sizes[1] = HIDDEN1;
    o.sizes[2] = HIDDEN2;
    o.sizes[3] = c->n_out;
    o.activation = c->activation;
    o.loss = c->loss;
    o.keep_prob = c->keep_prob;
    o.l2 = c->l2;
    o.dtype = c->dtype;
    o.seed = 1234;
    fnn_net *net = fnn_net_create(&o, NULL);
    assert_non_null(net);
    assert_int_equal(fnn_net_set_threads(net, threads), FNN_OK);
    return net;
}

// Stores v in x[i] in the case's dtype.
static void put(const pass_case *c, void *x, int64_t i, double v) {
    if (c->dtype == FNN_F64) {
        ((double *)x)[i] = v;
    } else {
        ((float *)x)[i] = (float)v;
    }
}

static double get(fnn_dtype dtype, const void *x, int64_t i) {
    return dtype == FNN_F64 ? ((const double *)x)[i]
                            : ((const float *)x)[i];
}

// Inputs [BATCH, N_IN] uniform in [-2, 2], and targets: a class index for
// softmax, [BATCH, n_out] 0/1 for BCE, [BATCH, n_out] reals for MSE.
static void make_batch(const pass_case *c, void *x, void *y) {
    fnn_rng rng;
    fnn_rng_seed(&rng, 99);
    for (int64_t i = 0; i < (int64_t)BATCH * N_IN; i++) {
        put(c, x, i, 4 * fnn_rng_uniform(&rng) - 2);
    }
    int per_row = c->loss == FNN_LOSS_SOFTMAX_CE ? 1 : c->n_out;
    for (int64_t i = 0; i < (int64_t)BATCH * per_row; i++) {
        double u = fnn_rng_uniform(&rng);
        double v = c->loss == FNN_LOSS_SOFTMAX_CE   ? floor(u * c->n_out)
                   : c->loss == FNN_LOSS_SIGMOID_BCE ? (u < 0.5)
                                                     : 2 * u - 1;
        put(c, y, i, v);
    }
}

// ||a - b|| / ||b|| over the gradient vectors of two networks.
static double relative_difference(fnn_net *a, fnn_net *b) {
    fnn_dtype dtype = a->opt.dtype;
    double diff = 0, norm = 0;
    for (int64_t i = 0; i < a->n_params; i++) {
        double ga = get(dtype, a->grads, i), gb = get(dtype, b->grads, i);
        diff += (ga - gb) * (ga - gb);
        norm += gb * gb;
    }
    return sqrt(diff) / sqrt(norm);
}

static double x_buf[BATCH * N_IN], y_buf[BATCH * 4];

// Runs the case on `threads` threads against fnn_net_cost on one thread.
static void check_case(const pass_case *c, int threads) {
    make_batch(c, x_buf, y_buf);
    fnn_net *ref = make_net(c, 1);
    fnn_net *par = make_net(c, threads);
    double cost;
    assert_int_equal(fnn_net_cost(ref, x_buf, y_buf, BATCH,
                                  FNN_DROPOUT_SAMPLE, 1, &cost),
                     FNN_OK);
    double loss_sum = 0;
    int finite = -1;
    assert_int_equal(
        fnn_net_train_pass(par, x_buf, y_buf, BATCH, NULL, NULL, &loss_sum,
                           &finite),
        FNN_OK);
    // The reduction checks float32 gradients only.
    assert_int_equal(finite, c->dtype == FNN_F32 ? 1 : -1);
    double par_cost = loss_sum / BATCH + fnn_net_l2_term(par, BATCH);
    double tol = c->dtype == FNN_F64 ? 1e-13 : 1e-6;
    double rel = relative_difference(par, ref);
    if (!(rel <= tol)) {
        fail_msg("%s/%s keep %g l2 %g %s, %d threads: gradient differs by "
                 "%.3g relative (tolerance %g)",
                 fnn_activation_name(c->activation), fnn_loss_name(c->loss),
                 c->keep_prob, c->l2, fnn_dtype_name(c->dtype), threads, rel,
                 tol);
    }
    assert_true(fabs(par_cost - cost) <= tol * fabs(cost));
    // The masks come from the same draws of the network's generator.
    assert_memory_equal(&par->rng_dropout, &ref->rng_dropout,
                        sizeof ref->rng_dropout);
    fnn_net_free(ref);
    fnn_net_free(par);
}

static void pass_matches_one_thread(void **state) {
    (void)state;
    const fnn_activation acts[] = {FNN_RELU, FNN_LEAKY_RELU, FNN_TANH,
                                   FNN_SIGMOID, FNN_IDENTITY};
    const struct {
        fnn_loss loss;
        int n_out;
    } heads[] = {{FNN_LOSS_SOFTMAX_CE, 4},
                 {FNN_LOSS_SIGMOID_BCE, 1},
                 {FNN_LOSS_SIGMOID_BCE, 3},
                 {FNN_LOSS_MSE, 2}};
    const double keeps[] = {1.0, 0.7};
    const double l2s[] = {0.0, 0.05};
    const fnn_dtype dtypes[] = {FNN_F32, FNN_F64};
    for (int a = 0; a < 5; a++) {
        for (int h = 0; h < 4; h++) {
            for (int k = 0; k < 2; k++) {
                for (int r = 0; r < 2; r++) {
                    for (int d = 0; d < 2; d++) {
                        pass_case c = {acts[a], heads[h].loss,
                                       heads[h].n_out, keeps[k], l2s[r],
                                       dtypes[d]};
                        check_case(&c, 2);
                    }
                }
            }
        }
    }
}

// Three threads on 37 rows (13 + 12 + 12), and more threads than rows.
static void pass_other_thread_counts(void **state) {
    (void)state;
    pass_case c = {FNN_RELU, FNN_LOSS_SOFTMAX_CE, 4, 0.8, 0.01, FNN_F32};
    check_case(&c, 3);
    check_case(&c, FNN_MAX_THREADS);
    c.dtype = FNN_F64;
    check_case(&c, 3);
}

// With one thread, fnn_net_train_pass is the plain path: same bits as
// fnn_net_cost, dropout included.
static void one_thread_bit_identical(void **state) {
    (void)state;
    pass_case c = {FNN_TANH, FNN_LOSS_SOFTMAX_CE, 4, 0.6, 0.1, FNN_F32};
    make_batch(&c, x_buf, y_buf);
    fnn_net *ref = make_net(&c, 1);
    fnn_net *one = make_net(&c, 1);
    for (int step = 0; step < 3; step++) {
        double cost, loss_sum = 0;
        assert_int_equal(fnn_net_cost(ref, x_buf, y_buf, BATCH,
                                      FNN_DROPOUT_SAMPLE, 1, &cost),
                         FNN_OK);
        assert_int_equal(fnn_net_train_pass(one, x_buf, y_buf, BATCH, NULL,
                                            NULL, &loss_sum, NULL),
                         FNN_OK);
        assert_memory_equal(one->grads, ref->grads,
                            (size_t)ref->n_params * sizeof(float));
        assert_true(loss_sum / BATCH + fnn_net_l2_term(one, BATCH) == cost);
    }
    fnn_net_free(ref);
    fnn_net_free(one);
}

// A NaN input in the last row, which the last thread owns: the pass reports
// a non-finite loss, leaves the network's gradient as it was and leaves the
// whole batch's activations in the network's buffers.
static void nonfinite_in_last_thread(void **state) {
    (void)state;
    // tanh carries the NaN to the loss; ReLU would turn it into 0.
    pass_case c = {FNN_TANH, FNN_LOSS_SOFTMAX_CE, 4, 1.0, 0.0, FNN_F32};
    make_batch(&c, x_buf, y_buf);
    put(&c, x_buf, (int64_t)(BATCH - 1) * N_IN + 3, NAN);
    fnn_net *net = make_net(&c, 2);
    float *grads = net->grads;
    for (int64_t i = 0; i < net->n_params; i++) {
        grads[i] = 7.0f;
    }
    double loss_sum = 0;
    assert_int_equal(
        fnn_net_train_pass(net, x_buf, y_buf, BATCH, NULL, NULL, &loss_sum,
                           NULL),
        FNN_ERR_NONFINITE);
    for (int64_t i = 0; i < net->n_params; i++) {
        assert_true(grads[i] == 7.0f);
    }
    assert_int_equal(fnn_net_first_nonfinite_layer(net, BATCH), 0);
    const float *z0 = net->z[0];
    assert_true(isnan(z0[(BATCH - 1) * HIDDEN1]));
    assert_true(isfinite(z0[0]));
    fnn_net_free(net);
}

// A finite loss with an infinite gradient: a first-layer weight of 3e38
// meets an input column of zeros, so the forward pass stays finite, but its
// L2 gradient (100 / 37) 3e38 overflows. The reduction must report it.
static void nonfinite_gradient_reported(void **state) {
    (void)state;
    pass_case c = {FNN_RELU, FNN_LOSS_SOFTMAX_CE, 2, 1.0, 100.0, FNN_F32};
    make_batch(&c, x_buf, y_buf);
    for (int i = 0; i < BATCH; i++) {
        put(&c, x_buf, (int64_t)i * N_IN + 3, 0);
    }
    fnn_net *net = make_net(&c, 2);
    ((float *)net->params)[net->w_off[0] + 3] = 3e38f;
    double loss_sum = 0;
    int finite = -1;
    assert_int_equal(
        fnn_net_train_pass(net, x_buf, y_buf, BATCH, NULL, NULL, &loss_sum,
                           &finite),
        FNN_OK);
    assert_true(isfinite(loss_sum));
    assert_int_equal(finite, 0);
    assert_true(isinf(((float *)net->grads)[net->w_off[0] + 3]));
    fnn_net_free(net);
}

// A two-class data set: the label is 1 when x0 + x1 > 0.
static fnn_dataset *toy_data(void) {
    enum { ROWS = 203, FEATURES = N_IN };
    static float x[ROWS * FEATURES], y[ROWS];
    static fnn_dataset ds;
    fnn_rng rng;
    fnn_rng_seed(&rng, 5);
    for (int i = 0; i < ROWS * FEATURES; i++) {
        x[i] = (float)(2 * fnn_rng_uniform(&rng) - 1);
    }
    for (int i = 0; i < ROWS; i++) {
        y[i] = x[i * FEATURES] + x[i * FEATURES + 1] > 0;
    }
    ds = (fnn_dataset){.n_rows = ROWS, .n_features = FEATURES, .f32 = x,
                       .labels = y, .n_classes = 2, .labels_integer = 1};
    return &ds;
}

// Trains 3 epochs of batch 24 (the last batch has 11 rows) and copies the
// parameters to out.
static void train_run(int threads, fnn_optimizer kind, float *out) {
    pass_case c = {FNN_RELU, FNN_LOSS_SOFTMAX_CE, 2, 0.8, 0.01, FNN_F32};
    fnn_net *net = make_net(&c, threads);
    fnn_train_options to = fnn_train_options_default();
    to.epochs = 3;
    to.batch_size = 24;
    to.optim.kind = kind;
    to.optim.learning_rate = kind == FNN_ADAM ? 1e-2 : 0.05;
    assert_int_equal(fnn_train(net, toy_data(), NULL, &to, NULL), FNN_OK);
    memcpy(out, net->params, (size_t)net->n_params * sizeof(float));
    fnn_net_free(net);
}

static void training_repeatable(void **state) {
    (void)state;
    enum { N_PARAMS = N_IN * HIDDEN1 + HIDDEN1 + HIDDEN1 * HIDDEN2 + HIDDEN2 +
                      HIDDEN2 * 2 + 2 };
    static float one[N_PARAMS], two[3][N_PARAMS];
    const fnn_optimizer kinds[] = {FNN_ADAM, FNN_MOMENTUM};
    for (int k = 0; k < 2; k++) {
        train_run(1, kinds[k], one);
        for (int r = 0; r < 3; r++) {
            train_run(2, kinds[k], two[r]);
        }
        assert_memory_equal(two[0], two[1], sizeof two[0]);
        assert_memory_equal(two[0], two[2], sizeof two[0]);
        // Two threads follow the one-thread run up to rounding.
        double diff = 0, norm = 0;
        for (int i = 0; i < N_PARAMS; i++) {
            diff += ((double)two[0][i] - one[i]) * ((double)two[0][i] - one[i]);
            norm += (double)one[i] * one[i];
        }
        assert_true(sqrt(diff) <= 1e-4 * sqrt(norm));
    }
}

// An update split into blocks over threads gives the bits of one thread:
// 300-200-10 has 62,210 parameters, several update blocks.
static void optimizer_split_bit_identical(void **state) {
    (void)state;
    const fnn_optimizer kinds[] = {FNN_SGD, FNN_MOMENTUM, FNN_ADAM};
    for (int k = 0; k < 3; k++) {
        fnn_net_options o = fnn_net_options_default();
        o.n_layers = 2;
        o.sizes[0] = 300;
        o.sizes[1] = 200;
        o.sizes[2] = 10;
        fnn_net *nets[2];
        fnn_optim *opts[2];
        fnn_optim_options oo = fnn_optim_options_default();
        oo.kind = kinds[k];
        for (int n = 0; n < 2; n++) {
            nets[n] = fnn_net_create(&o, NULL);
            assert_non_null(nets[n]);
            assert_int_equal(fnn_net_set_threads(nets[n], n + 1), FNN_OK);
            opts[n] = fnn_optim_create(nets[n], &oo, NULL);
            assert_non_null(opts[n]);
        }
        int64_t count = fnn_net_param_count(nets[0]);
        for (int step = 0; step < 3; step++) {
            fnn_rng rng;
            fnn_rng_seed(&rng, (uint64_t)step);
            for (int64_t i = 0; i < count; i++) {
                float g = (float)(fnn_rng_uniform(&rng) - 0.5);
                ((float *)nets[0]->grads)[i] = g;
                ((float *)nets[1]->grads)[i] = g;
            }
            for (int n = 0; n < 2; n++) {
                assert_int_equal(fnn_optim_step(opts[n], nets[n], 0.01),
                                 FNN_OK);
            }
            assert_memory_equal(nets[0]->params, nets[1]->params,
                                (size_t)count * sizeof(float));
        }
        for (int n = 0; n < 2; n++) {
            fnn_optim_free(opts[n]);
            fnn_net_free(nets[n]);
        }
    }
}

// Evaluation gathers and normalizes its rows in blocks on the network's
// threads. A u8 data set evaluated through the network's normalization must
// give the loss bits of the same rows normalized here by the formula and
// evaluated without normalization, on 1 and 3 threads. 37 features: two
// 16-wide vector blocks and a tail; 203 rows: several blocks and a short one.
static void gather_split_matches_formula(void **state) {
    (void)state;
    enum { ROWS = 203, FEATURES = 37 };
    static uint8_t raw[ROWS * FEATURES];
    static float scaled[ROWS * FEATURES], raw_f32[ROWS * FEATURES], y[ROWS];
    double mean[FEATURES], std[FEATURES];
    fnn_rng rng;
    fnn_rng_seed(&rng, 11);
    for (int j = 0; j < FEATURES; j++) {
        mean[j] = 255 * fnn_rng_uniform(&rng);
        std[j] = 0.01 + 90 * fnn_rng_uniform(&rng);
    }
    for (int i = 0; i < ROWS; i++) {
        for (int j = 0; j < FEATURES; j++) {
            int k = i * FEATURES + j;
            raw[k] = (uint8_t)(256 * fnn_rng_uniform(&rng));
            raw_f32[k] = (float)raw[k] + 0.25f;
        }
        y[i] = (float)(i % 3);
    }

    fnn_dataset from_u8 = {.n_rows = ROWS, .n_features = FEATURES, .u8 = raw,
                           .labels = y, .n_classes = 3, .labels_integer = 1};
    fnn_dataset from_f32 = from_u8;
    from_f32.u8 = NULL;
    from_f32.f32 = raw_f32;
    fnn_dataset *sources[2] = {&from_u8, &from_f32};

    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 2;
    o.sizes[0] = FEATURES;
    o.sizes[1] = 20;
    o.sizes[2] = 3;
    for (int src = 0; src < 2; src++) {
        for (int k = 0; k < ROWS * FEATURES; k++) {
            double v = src == 0 ? (double)raw[k] : (double)raw_f32[k];
            int j = k % FEATURES;
            scaled[k] = (float)((v - mean[j]) / std[j]);
        }
        fnn_dataset formula = from_f32;
        formula.f32 = scaled;

        fnn_net *plain = fnn_net_create(&o, NULL);
        fnn_net *normed = fnn_net_create(&o, NULL);
        assert_non_null(plain);
        assert_non_null(normed);
        assert_int_equal(
            fnn_net_set_normalization(normed, mean, std), FNN_OK);
        fnn_eval_result want, got;
        assert_int_equal(fnn_evaluate(plain, &formula, &want, NULL), FNN_OK);
        for (int threads = 1; threads <= 3; threads += 2) {
            assert_int_equal(fnn_net_set_threads(normed, threads), FNN_OK);
            assert_int_equal(fnn_evaluate(normed, sources[src], &got, NULL),
                             FNN_OK);
            assert_memory_equal(&got.loss, &want.loss, sizeof want.loss);
            assert_true(got.accuracy == want.accuracy);
        }
        fnn_net_free(plain);
        fnn_net_free(normed);
    }
}

static void set_threads_validates(void **state) {
    (void)state;
    pass_case c = {FNN_RELU, FNN_LOSS_SOFTMAX_CE, 2, 1.0, 0.0, FNN_F32};
    fnn_net *net = make_net(&c, 1);
    assert_int_equal(fnn_net_threads(net), 1);
    assert_int_equal(fnn_net_set_threads(net, 0), FNN_ERR_INVALID);
    assert_int_equal(fnn_net_set_threads(net, FNN_MAX_THREADS + 1),
                     FNN_ERR_INVALID);
    assert_int_equal(fnn_net_set_threads(NULL, 2), FNN_ERR_INVALID);
    assert_int_equal(fnn_net_threads(NULL), 1);
    assert_int_equal(fnn_net_set_threads(net, 4), FNN_OK);
    assert_int_equal(fnn_net_threads(net), 4);
    assert_int_equal(fnn_net_set_threads(net, 2), FNN_OK);
    assert_int_equal(fnn_net_threads(net), 2);
    assert_int_equal(fnn_net_set_threads(net, 1), FNN_OK);
    assert_int_equal(fnn_net_threads(net), 1);
    assert_null(net->pool);
    fnn_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pass_matches_one_thread),
        cmocka_unit_test(pass_other_thread_counts),
        cmocka_unit_test(one_thread_bit_identical),
        cmocka_unit_test(nonfinite_in_last_thread),
        cmocka_unit_test(nonfinite_gradient_reported),
        cmocka_unit_test(training_repeatable),
        cmocka_unit_test(optimizer_split_bit_identical),
        cmocka_unit_test(gather_split_matches_formula),
        cmocka_unit_test(set_threads_validates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
