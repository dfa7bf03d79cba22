// Checkpoint files through the library: a run stopped, saved, loaded and
// continued ends with the parameters of a run that never stopped, and the
// reader rejects damaged row orders, other data and other formats.
#define _GNU_SOURCE
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
#include <zlib.h>

#include "fastnn.h"
#include "safetensors.h"

#define ROWS 97
#define FEATURES 5

static float features[ROWS * FEATURES];
static float labels[ROWS];
static char path[64];

// 97 rows (so the last batch is short) of 5 features in 3 classes.
static fnn_dataset make_data(void) {
    fnn_rng rng;
    fnn_rng_seed(&rng, 11);
    for (int i = 0; i < ROWS; i++) {
        for (int j = 0; j < FEATURES; j++) {
            features[i * FEATURES + j] = (float)fnn_rng_normal(&rng);
        }
        labels[i] = (float)(features[i * FEATURES] > 0) +
                    (float)(features[i * FEATURES + 1] > 0.5f);
    }
    fnn_dataset ds = {.n_rows = ROWS, .n_features = FEATURES, .f32 = features,
                      .labels = labels, .n_classes = 3, .labels_integer = 1,
                      .source = "synthetic"};
    return ds;
}

static fnn_net *make_net(void) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 2;
    o.sizes[0] = FEATURES;
    o.sizes[1] = 8;
    o.sizes[2] = 3;
    o.keep_prob = 0.75;
    o.seed = 5;
    fnn_status s;
    fnn_net *net = fnn_net_create(&o, &s);
    assert_non_null(net);
    return net;
}

static fnn_train_options make_options(void) {
    fnn_train_options o = fnn_train_options_default();
    o.epochs = 3;
    o.batch_size = 10;
    return o;
}

typedef struct stop_at {
    int64_t calls;
    int64_t stop;
} stop_at;

static int stop_after(void *user, int epoch, int64_t batch, int64_t n_batches,
                      double loss) {
    (void)epoch, (void)batch, (void)n_batches, (void)loss;
    stop_at *s = user;
    return ++s->calls == s->stop;
}

static int make_path(void **state) {
    (void)state;
    snprintf(path, sizeof path, "/tmp/fastnn-ckpt-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    return 0;
}

static int remove_path(void **state) {
    (void)state;
    return unlink(path);
}

// Trains to the end without stopping; returns a copy of the parameters.
static float *reference_params(const fnn_dataset *ds, int64_t *n) {
    fnn_net *net = make_net();
    fnn_train_options o = make_options();
    fnn_error err = {{0}};
    assert_int_equal(fnn_train(net, ds, NULL, &o, &err), FNN_OK);
    *n = fnn_net_param_count(net);
    float *p = malloc((size_t)*n * sizeof *p);
    assert_non_null(p);
    memcpy(p, fnn_net_params(net), (size_t)*n * sizeof *p);
    fnn_net_free(net);
    return p;
}

// Runs until on_batch stops it after `stop` steps and saves a checkpoint.
static void save_after(const fnn_dataset *ds, int64_t stop) {
    fnn_net *net = make_net();
    fnn_train_options o = make_options();
    stop_at counter = {0, stop};
    o.on_batch = stop_after;
    o.user = &counter;
    fnn_error err = {{0}};
    fnn_status s;
    fnn_trainer *t = fnn_trainer_create(net, ds, NULL, &o, &err, &s);
    assert_non_null(t);
    assert_int_equal(fnn_trainer_run(t, &err), FNN_ERR_INTERRUPTED);
    assert_int_equal(fnn_trainer_position(t).step, stop);
    assert_int_equal(fnn_checkpoint_save(t, path, "{\"k\":1}", &err), FNN_OK);
    fnn_trainer_free(t);
    fnn_net_free(net);
}

static void resume_matches_uninterrupted(void **state) {
    (void)state;
    fnn_dataset ds = make_data();
    int64_t n = 0;
    float *ref = reference_params(&ds, &n);
    // Stops mid-epoch, at the end of an epoch's steps (10 batches) and in
    // the last epoch.
    const int64_t stops[] = {3, 10, 27};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        save_after(&ds, stops[i]);
        fnn_error err = {{0}};
        fnn_status s;
        fnn_trainer *t = fnn_checkpoint_load(path, &ds, NULL, NULL, &err, &s);
        if (!t) {
            fail_msg("load after %lld steps: %s", (long long)stops[i],
                     err.message);
        }
        fnn_train_position p = fnn_trainer_position(t);
        assert_int_equal(p.step, stops[i]);
        assert_int_equal(p.epoch * p.n_batches + p.batch, stops[i]);
        assert_int_equal(fnn_trainer_run(t, &err), FNN_OK);
        fnn_net *net = fnn_trainer_net(t);
        assert_int_equal(fnn_net_param_count(net), n);
        assert_memory_equal(fnn_net_params(net), ref, (size_t)n * sizeof *ref);
        fnn_trainer_free(t);
    }
    char *config = fnn_checkpoint_read_config(path, NULL, NULL);
    assert_string_equal(config, "{\"k\":1}");
    free(config);
    free(ref);
}

