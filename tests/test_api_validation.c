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
#include <unistd.h>

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

static void train_bad_schedule_rejected(void **state) {
    (void)state;
    fnn_net *net = small_net(FNN_F32);
    fnn_dataset ds = two_rows();
    fnn_train_options o = fnn_train_options_default();
    o.epochs = 1;
    o.schedule = (fnn_schedule)9;
    fnn_error err = {{0}};
    assert_int_equal(fnn_train(net, &ds, NULL, &o, &err), FNN_ERR_INVALID);
    assert_message_has(&err, "schedule 9");
    o.schedule = (fnn_schedule)-1;
    assert_int_equal(fnn_train(net, &ds, NULL, &o, &err), FNN_ERR_INVALID);
    assert_message_has(&err, "schedule -1");
    o.schedule = FNN_SCHEDULE_STEP;
    o.step_gamma = NAN;
    assert_int_equal(fnn_train(net, &ds, NULL, &o, &err), FNN_ERR_INVALID);
    assert_message_has(&err, "step_gamma nan");
    fnn_net_free(net);
}

static void train_nonfinite_rate_rejected(void **state) {
    (void)state;
    fnn_net *net = small_net(FNN_F32);
    fnn_dataset ds = two_rows();
    fnn_train_options o = fnn_train_options_default();
    o.epochs = 1;
    const double rates[3] = {INFINITY, NAN, -1.0};
    const char *texts[3] = {"learning rate inf", "learning rate nan",
                            "learning rate -1"};
    for (int i = 0; i < 3; i++) {
        o.optim.learning_rate = rates[i];
        fnn_error err = {{0}};
        assert_int_equal(fnn_train(net, &ds, NULL, &o, &err),
                         FNN_ERR_INVALID);
        assert_message_has(&err, texts[i]);
        fnn_status s = FNN_OK;
        assert_null(fnn_optim_create(net, &o.optim, &s));
        assert_int_equal(s, FNN_ERR_INVALID);
    }
    fnn_net_free(net);
}

static void optim_step_nonfinite_rate_rejected(void **state) {
    (void)state;
    fnn_net *net = small_net(FNN_F32);
    fnn_optim_options oo = fnn_optim_options_default();
    oo.kind = FNN_SGD;
    fnn_optim *opt = fnn_optim_create(net, &oo, NULL);
    assert_non_null(opt);
    int64_t n = fnn_net_param_count(net);
    float *before = malloc((size_t)n * sizeof *before);
    assert_non_null(before);
    memcpy(before, fnn_net_params(net), (size_t)n * sizeof *before);
    float *g = fnn_net_grads(net);
    for (int64_t i = 0; i < n; i++) {
        g[i] = 1.0f;
    }
    assert_int_equal(fnn_optim_step(opt, net, INFINITY), FNN_ERR_INVALID);
    assert_int_equal(fnn_optim_step(opt, net, NAN), FNN_ERR_INVALID);
    assert_int_equal(fnn_optim_step(opt, net, -0.5), FNN_ERR_INVALID);
    assert_memory_equal(fnn_net_params(net), before,
                        (size_t)n * sizeof *before);
    assert_int_equal(fnn_optim_steps(opt), 0);
    // SGD with rate 0.5 and gradient 1 moves every parameter by -0.5.
    assert_int_equal(fnn_optim_step(opt, net, 0.5), FNN_OK);
    assert_float_equal(((float *)fnn_net_params(net))[0], before[0] - 0.5f,
                       1e-6);
    free(before);
    fnn_optim_free(opt);
    fnn_net_free(net);
}

static void cost_bad_dropout_mode_rejected(void **state) {
    (void)state;
    fnn_net *net = small_net(FNN_F32);
    double cost = 0;
    assert_int_equal(fnn_net_cost(net, X, LABELS, 2, (fnn_dropout_mode)42, 0,
                                  &cost),
                     FNN_ERR_INVALID);
    assert_int_equal(fnn_net_cost(net, X, LABELS, 2, (fnn_dropout_mode)-1, 0,
                                  &cost),
                     FNN_ERR_INVALID);
    assert_int_equal(fnn_net_cost(net, X, LABELS, 2, FNN_DROPOUT_OFF, 0,
                                  &cost),
                     FNN_OK);
    fnn_net_free(net);
}

// NaN and infinity at the first and the last input of the batch, in both
// dtypes: cost and predict return FNN_ERR_NONFINITE as training does.
static void nonfinite_inputs_rejected(void **state) {
    (void)state;
    const double bad[2] = {NAN, -INFINITY};
    for (int dt = 0; dt < 2; dt++) {
        fnn_dtype dtype = dt ? FNN_F64 : FNN_F32;
        fnn_net *net = small_net(dtype);
        for (int b = 0; b < 2; b++) {
            for (int at = 0; at < 6; at += 5) {
                float xf[6];
                double xd[6];
                double yd[2] = {0, 1};
                for (int i = 0; i < 6; i++) {
                    xf[i] = X[i];
                    xd[i] = X[i];
                }
                xf[at] = (float)bad[b];
                xd[at] = bad[b];
                const void *x = dt ? (const void *)xd : (const void *)xf;
                const void *y = dt ? (const void *)yd : (const void *)LABELS;
                double cost = 0;
                double out[4] = {-1, -1, -1, -1};
                assert_int_equal(fnn_net_cost(net, x, y, 2, FNN_DROPOUT_OFF,
                                              1, &cost),
                                 FNN_ERR_NONFINITE);
                assert_true(isnan(cost));
                assert_int_equal(fnn_net_predict(net, x, 2, out),
                                 FNN_ERR_NONFINITE);
                assert_true(out[0] == -1);
            }
        }
        fnn_net_free(net);
    }
}

static void save_invalid_config_rejected(void **state) {
    (void)state;
    fnn_net *net = small_net(FNN_F32);
    char path[] = "/tmp/fastnn_test_api_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    const char *bad[3] = {"{\"epochs\": 3", "not json", "{} trailing"};
    for (int i = 0; i < 3; i++) {
        fnn_error err = {{0}};
        assert_int_equal(fnn_model_save(net, path, bad[i], &err),
                         FNN_ERR_INVALID);
        assert_message_has(&err, "config_json is not valid JSON");
        assert_int_equal(access(path, F_OK), -1);
    }
    fnn_error err = {{0}};
    assert_int_equal(fnn_model_save(net, path, "{\"epochs\": 3}", &err),
                     FNN_OK);
    unlink(path);
    fnn_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_without_features_rejected),
        cmocka_unit_test(check_dataset_null_rejected),
        cmocka_unit_test(evaluate_null_rejected),
        cmocka_unit_test(bad_dataset_fields_rejected),
        cmocka_unit_test(rng_below_zero_returns_zero),
        cmocka_unit_test(train_bad_schedule_rejected),
        cmocka_unit_test(train_nonfinite_rate_rejected),
        cmocka_unit_test(optim_step_nonfinite_rate_rejected),
        cmocka_unit_test(cost_bad_dropout_mode_rejected),
        cmocka_unit_test(nonfinite_inputs_rejected),
        cmocka_unit_test(save_invalid_config_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
