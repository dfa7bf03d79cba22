// Caller errors at the public API: each must return a status (and a message
// naming the bad value where the function takes an fnn_error), never crash,
// and leave the caller's data as it was.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastnn.h"

// A 3-4-2 ReLU network with softmax output.
static fnn_net *small_net(fnn_dtype dtype) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 2;
    o.sizes[0] = 3;
    o.sizes[1] = 4;
    o.sizes[2] = 2;
    o.dtype = dtype;
    o.seed = 7;
    fnn_net *net = fnn_net_create(&o, NULL);
    assert_non_null(net);
    return net;
}

static const float X[6] = {0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f};
static float LABELS[2] = {0.0f, 1.0f};

// Two rows of three float32 features with labels 0 and 1.
static fnn_dataset two_rows(void) {
    fnn_dataset ds = {.n_rows = 2, .n_features = 3, .f32 = X,
                      .labels = LABELS, .n_classes = 2, .labels_integer = 1};
    return ds;
}

static void assert_message_has(const fnn_error *err, const char *text) {
    if (!strstr(err->message, text)) {
        fail_msg("message \"%s\" does not contain \"%s\"", err->message, text);
    }
}

static void train_without_features_rejected(void **state) {
    (void)state;
    fnn_net *net = small_net(FNN_F32);
    fnn_dataset ds = two_rows();
    ds.f32 = NULL;
    fnn_train_options o = fnn_train_options_default();
    o.epochs = 1;
    fnn_error err = {{0}};
    assert_int_equal(fnn_train(net, &ds, NULL, &o, &err), FNN_ERR_INVALID);
    assert_message_has(&err, "f32 and u8 are NULL");
    assert_int_equal(fnn_evaluate(net, &ds, &(fnn_eval_result){0}, &err),
                     FNN_ERR_INVALID);
    assert_message_has(&err, "f32 and u8 are NULL");
    fnn_net_free(net);
}

static void check_dataset_null_rejected(void **state) {
    (void)state;
    fnn_net *net = small_net(FNN_F32);
    fnn_dataset ds = two_rows();
    fnn_error err = {{0}};
    assert_int_equal(fnn_check_dataset(net, NULL, &err), FNN_ERR_INVALID);
    assert_message_has(&err, "data set");
    assert_int_equal(fnn_check_dataset(NULL, &ds, &err), FNN_ERR_INVALID);
    assert_message_has(&err, "network");
    assert_int_equal(fnn_check_dataset(net, NULL, NULL), FNN_ERR_INVALID);
    assert_int_equal(fnn_check_dataset(net, &ds, &err), FNN_OK);
    fnn_net_free(net);
}

static void evaluate_null_rejected(void **state) {
    (void)state;
    fnn_net *net = small_net(FNN_F32);
    fnn_dataset ds = two_rows();
    fnn_eval_result r;
    fnn_error err = {{0}};
    assert_int_equal(fnn_evaluate(net, NULL, &r, &err), FNN_ERR_INVALID);
    assert_int_equal(fnn_evaluate(NULL, &ds, &r, &err), FNN_ERR_INVALID);
    assert_int_equal(fnn_evaluate(net, &ds, NULL, &err), FNN_ERR_INVALID);
    assert_int_equal(fnn_evaluate(net, &ds, &r, &err), FNN_OK);
    assert_int_equal(r.samples, 2);
    fnn_net_free(net);
}

// Each bad field of an otherwise valid data set, with the text its message
// must contain.
static void bad_dataset_fields_rejected(void **state) {
    (void)state;
    fnn_net *net = small_net(FNN_F32);
    fnn_train_options o = fnn_train_options_default();
    o.epochs = 1;
    fnn_dataset cases[4];
    const char *texts[4] = {"n_rows is 0", "n_rows is -5",
                            "n_features is 0", "no labels"};
    for (int i = 0; i < 4; i++) {
        cases[i] = two_rows();
    }
    cases[0].n_rows = 0;
    cases[1].n_rows = -5;
    cases[2].n_features = 0;
    cases[3].labels = NULL;
    for (int i = 0; i < 4; i++) {
        fnn_error err = {{0}};
        fnn_eval_result r;
        assert_int_equal(fnn_train(net, &cases[i], NULL, &o, &err),
                         FNN_ERR_INVALID);
        assert_message_has(&err, texts[i]);
        assert_int_equal(fnn_evaluate(net, &cases[i], &r, &err),
                         FNN_ERR_INVALID);
        assert_message_has(&err, texts[i]);
        fnn_dataset good = two_rows();
        assert_int_equal(fnn_train(net, &good, &cases[i], &o, &err),
                         FNN_ERR_INVALID);
        assert_message_has(&err, texts[i]);
    }
    fnn_net_free(net);
}

static void rng_below_zero_returns_zero(void **state) {
    (void)state;
    fnn_rng rng;
    fnn_rng_seed(&rng, 42);
    fnn_rng before = rng;
    assert_int_equal(fnn_rng_below(&rng, 0), 0);
    // No draw is taken, so the state is unchanged.
    assert_memory_equal(&rng, &before, sizeof rng);
    assert_int_equal(fnn_rng_below(&rng, 1), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_without_features_rejected),
        cmocka_unit_test(check_dataset_null_rejected),
        cmocka_unit_test(evaluate_null_rejected),
        cmocka_unit_test(bad_dataset_fields_rejected),
        cmocka_unit_test(rng_below_zero_returns_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
