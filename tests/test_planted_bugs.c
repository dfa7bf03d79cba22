// Proof that the gradient check can fail: one bug at a time is planted in
// the backward pass through the FNN_TESTING hook, and the check must fail
// and name the blocks the bug corrupts, while the others still pass.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fastnn.h"

#define BATCH 8
#define N_IN 6

// A 6-5-4-3 network (layers.0 to layers.2) with softmax output.
static fnn_net *planted_net(fnn_activation g, double l2) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 3;
    o.sizes[0] = N_IN;
    o.sizes[1] = 5;
    o.sizes[2] = 4;
    o.sizes[3] = 3;
    o.activation = g;
    o.loss = FNN_LOSS_SOFTMAX_CE;
    o.l2 = l2;
    o.seed = 3;
    fnn_net *net = fnn_net_create(&o, NULL);
    assert_non_null(net);
    return net;
}

static void batch(float *x, float *y) {
    fnn_rng rng;
    fnn_rng_seed(&rng, 17);
    for (int i = 0; i < BATCH * N_IN; i++) {
        x[i] = (float)fnn_rng_normal(&rng);
    }
    for (int i = 0; i < BATCH; i++) {
        y[i] = (float)((i * 7) % 3); // every class, neighbours differ
    }
}

// Block b is expected to fail when bit b of fail_mask is set. Blocks are
// layers.0.weight, layers.0.bias, layers.1.weight, ... in order.
typedef struct planted_case {
    const char *description;
    fnn_testing_bug bug;
    int layer;
    fnn_activation activation;
    double l2;
    unsigned fail_mask;
    int first_failure_layer;
} planted_case;

static void run_case(const planted_case *c, int reference) {
    fnn_net *net = planted_net(c->activation, c->l2);
    assert_int_equal(fnn_testing_plant_bug(net, c->bug, c->layer), FNN_OK);
    float x[BATCH * N_IN];
    float y[BATCH];
    batch(x, y);
    fnn_gradcheck_options o = fnn_gradcheck_options_default();
    o.reference = reference;
    fnn_gradcheck_report r;
    assert_int_equal(fnn_gradcheck_run(net, x, y, BATCH, &o, &r, NULL),
                     FNN_OK);
    print_message("%-32s reference %d: relative difference %.3e\n",
                  c->description, reference, r.relative_difference);
    assert_int_equal(r.verdict, FNN_GRADCHECK_FAIL);
    for (int b = 0; b < r.n_blocks; b++) {
        int expected = (c->fail_mask >> b) & 1;
        if (expected) {
            assert_int_equal(r.blocks[b].verdict, FNN_GRADCHECK_FAIL);
        } else {
            assert_int_equal(r.blocks[b].verdict, FNN_GRADCHECK_PASS);
        }
    }
    assert_true(r.first_failure >= 0);
    assert_int_equal(r.blocks[r.first_failure].layer, c->first_failure_layer);
    fnn_gradcheck_report_free(&r);
    fnn_net_free(net);
}

#define W(l) (1u << (2 * (l)))
#define B(l) (1u << (2 * (l) + 1))

static const planted_case CASES[] = {
    {"dW sign flipped in layers.1", FNN_BUG_DW_SIGN, 1, FNN_TANH, 0, W(1),
     1},
    {"db not summed over the batch", FNN_BUG_DB_NOT_SUMMED, 2, FNN_TANH, 0,
     B(2), 2},
    {"L2 term missing from dW", FNN_BUG_L2_MISSING, 0, FNN_TANH, 0.5, W(0),
     0},
    {"L2 gradient doubled", FNN_BUG_L2_DOUBLED, 1, FNN_RELU, 0.5, W(1),
     1},
    {"1/m factor missing", FNN_BUG_NO_INV_M, 2, FNN_SIGMOID, 0.1,
     W(2) | B(2), 2},
    // The slopes of layers.1's activation feed dz of layers.1 and, through
    // it, every layer below.
    {"leaky-ReLU derivative side", FNN_BUG_LEAKY_SIDE, 1, FNN_LEAKY_RELU, 0,
     W(0) | B(0) | W(1) | B(1), 1},
    // Every block but layers.2.bias: db sums dz over the batch, and the
    // label shift adds onehot(y_i) - onehot(y_{i+1}), which cancels in the
    // cyclic sum, so that bias gradient is still right.
    {"softmax gradient label", FNN_BUG_SOFTMAX_LABEL, 0, FNN_RELU, 0,
     W(0) | B(0) | W(1) | B(1) | W(2), 2},
};

