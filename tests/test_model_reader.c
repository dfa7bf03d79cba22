// The model reader against hand-built safetensors files: one valid file whose
// prediction is computed by hand, and one damaged copy per rejection rule.
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

#include "fastnn.h"

// A 2-1 network (mse, identity output) with normalization. Data: W [1, 2],
// b [1] in float32, then mean [2] and std [2] in float64: 44 bytes.
static const char BASE_HEADER[] =
    "{\"__metadata__\":{\"format\":\"fastnn\",\"format_version\":\"1\","
    "\"dtype\":\"float32\",\"sizes\":\"[2,1]\",\"activation\":\"relu\","
    "\"output_activation\":\"identity\",\"loss\":\"mse\","
    "\"normalized\":\"true\",\"init\":\"[\\\"xavier\\\"]\",\"l2\":\"0\","
    "\"keep_prob\":\"1\",\"seed\":\"1\"},"
    "\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],"
    "\"data_offsets\":[0,8]},"
    "\"layers.0.bias\":{\"dtype\":\"F32\",\"shape\":[1],"
    "\"data_offsets\":[8,12]},"
    "\"normalize.mean\":{\"dtype\":\"F64\",\"shape\":[2],"
    "\"data_offsets\":[12,28]},"
    "\"normalize.std\":{\"dtype\":\"F64\",\"shape\":[2],"
    "\"data_offsets\":[28,44]}}";

#define DATA_LEN 44

typedef struct model_data {
    float w[2];
    float b;
    double mean[2];
    double std[2];
} model_data;

static model_data base_data(void) {
    model_data d = {{0.5f, -0.25f}, 0.125f, {0.0, 1.0}, {1.0, 2.0}};
    return d;
}

// Serializes the 44 data bytes without the struct's padding.
static void pack(const model_data *d, unsigned char *out) {
    memcpy(out, d->w, 8);
    memcpy(out + 8, &d->b, 4);
    memcpy(out + 12, d->mean, 16);
    memcpy(out + 28, d->std, 16);
}

// Returns base with the first occurrence of `old` replaced by `new`.
static char *replace(const char *base, const char *old, const char *new) {
    const char *at = old ? strstr(base, old) : NULL;
    if (old) {
        assert_non_null(at);
    }
    size_t n = strlen(base) + (new ? strlen(new) : 0) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    if (!at) {
        strcpy(out, base);
        return out;
    }
    size_t head = (size_t)(at - base);
    memcpy(out, base, head);
    strcpy(out + head, new);
    strcat(out, at + strlen(old));
    return out;
}

// Writes 8-byte length `claimed` (the real length when 0), the header and
// `data_len` data bytes.
static void write_file(const char *path, const char *header,
                       uint64_t claimed, const unsigned char *data,
                       size_t data_len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t n = claimed ? claimed : strlen(header);
    unsigned char le[8];
    for (int i = 0; i < 8; i++) {
        le[i] = (unsigned char)(n >> (8 * i));
    }
    assert_int_equal(fwrite(le, 1, 8, f), 8);
    assert_int_equal(fwrite(header, 1, strlen(header), f), strlen(header));
    assert_int_equal(fwrite(data, 1, data_len, f), data_len);
    assert_int_equal(fclose(f), 0);
}

static char path[64];