// Overwrites 8 bytes of tensor `name` at element `index` with `value`.
static void patch_i64(const char *name, int64_t index, int64_t value) {
    fnn_st_file st;
    fnn_error err = {{0}};
    assert_int_equal(fnn_st_open(&st, path, &err), FNN_OK);
    const fnn_st_tensor *t = fnn_st_find(&st, name);
    assert_non_null(t);
    long at = (long)(st.data_start + t->begin + 8 * index);
    fnn_st_close(&st);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    assert_int_equal(fwrite(&value, 8, 1, f), 1);
    assert_int_equal(fclose(f), 0);
}

// Rewrites the checkpoint's header: the first `from` in the header JSON
// becomes `to`, and the length prefix follows the new header.
static void edit_header(const char *from, const char *to) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    rewind(f);
    char *old = malloc((size_t)size);
    assert_non_null(old);
    assert_int_equal(fread(old, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    uint64_t n = 0;
    memcpy(&n, old, 8);
    char *at = memmem(old + 8, (size_t)n, from, strlen(from));
    assert_non_null(at);
    size_t grow = strlen(to) - strlen(from);
    uint64_t new_n = n + grow;
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(&new_n, 8, 1, f), 1);
    size_t head = (size_t)(at - old) - 8;
    assert_int_equal(fwrite(old + 8, 1, head, f), head);
    assert_int_equal(fwrite(to, 1, strlen(to), f), strlen(to));
    size_t rest = (size_t)size - 8 - head - strlen(from);
    assert_int_equal(fwrite(at + strlen(from), 1, rest, f), rest);
    assert_int_equal(fclose(f), 0);
    free(old);
}

// Rewrites the crc32 metadata value to match the file as it is now (the
// CRC-32 of every byte, with the value's 8 digits read as "00000000"), so
// that a test can reach the checks behind the checksum.
static void fix_crc(void) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    const char key[] = "\"crc32\":\"";
    unsigned char *digits = memmem(buf, (size_t)size, key, strlen(key));
    assert_non_null(digits);
    digits += strlen(key);
    memset(digits, '0', 8);
    char text[9];
    snprintf(text, sizeof text, "%08lx", crc32_z(0, buf, (z_size_t)size));
    memcpy(digits, text, 8);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, (size_t)size, f), (size_t)size);
    assert_int_equal(fclose(f), 0);
    free(buf);
}

static void expect_load_error(const fnn_dataset *ds, fnn_status status,
                              const char *message) {
    fnn_error err = {{0}};
    fnn_status s = FNN_OK;
    fnn_trainer *t = fnn_checkpoint_load(path, ds, NULL, NULL, &err, &s);
    assert_null(t);
    assert_int_equal(s, status);
    if (!strstr(err.message, message)) {
        fail_msg("message \"%s\" lacks \"%s\"", err.message, message);
    }
}

static void damaged_permutation_rejected(void **state) {
    (void)state;
    fnn_dataset ds = make_data();
    save_after(&ds, 3);
    patch_i64("train.permutation", 4, ROWS);
    fix_crc();
    expect_load_error(&ds, FNN_ERR_FORMAT,
                      "train.permutation element 4 is 97: expected each row "
                      "index from 0 to 96 once");
    save_after(&ds, 3);
    patch_i64("train.permutation", 0, -1);
    fix_crc();
    expect_load_error(&ds, FNN_ERR_FORMAT, "element 0 is -1");
}