static void planted_bugs_fail(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        run_case(&CASES[i], 0);
        run_case(&CASES[i], 1);
    }
}

static void no_bug_passes(void **state) {
    (void)state;
    for (int g = FNN_RELU; g <= FNN_IDENTITY; g++) {
        fnn_net *net = planted_net((fnn_activation)g, 0.5);
        float x[BATCH * N_IN];
        float y[BATCH];
        batch(x, y);
        fnn_gradcheck_report r;
        assert_int_equal(fnn_gradcheck_run(net, x, y, BATCH, NULL, &r, NULL),
                         FNN_OK);
        assert_int_equal(r.verdict, FNN_GRADCHECK_PASS);
        assert_int_equal(r.first_failure, -1);
        fnn_gradcheck_report_free(&r);
        fnn_net_free(net);
    }
}

// Reads the first n Fashion-MNIST training images (raw pixels) and labels.
static int read_fashion(int n, float *x, float *y) {
    fnn_dataset *ds = fnn_idx_read(
        "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
        "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", NULL,
        NULL);
    if (!ds) {
        return 0;
    }
    fnn_dataset_get_rows(ds, 0, n, x);
    for (int i = 0; i < n; i++) {
        y[i] = ds->labels[i];
    }
    fnn_dataset_free(ds);
    return 1;
}

// The benchmark setting, 784-64-10 with L2 on 32 Fashion-MNIST images: the
// directions mode with its default K catches the L2 gradient off by a
// factor of 2 in every layer or in layers.0, and does not fail without it.
static void directions_catch_l2_doubled(void **state) {
    (void)state;
    enum { M = 32 };
    static float x[M * 784];
    float y[M];
    assert_true(read_fashion(M, x, y));
    // Pixels scaled to [0, 1] instead of normalized: the check is the same.
    for (int i = 0; i < M * 784; i++) {
        x[i] /= 255;
    }
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 2;
    o.sizes[0] = 784;
    o.sizes[1] = 64;
    o.sizes[2] = 10;
    o.l2 = 0.1;
    fnn_gradcheck_options go = fnn_gradcheck_options_default();
    go.mode = FNN_GRADCHECK_DIRECTIONS;
    for (int layer = -2; layer < 1; layer++) {
        fnn_net *net = fnn_net_create(&o, NULL);
        assert_non_null(net);
        if (layer >= -1) {
            assert_int_equal(
                fnn_testing_plant_bug(net, FNN_BUG_L2_DOUBLED, layer),
                FNN_OK);
        }
        fnn_gradcheck_report r;
        assert_int_equal(fnn_gradcheck_run(net, x, y, M, &go, &r, NULL),
                         FNN_OK);
        print_message("directions, L2 doubled in layer %d (-1: all, -2: "
                      "none): %.3e\n",
                      layer,
                      r.relative_difference);
        assert_int_equal(r.parameters_checked, go.directions);
        // Without the bug the step of epsilon sqrt(n) moves each parameter
        // by about epsilon, and the check passes at the full mode's level
        // (about 4e-9 on this network). A step of epsilon along the unit
        // vector left about 2e-7 of rounding, a warn.
        if (layer < -1) {
            assert_true(r.relative_difference < 1e-8);
            assert_int_equal(r.verdict, FNN_GRADCHECK_PASS);
        } else {
            assert_int_equal(r.verdict, FNN_GRADCHECK_FAIL);
        }
        fnn_gradcheck_report_free(&r);
        fnn_net_free(net);
    }
}

static void plant_rejects_bad_layer(void **state) {
    (void)state;
    fnn_net *net = planted_net(FNN_RELU, 0);
    assert_int_equal(fnn_testing_plant_bug(net, FNN_BUG_DW_SIGN, 3),
                     FNN_ERR_INVALID);
    assert_int_equal(fnn_testing_plant_bug(NULL, FNN_BUG_DW_SIGN, 0),
                     FNN_ERR_INVALID);
    fnn_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(planted_bugs_fail),
        cmocka_unit_test(no_bug_passes),
        cmocka_unit_test(directions_catch_l2_doubled),
        cmocka_unit_test(plant_rejects_bad_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
