// Model file round trips and rejection of damaged files.
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
#include <sys/stat.h>
#include <unistd.h>

#include "fastnn.h"

static char dir[64];

static int make_dir(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fastnn-model-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static unsigned char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)*len);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return buf;
}

static void spit(const char *path, const unsigned char *buf, long len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
}

static fnn_net *sample_net(fnn_dtype dtype) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 3;
    o.sizes[0] = 5;
    o.sizes[1] = 7;
    o.sizes[2] = 4;
    o.sizes[3] = 3;
    o.activation = FNN_TANH;
    o.dtype = dtype;
    o.l2 = 0.01;
    o.seed = 3;
    fnn_net *net = fnn_net_create(&o, NULL);
    assert_non_null(net);
    double mean[5] = {1, 2, 3, 4, 5};
    double std[5] = {0.5, 1, 0, 2, 3};
    assert_int_equal(fnn_net_set_normalization(net, mean, std), FNN_OK);
    return net;
}

static void save_load_save_identical(void **state) {
    (void)state;
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/a.safetensors", dir);
    snprintf(b, sizeof b, "%s/b.safetensors", dir);
    fnn_net *net = sample_net(FNN_F32);
    fnn_error err;
    assert_int_equal(fnn_model_save(net, a, "{\"epochs\":3}", &err), FNN_OK);
    fnn_net *loaded = fnn_model_load(a, &err, NULL);
    assert_non_null(loaded);
    assert_int_equal(fnn_model_save(loaded, b, NULL, &err), FNN_OK);
    long la, lb;
    unsigned char *ba = slurp(a, &la);
    unsigned char *bb = slurp(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, (size_t)la);
    // Header length, little-endian, and the data starts 8-byte aligned.
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) {
        n = (n << 8) | ba[i];
    }
    assert_int_equal((8 + n) % 8, 0);
    assert_true(memmem(ba, (size_t)la, "\"layers.0.weight\"", 17) != NULL);
    assert_true(memmem(ba, (size_t)la, "\"normalize.std\"", 15) != NULL);
    // Predictions are bit-identical after loading.
    float x[10] = {1, 2, 3, 4, 5, -1, 0.5f, 3, 9, 2};
    float p1[6], p2[6];
    assert_int_equal(fnn_net_predict(net, x, 2, p1), FNN_OK);
    assert_int_equal(fnn_net_predict(loaded, x, 2, p2), FNN_OK);
    assert_memory_equal(p1, p2, sizeof p1);
    const fnn_net_options *o = fnn_net_get_options(loaded);
    assert_int_equal(o->activation, FNN_TANH);
    assert_int_equal(o->sizes[2], 4);
    assert_true(o->l2 == 0.01);
    assert_int_equal(fnn_net_layer_init(loaded, 0), FNN_INIT_LECUN);
    free(ba);
    free(bb);
    fnn_net_free(net);
    fnn_net_free(loaded);
}

static void float64_round_trip(void **state) {
    (void)state;
    char a[128];
    snprintf(a, sizeof a, "%s/f64.safetensors", dir);
    fnn_net *net = sample_net(FNN_F64);
    assert_int_equal(fnn_model_save(net, a, NULL, NULL), FNN_OK);
    fnn_net *loaded = fnn_model_load(a, NULL, NULL);
    assert_non_null(loaded);
    assert_int_equal(fnn_net_get_options(loaded)->dtype, FNN_F64);
    assert_memory_equal(fnn_net_params(net), fnn_net_params(loaded),
                        (size_t)fnn_net_param_count(net) * 8);
    fnn_net_free(net);
    fnn_net_free(loaded);
}

// Writes a damaged copy of a good file and expects the loader to reject it
// with `status` and a message containing `needle`.
static void expect_rejected(const unsigned char *buf, long len,
                            fnn_status status, const char *needle) {
    char path[128];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    spit(path, buf, len);
    fnn_error err = {{0}};
    fnn_status s;
    fnn_net *net = fnn_model_load(path, &err, &s);
    assert_null(net);
    assert_int_equal(s, status);
    if (!strstr(err.message, needle)) {
        fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
    }
}

static void damaged_files_rejected(void **state) {
    (void)state;
    char a[128];
    snprintf(a, sizeof a, "%s/good.safetensors", dir);
    fnn_net *net = sample_net(FNN_F32);
    assert_int_equal(fnn_model_save(net, a, NULL, NULL), FNN_OK);
    fnn_net_free(net);
    long len;
    unsigned char *good = slurp(a, &len);
    unsigned char *bad = malloc((size_t)len);
    // Truncated data.
    expect_rejected(good, len - 4, FNN_ERR_FORMAT, "data bytes");
    // Header length beyond the file.
    memcpy(bad, good, (size_t)len);
    bad[5] = 0x7f;
    expect_rejected(bad, len, FNN_ERR_FORMAT, "header length");
    // Too short for a header length.
    expect_rejected(good, 5, FNN_ERR_FORMAT, "too short");
    // Malformed JSON.
    memcpy(bad, good, (size_t)len);
    bad[8] = '[';
    expect_rejected(bad, len, FNN_ERR_FORMAT, "not a JSON object");
    // Unknown format version.
    memcpy(bad, good, (size_t)len);
    unsigned char *v = memmem(bad, (size_t)len, "\"format_version\":\"1\"", 20);
    assert_non_null(v);
    v[18] = '9';
    expect_rejected(bad, len, FNN_ERR_UNSUPPORTED, "unknown format version");
    // Unknown dtype of a tensor.
    memcpy(bad, good, (size_t)len);
    v = memmem(bad, (size_t)len, "\"F32\"", 5);
    assert_non_null(v);
    v[1] = 'X';
    expect_rejected(bad, len, FNN_ERR_FORMAT, "dtype");
    // A zero normalization std in the data.
    memcpy(bad, good, (size_t)len);
    memset(bad + len - 8, 0, 8);
    expect_rejected(bad, len, FNN_ERR_FORMAT, "std");
    free(bad);
    free(good);
}

static void failed_save_keeps_old_file(void **state) {
    (void)state;
    char a[128], missing[128];
    snprintf(a, sizeof a, "%s/keep.safetensors", dir);
    snprintf(missing, sizeof missing, "%s/no/such/dir/m.safetensors", dir);
    fnn_net *net = sample_net(FNN_F32);
    assert_int_equal(fnn_model_save(net, a, NULL, NULL), FNN_OK);
    long before;
    unsigned char *old = slurp(a, &before);
    fnn_error err = {{0}};
    assert_int_equal(fnn_model_save(net, missing, NULL, &err), FNN_ERR_IO);
    assert_non_null(strstr(err.message, "no/such/dir"));
    struct stat st;
    assert_int_not_equal(stat(missing, &st), 0);
    long after;
    unsigned char *now = slurp(a, &after);
    assert_int_equal(before, after);
    assert_memory_equal(old, now, (size_t)before);
    free(old);
    free(now);
    fnn_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(save_load_save_identical),
        cmocka_unit_test(float64_round_trip),
        cmocka_unit_test(damaged_files_rejected),
        cmocka_unit_test(failed_save_keeps_old_file),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