// A changed weight, generator state or metadata value passes every other
// check, so only the file's checksum can catch it.
static void damaged_bytes_rejected(void **state) {
    (void)state;
    fnn_dataset ds = make_data();
    const char *names[] = {"layers.0.weight", "rng.shuffle"};
    for (int i = 0; i < 2; i++) {
        save_after(&ds, 3);
        patch_i64(names[i], 0, 0x3ff0000000000000LL);
        expect_load_error(&ds, FNN_ERR_FORMAT, "but its metadata records");
    }
    // The same file loads once the checksum matches it again.
    fix_crc();
    fnn_error err = {{0}};
    fnn_status s = FNN_OK;
    fnn_trainer *t = fnn_checkpoint_load(path, &ds, NULL, NULL, &err, &s);
    assert_non_null(t);
    fnn_trainer_free(t);
    // One digit of a metadata value, and a malformed checksum.
    save_after(&ds, 3);
    edit_header("\"learning_rate\":\"", "\"learning_rate\":\"1");
    expect_load_error(&ds, FNN_ERR_FORMAT, "but its metadata records");
    save_after(&ds, 3);
    edit_header("\"crc32\":\"", "\"crc32\":\" ");
    expect_load_error(&ds, FNN_ERR_FORMAT, "expected 8 lowercase hex digits");
}

static void other_data_rejected(void **state) {
    (void)state;
    fnn_dataset ds = make_data();
    save_after(&ds, 3);
    features[7] += 1.0f;
    expect_load_error(&ds, FNN_ERR_INVALID,
                      "the training data differ from the checkpoint's");
    fnn_dataset fewer = make_data();
    fewer.n_rows = ROWS - 1;
    expect_load_error(&fewer, FNN_ERR_INVALID,
                      "trained on 97 rows of 5 features, but synthetic has "
                      "96 rows of 5");
}

static void formats_kept_apart(void **state) {
    (void)state;
    fnn_dataset ds = make_data();
    save_after(&ds, 3);
    fnn_error err = {{0}};
    fnn_status s;
    assert_null(fnn_model_load(path, &err, &s));
    assert_non_null(strstr(err.message,
                           "metadata format is \"fastnn-checkpoint\""));
    fnn_net *net = make_net();
    assert_int_equal(fnn_model_save(net, path, NULL, &err), FNN_OK);
    fnn_net_free(net);
    expect_load_error(&ds, FNN_ERR_FORMAT,
                      "metadata format is \"fastnn\": expected "
                      "\"fastnn-checkpoint\"");
}

// The checkpoint reader shares the model reader's header checks: a key
// given twice, a number with a fraction, and a byte after the JSON object.
static void damaged_header_rejected(void **state) {
    (void)state;
    fnn_dataset ds = make_data();
    save_after(&ds, 3);
    edit_header("\"format\":\"fastnn-checkpoint\"",
                "\"format\":\"fastnn-checkpoint\",\"format\":\"x\"");
    expect_load_error(&ds, FNN_ERR_FORMAT,
                      "duplicate key \"format\" in \"__metadata__\"");
    save_after(&ds, 3);
    edit_header("\"data_offsets\":[0,", "\"data_offsets\":[0.0,");
    expect_load_error(&ds, FNN_ERR_FORMAT,
                      "number 0.0: expected a JSON integer");
    save_after(&ds, 3);
    edit_header("}}", "}}x");
    expect_load_error(&ds, FNN_ERR_FORMAT, "only spaces may pad the header");
}

// A step count near INT64_MAX would overflow the next step's number, so
// the reader bounds it, even under a matching checksum.
static void huge_step_count_rejected(void **state) {
    (void)state;
    fnn_dataset ds = make_data();
    save_after(&ds, 3);
    edit_header("\"optimizer_steps\":\"3\"",
                "\"optimizer_steps\":\"9223372036854775807\"");
    fix_crc();
    expect_load_error(&ds, FNN_ERR_FORMAT,
                      "\"optimizer_steps\" is \"9223372036854775807\": "
                      "expected an integer from 0 to 4611686018427387904");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(resume_matches_uninterrupted,
                                        make_path, remove_path),
        cmocka_unit_test_setup_teardown(damaged_permutation_rejected,
                                        make_path, remove_path),
        cmocka_unit_test_setup_teardown(other_data_rejected, make_path,
                                        remove_path),
        cmocka_unit_test_setup_teardown(formats_kept_apart, make_path,
                                        remove_path),
        cmocka_unit_test_setup_teardown(damaged_header_rejected, make_path,
                                        remove_path),
        cmocka_unit_test_setup_teardown(damaged_bytes_rejected, make_path,
                                        remove_path),
        cmocka_unit_test_setup_teardown(huge_step_count_rejected, make_path,
                                        remove_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