static int make_path(void **state) {
    (void)state;
    snprintf(path, sizeof path, "/tmp/fastnn-reader-XXXXXX");
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

static void valid_file_predicts_by_hand(void **state) {
    (void)state;
    model_data d = base_data();
    unsigned char data[DATA_LEN];
    pack(&d, data);
    write_file(path, BASE_HEADER, 0, data, DATA_LEN);
    fnn_error err = {{0}};
    fnn_status s;
    fnn_net *net = fnn_model_load(path, &err, &s);
    assert_non_null(net);
    assert_int_equal(s, FNN_OK);
    // x = (1, 3) normalizes to ((1 - 0) / 1, (3 - 1) / 2) = (1, 1), so the
    // output is 0.5 - 0.25 + 0.125.
    float x[2] = {1.0f, 3.0f};
    float out = 0;
    assert_int_equal(fnn_net_predict(net, x, 1, &out), FNN_OK);
    assert_float_equal(out, 0.375f, 1e-7f);
    fnn_net_free(net);
}

// The format pads the header JSON with spaces, so they must load.
static void space_padding_accepted(void **state) {
    (void)state;
    model_data d = base_data();
    unsigned char data[DATA_LEN];
    pack(&d, data);
    char *header = replace(BASE_HEADER, "[28,44]}}", "[28,44]}}     ");
    write_file(path, header, 0, data, DATA_LEN);
    free(header);
    fnn_error err = {{0}};
    fnn_status s;
    fnn_net *net = fnn_model_load(path, &err, &s);
    assert_int_equal(s, FNN_OK);
    assert_non_null(net);
    fnn_net_free(net);
}

// One damaged file: `old` -> `new` in the header (old NULL: header kept),
// a change to the data, the bytes written, and the expected result.
typedef struct reject_case {
    const char *name;
    const char *old;
    const char *new;
    void (*mutate)(model_data *d);
    int data_len;       // data bytes written (DATA_LEN unless truncated)
    uint64_t claimed;   // header length written, 0 for the real one
    fnn_status status;
    const char *message; // a substring of the error message
} reject_case;

static void nan_std(model_data *d) {
    d->std[1] = NAN;
}

static void zero_std(model_data *d) {
    d->std[0] = 0;
}

static void negative_std(model_data *d) {
    d->std[1] = -2;
}

static void inf_weight(model_data *d) {
    d->w[1] = INFINITY;
}

#define OFFS(a, b) "\"data_offsets\":[" #a "," #b "]"

static const reject_case CASES[] = {
    {"header length beyond the file", NULL, NULL, NULL, DATA_LEN, 100000,
     FNN_ERR_FORMAT, "header length 100000 at byte 0 exceeds"},
    {"header length below 2", NULL, NULL, NULL, DATA_LEN, 1, FNN_ERR_FORMAT,
     "header length 1 at byte 0"},
    {"malformed JSON", "\"layers.0.bias\":{", "\"layers.0.bias\":{{", NULL,
     DATA_LEN, 0, FNN_ERR_FORMAT, "header is not a JSON object"},
    {"offsets out of range", OFFS(28, 44), OFFS(28, 52), NULL, DATA_LEN, 0,
     FNN_ERR_FORMAT, "data_offsets [28, 52] outside the 44 data bytes"},
    {"offsets reversed", OFFS(8, 12), OFFS(12, 8), NULL, DATA_LEN, 0,
     FNN_ERR_FORMAT, "reversed data_offsets [12, 8]"},
    {"offsets overlapping", OFFS(12, 28), OFFS(8, 24), NULL, DATA_LEN, 0,
     FNN_ERR_FORMAT, "(tensors overlap)"},
    {"offsets leaving a gap", OFFS(28, 44), OFFS(36, 52), NULL, DATA_LEN + 8,
     0, FNN_ERR_FORMAT, "(tensors leave a gap)"},
    {"data not covered", NULL, NULL, NULL, DATA_LEN + 4, 0, FNN_ERR_FORMAT,
     "tensors cover 44 of the 48 data bytes"},
    {"truncated data", NULL, NULL, NULL, DATA_LEN - 4, 0, FNN_ERR_FORMAT,
     "outside the 40 data bytes"},
    {"span not shape x dtype", OFFS(0, 8), OFFS(0, 6), NULL, DATA_LEN, 0,
     FNN_ERR_FORMAT, "spans 6 bytes: its shape and dtype need 8"},
    {"unknown dtype", "\"dtype\":\"F32\",\"shape\":[1]",
     "\"dtype\":\"Q7\",\"shape\":[1]", NULL, DATA_LEN, 0, FNN_ERR_FORMAT,
     "has unknown dtype \"Q7\""},
    {"wrong known dtype", "\"dtype\":\"F32\",\"shape\":[1]",
     "\"dtype\":\"I32\",\"shape\":[1]", NULL, DATA_LEN, 0, FNN_ERR_FORMAT,
     "has the wrong dtype \"I32\": expected F32"},
    {"negative shape", "\"shape\":[1,2]", "\"shape\":[-1,-2]", NULL, DATA_LEN,
     0, FNN_ERR_FORMAT, "shape entry 0 is -1: expected a non-negative"},
    {"overflowing shape", "\"shape\":[1,2]", "\"shape\":[1,1e300]", NULL,
     DATA_LEN, 0, FNN_ERR_FORMAT,
     "\"shape\" contains the number 1e300: expected a JSON integer"},
    {"fractional shape", "\"shape\":[1,2]", "\"shape\":[1.0,2]", NULL,
     DATA_LEN, 0, FNN_ERR_FORMAT,
     "\"shape\" contains the number 1.0: expected a JSON integer"},
    {"offsets as strings", OFFS(0, 8), "\"data_offsets\":[\"0\",\"8\"]",
     NULL, DATA_LEN, 0, FNN_ERR_FORMAT,
     "\"layers.0.weight\" has data_offsets [\"0\",\"8\"]: expected"},
    {"offsets as fractions", OFFS(0, 8), OFFS(0.0, 8.5), NULL, DATA_LEN, 0,
     FNN_ERR_FORMAT, "\"data_offsets\" contains the number 0.0"},
    {"three offsets", OFFS(0, 8), "\"data_offsets\":[0,8,64]", NULL,
     DATA_LEN, 0, FNN_ERR_FORMAT, "has data_offsets [0,8,64]: expected"},
    // 2^64 - 1 is beyond a double's integers, so cJSON rounds it to 2^64.
    {"offset beyond 2^53", OFFS(0, 8), OFFS(18446744073709551615, 8), NULL,
     DATA_LEN, 0, FNN_ERR_FORMAT,
     "has data_offsets [1.8446744073709552e+19,8]: expected"},
    {"garbage after the header", "[28,44]}}", "[28,44]}} x", NULL, DATA_LEN,
     0, FNN_ERR_FORMAT,
     "unexpected byte 0x78 at byte 512 after the header JSON"},
    {"duplicate metadata key", "\"l2\":\"0\",", "\"l2\":\"0\",\"l2\":\"5\",",
     NULL, DATA_LEN, 0, FNN_ERR_FORMAT,
     "duplicate key \"l2\" in \"__metadata__\""},
    {"duplicate tensor", "\"layers.0.bias\":{",
     "\"layers.0.bias\":{\"dtype\":\"F32\",\"shape\":[1],"
     "\"data_offsets\":[8,12]},\"layers.0.bias\":{",
     NULL, DATA_LEN, 0, FNN_ERR_FORMAT,
     "duplicate key \"layers.0.bias\" in the header"},
    {"negative l2", "\"l2\":\"0\"", "\"l2\":\"-1\"", NULL, DATA_LEN, 0,
     FNN_ERR_FORMAT, "metadata \"l2\" is \"-1\": expected a number >= 0"},
    {"keep_prob zero", "\"keep_prob\":\"1\"", "\"keep_prob\":\"0\"", NULL,
     DATA_LEN, 0, FNN_ERR_FORMAT,
     "metadata \"keep_prob\" is \"0\": expected a number in (0, 1]"},
    // (2^24 + 1) 2^24 parameters per layer, two layers, 4 bytes each.
    {"overflowing layer sizes", "\"sizes\":\"[2,1]\"",
     "\"sizes\":\"[16777216,16777216,16777216]\"", NULL, DATA_LEN, 0,
     FNN_ERR_FORMAT, "need 2251799947902976 parameter bytes, but the file "
                     "has 44"},
    {"layer size out of range", "\"sizes\":\"[2,1]\"",
     "\"sizes\":\"[2,-1]\"", NULL, DATA_LEN, 0, FNN_ERR_FORMAT,
     "metadata \"sizes\" is \"[2,-1]\": entry 1 is invalid"},
    {"missing tensor", "\"layers.0.bias\"", "\"layers.0.bias_\"", NULL,
     DATA_LEN, 0, FNN_ERR_FORMAT, "tensor \"layers.0.bias\" is missing"},
    {"missing normalization", "\"normalize.std\"", "\"normalize.sd\"", NULL,
     DATA_LEN, 0, FNN_ERR_FORMAT, "tensor \"normalize.std\" is missing"},
    {"tensor not fitting layers", "\"shape\":[1,2]", "\"shape\":[2,1]", NULL,
     DATA_LEN, 0, FNN_ERR_FORMAT,
     "wrong shape for the layer sizes in the metadata (expected [1, 2])"},
    {"extra tensor", "\"normalized\":\"true\"", "\"normalized\":\"false\"",
     NULL, DATA_LEN, 0, FNN_ERR_FORMAT,
     "4 tensors in the header, expected 2"},
    {"NaN std", NULL, NULL, nan_std, DATA_LEN, 0, FNN_ERR_FORMAT,
     "normalize feature 1 has mean 1 and std nan"},
    {"zero std", NULL, NULL, zero_std, DATA_LEN, 0, FNN_ERR_FORMAT,
     "normalize feature 0 has mean 0 and std 0"},
    {"negative std", NULL, NULL, negative_std, DATA_LEN, 0, FNN_ERR_FORMAT,
     "normalize feature 1 has mean 1 and std -2"},
    {"infinite weight", NULL, NULL, inf_weight, DATA_LEN, 0, FNN_ERR_FORMAT,
     "parameter 1 is inf: weights must be finite"},
    {"unknown format version", "\"format_version\":\"1\"",
     "\"format_version\":\"9\"", NULL, DATA_LEN, 0, FNN_ERR_UNSUPPORTED,
     "unknown format version \"9\""},
    {"other format", "\"format\":\"fastnn\"", "\"format\":\"torch\"", NULL,
     DATA_LEN, 0, FNN_ERR_FORMAT, "metadata format is \"torch\""},
    {"unknown activation", "\"activation\":\"relu\"",
     "\"activation\":\"swish\"", NULL, DATA_LEN, 0, FNN_ERR_FORMAT,
     "unknown activation \"swish\""},
    {"no metadata", "\"__metadata__\"", "\"__metadata_\"", NULL, DATA_LEN, 0,
     FNN_ERR_FORMAT, "no __metadata__ object"},
};

static void damaged_files_rejected(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const reject_case *c = &CASES[i];
        model_data d = base_data();
        if (c->mutate) {
            c->mutate(&d);
        }
        unsigned char data[DATA_LEN + 8] = {0};
        pack(&d, data);
        char *header = replace(BASE_HEADER, c->old, c->new);
        write_file(path, header, c->claimed, data, (size_t)c->data_len);
        free(header);
        fnn_error err = {{0}};
        fnn_status s = FNN_OK;
        fnn_net *net = fnn_model_load(path, &err, &s);
        if (net || s != c->status || !strstr(err.message, c->message) ||
            !strstr(err.message, path)) {
            fail_msg("case \"%s\": status %d (expected %d), message \"%s\" "
                     "(expected \"%s\" and the path)",
                     c->name, (int)s, (int)c->status, err.message,
                     c->message);
        }
        fnn_net_free(net);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(valid_file_predicts_by_hand,
                                        make_path, remove_path),
        cmocka_unit_test_setup_teardown(space_padding_accepted, make_path,
                                        remove_path),
        cmocka_unit_test_setup_teardown(damaged_files_rejected, make_path,
                                        remove_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
