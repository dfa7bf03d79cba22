// Tests of the NumPy .npy reader and writer. Files are built byte by byte
// from the .npy layout: magic, version, little-endian header length, a dict
// padded to 64 bytes, then the elements in the stated byte order. So every
// expected value comes from the format, not from the reader.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fastnn.h"

// The CLI helper is not part of the library, so its source is compiled here.
#include "../cli/cli_data.c"

static char tmp_dir[] = "/tmp/fastnn_test_npy_XXXXXX";

static int setup_dir(void **state) {
    (void)state;
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_dir(void **state) {
    (void)state;
    DIR *dir = opendir(tmp_dir);
    struct dirent *entry;
    while (dir && (entry = readdir(dir)) != NULL) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", tmp_dir, entry->d_name);
        if (entry->d_name[0] != '.') {
            unlink(path);
        }
    }
    if (dir) {
        closedir(dir);
    }
    rmdir(tmp_dir);
    return 0;
}

static void tmp_path(char *out, const char *name) {
    snprintf(out, PATH_MAX, "%s/%s", tmp_dir, name);
}

static void write_raw(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

// Builds an .npy file in buf: version major.0, `dict` padded with spaces
// and '\n' to a multiple of 64 bytes, then n_data bytes. Returns its size.
static size_t build_npy(uint8_t *buf, int major, const char *dict,
                        const void *data, size_t n_data) {
    size_t prefix = major == 1 ? 10 : 12;
    size_t total = (prefix + strlen(dict) + 1 + 63) / 64 * 64;
    size_t len = total - prefix;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)major;
    buf[7] = 0;
    for (size_t i = 0; i < prefix - 8; i++) {
        buf[8 + i] = (uint8_t)(len >> (8 * i));
    }
    memset(buf + prefix, ' ', len);
    memcpy(buf + prefix, dict, strlen(dict));
    buf[total - 1] = '\n';
    if (n_data) {
        memcpy(buf + total, data, n_data);
    }
    return total + n_data;
}

static void write_npy(const char *path, int major, const char *dict,
                      const void *data, size_t n_data) {
    uint8_t *buf = malloc(4096 + n_data);
    assert_non_null(buf);
    size_t n = build_npy(buf, major, dict, data, n_data);
    write_raw(path, buf, n);
    free(buf);
}

// Stores the low `size` bytes of bits in little- or big-endian order.
static void put_bits(uint8_t *out, uint64_t bits, int size, int big) {
    for (int k = 0; k < size; k++) {
        out[big ? size - 1 - k : k] = (uint8_t)(bits >> (8 * k));
    }
}

static void put_f32(uint8_t *out, float v, int big) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    put_bits(out, bits, 4, big);
}

static void put_f64(uint8_t *out, double v, int big) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    put_bits(out, bits, 8, big);
}

// Writes labels.npy: '<i8' [n] with the values 0, 1, ..., n-1 modulo 3.
static void write_labels(const char *path, int n) {
    uint8_t data[8 * 64];
    for (int i = 0; i < n; i++) {
        put_bits(data + 8 * i, (uint64_t)(i % 3), 8, 0);
    }
    char dict[96];
    snprintf(dict, sizeof dict,
             "{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }", n);
    write_npy(path, 1, dict, data, 8 * (size_t)n);
}

static fnn_dataset *read_pair(const char *features, const char *labels,
                              fnn_error *err, fnn_status *s) {
    char fpath[PATH_MAX];
    char lpath[PATH_MAX];
    tmp_path(fpath, features);
    tmp_path(lpath, labels);
    return fnn_npy_read(fpath, lpath, err, s);
}

static void npy_f4_c_order_values(void **state) {
    (void)state;
    const float v[6] = {1.5f, -2.0f, 3.25f, 4.0f, 5.0f, -6.125f};
    uint8_t data[24];
    for (int i = 0; i < 6; i++) {
        put_f32(data + 4 * i, v[i], 0);
    }
    char path[PATH_MAX];
    tmp_path(path, "f4.npy");
    write_npy(path, 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
              data, sizeof data);
    tmp_path(path, "labels2.npy");
    uint8_t labels[16];
    put_bits(labels, 0, 8, 0);
    put_bits(labels + 8, 2, 8, 0);
    write_npy(path, 1,
              "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
              labels, sizeof labels);

    fnn_error err = {{0}};
    fnn_status s = FNN_ERR_INVALID;
    fnn_dataset *ds = read_pair("f4.npy", "labels2.npy", &err, &s);
    assert_non_null(ds);
    assert_int_equal(s, FNN_OK);
    assert_int_equal(ds->n_rows, 2);
    assert_int_equal(ds->n_features, 3);
    assert_null(ds->u8);
    assert_non_null(ds->f32);
    for (int i = 0; i < 6; i++) {
        assert_true(ds->f32[i] == v[i]);
    }
    assert_true(ds->labels[0] == 0.0f);
    assert_true(ds->labels[1] == 2.0f);
    assert_int_equal(ds->labels_integer, 1);
    assert_int_equal(ds->n_classes, 3);
    assert_non_null(strstr(ds->source, "f4.npy"));
    fnn_dataset_free(ds);
}

// Element (i, j) of a Fortran-order [2, 3] array is at file position
// i + 2 * j, and the reader must return it at C position 3 * i + j.
static void npy_f8_big_endian_fortran(void **state) {
    (void)state;
    uint8_t data[48];
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++) {
            put_f64(data + 8 * (i + 2 * j), 10.0 * i + j + 0.5, 1);
        }
    }
    char path[PATH_MAX];
    tmp_path(path, "f8be.npy");
    write_npy(path, 1,
              "{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }",
              data, sizeof data);
    tmp_path(path, "labels2.npy");
    write_labels(path, 2);

    fnn_error err = {{0}};
    fnn_status s;
    fnn_dataset *ds = read_pair("f8be.npy", "labels2.npy", &err, &s);
    assert_non_null(ds);
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++) {
            assert_true(ds->f32[3 * i + j] == (float)(10.0 * i + j + 0.5));
        }
    }
    fnn_dataset_free(ds);
}

static void npy_u1_stays_bytes(void **state) {
    (void)state;
    const uint8_t v[6] = {0, 255, 7, 128, 1, 2};
    char path[PATH_MAX];
    tmp_path(path, "u1.npy");
    write_npy(path, 1,
              "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 2), }", v,
              sizeof v);
    const uint8_t labels[3] = {9, 0, 4};
    tmp_path(path, "u1labels.npy");
    write_npy(path, 1,
              "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
              labels, sizeof labels);

    fnn_error err = {{0}};
    fnn_status s;
    fnn_dataset *ds = read_pair("u1.npy", "u1labels.npy", &err, &s);
    assert_non_null(ds);
    assert_null(ds->f32);
    assert_non_null(ds->u8);
    assert_memory_equal(ds->u8, v, sizeof v);
    assert_true(ds->labels[0] == 9.0f);
    assert_true(ds->labels[2] == 4.0f);
    assert_int_equal(ds->n_classes, 10);
    float rows[6];
    fnn_dataset_get_rows(ds, 0, 3, rows);
    assert_true(rows[1] == 255.0f);
    fnn_dataset_free(ds);
}

typedef struct int_case {
    const char *descr;
    int size;
    int big;
    uint64_t bits; // the element's bit pattern
    double expected;
} int_case;

// Each integer dtype, one column of one element, in both byte orders; a
// negative value checks sign extension from the element's width.
static void npy_integer_dtypes(void **state) {
    (void)state;
    const int_case cases[] = {
        {"|i1", 1, 0, 0x80, -128.0},
        {"|u1", 1, 0, 0xFF, 255.0},
        {"<i2", 2, 0, 0x8000, -32768.0},
        {">i2", 2, 1, 0xFFFE, -2.0},
        {">u2", 2, 1, 0xFFFF, 65535.0},
        {"<i4", 4, 0, 0xFFFFFFFFu, -1.0},
        {">i4", 4, 1, 0x7FFFFFFFu, 2147483648.0}, // rounded to float32
        {"<u4", 4, 0, 0x80000000u, 2147483648.0},
        {"<i8", 8, 0, 0xFFFFFFFFFFFFFFFBu, -5.0},
        {">i8", 8, 1, UINT64_C(1) << 40, 1099511627776.0},
        {">u8", 8, 1, UINT64_C(1) << 63, 9223372036854775808.0},
        {"|b1", 1, 0, 0x01, 1.0},
    };
    char path[PATH_MAX];
    tmp_path(path, "labels1.npy");
    write_labels(path, 1);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t data[8];
        put_bits(data, cases[c].bits, cases[c].size, cases[c].big);
        char dict[96];
        snprintf(dict, sizeof dict,
                 "{'descr': '%s', 'fortran_order': False, 'shape': (1, 1), }",
                 cases[c].descr);
        tmp_path(path, "int.npy");
        write_npy(path, 1, dict, data, (size_t)cases[c].size);
        fnn_error err = {{0}};
        fnn_status s;
        fnn_dataset *ds = read_pair("int.npy", "labels1.npy", &err, &s);
        if (!ds) {
            fail_msg("%s: %s", cases[c].descr, err.message);
        }
        float got = 0;
        fnn_dataset_get_rows(ds, 0, 1, &got);
        if (got != (float)cases[c].expected) {
            fail_msg("%s: read %.9g, expected %.9g", cases[c].descr, got,
                     cases[c].expected);
        }
        fnn_dataset_free(ds);
    }
}

// Versions 2.0 and 3.0 differ from 1.0 only in the 4-byte header length.
static void npy_versions_two_and_three(void **state) {
    (void)state;
    uint8_t data[8];
    put_f32(data, 0.25f, 0);
    put_f32(data + 4, -8.0f, 0);
    char path[PATH_MAX];
    tmp_path(path, "labels1.npy");
    write_labels(path, 1);
    for (int major = 2; major <= 3; major++) {
        tmp_path(path, "v.npy");
        write_npy(path, major,
                  "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
                  data, sizeof data);
        fnn_error err = {{0}};
        fnn_status s;
        fnn_dataset *ds = read_pair("v.npy", "labels1.npy", &err, &s);
        assert_non_null(ds);
        assert_true(ds->f32[0] == 0.25f);
        assert_true(ds->f32[1] == -8.0f);
        fnn_dataset_free(ds);
    }
}

// [2, 2, 3] arrays become 2 rows of 6 features in C order, for both
// orders in the file.
static void npy_three_dims_flattened(void **state) {
    (void)state;
    char path[PATH_MAX];
    tmp_path(path, "labels2.npy");
    write_labels(path, 2);
    for (int fortran = 0; fortran <= 1; fortran++) {
        uint8_t data[48];
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 2; j++) {
                for (int k = 0; k < 3; k++) {
                    int at = fortran ? i + 2 * j + 4 * k : 6 * i + 3 * j + k;
                    put_f32(data + 4 * at, (float)(100 * i + 10 * j + k), 0);
                }
            }
        }
        char dict[96];
        snprintf(dict, sizeof dict,
                 "{'descr': '<f4', 'fortran_order': %s, 'shape': (2, 2, 3), }",
                 fortran ? "True" : "False");
        tmp_path(path, "three.npy");
        write_npy(path, 1, dict, data, sizeof data);
        fnn_error err = {{0}};
        fnn_status s;
        fnn_dataset *ds = read_pair("three.npy", "labels2.npy", &err, &s);
        assert_non_null(ds);
        assert_int_equal(ds->n_rows, 2);
        assert_int_equal(ds->n_features, 6);
        for (int i = 0; i < 2; i++) {
            for (int f = 0; f < 6; f++) {
                float expected = (float)(100 * i + 10 * (f / 3) + f % 3);
                assert_true(ds->f32[6 * i + f] == expected);
            }
        }
        fnn_dataset_free(ds);
    }
}

static void npy_real_labels_column(void **state) {
    (void)state;
    uint8_t data[16];
    put_f64(data, 0.5, 0);
    put_f64(data + 8, -1.0, 0);
    char path[PATH_MAX];
    tmp_path(path, "real.npy");
    write_npy(path, 1,
              "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }",
              data, sizeof data);
    fnn_error err = {{0}};
    fnn_status s;
    fnn_dataset *ds = read_pair("real.npy", "real.npy", &err, &s);
    assert_non_null(ds);
    assert_true(ds->labels[0] == 0.5f);
    assert_true(ds->labels[1] == -1.0f);
    assert_int_equal(ds->labels_integer, 0);
    assert_int_equal(ds->n_classes, 0);
    fnn_dataset_free(ds);
}

// Spellings that Python's literal syntax allows and NumPy has written:
// double quotes, another key order, no trailing comma, line breaks and the
// 'L' suffix of Python 2 integers.
static void npy_header_spellings(void **state) {
    (void)state;
    const char *dicts[] = {
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 1)}",
        "{'shape': (2, 1), 'fortran_order': False, 'descr': '<f4'}",
        "{ 'descr' : '<f4' ,\n 'fortran_order' : False ,\n 'shape' : "
        "( 2 , 1 , ) , }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }",
    };
    uint8_t data[8];
    put_f32(data, 3.0f, 0);
    put_f32(data + 4, 4.0f, 0);
    char path[PATH_MAX];
    tmp_path(path, "labels2.npy");
    write_labels(path, 2);
    for (size_t c = 0; c < sizeof dicts / sizeof dicts[0]; c++) {
        tmp_path(path, "spell.npy");
        write_npy(path, 1, dicts[c], data, sizeof data);
        fnn_error err = {{0}};
        fnn_status s;
        fnn_dataset *ds = read_pair("spell.npy", "labels2.npy", &err, &s);
        if (!ds) {
            fail_msg("header %zu: %s", c, err.message);
        }
        assert_true(ds->f32[1] == 4.0f);
        fnn_dataset_free(ds);
    }
}

typedef struct bad_case {
    const char *name;
    int major;
    const char *dict;
    size_t n_data;    // bytes of data after the header
    fnn_status status;
    const char *message; // a part of the expected message
} bad_case;

static const bad_case BAD_FEATURES[] = {
    {"version 4.0", 4, "{'descr': '<f4', 'fortran_order': False, "
                       "'shape': (2, 3), }",
     24, FNN_ERR_UNSUPPORTED, "version 4.0"},
    {"no shape", 1, "{'descr': '<f4', 'fortran_order': False, }", 24,
     FNN_ERR_FORMAT, "the key 'shape'"},
    {"unknown key", 1, "{'descr': '<f4', 'fortran_order': False, "
                       "'shape': (2, 3), 'extra': 1}",
     24, FNN_ERR_FORMAT, "'descr', 'fortran_order' or 'shape'"},
    {"key twice", 1, "{'descr': '<f4', 'descr': '<f4', "
                     "'fortran_order': False, 'shape': (2, 3), }",
     24, FNN_ERR_FORMAT, "each key once"},
    {"int shape", 1, "{'descr': '<f4', 'fortran_order': False, "
                     "'shape': (6), }",
     24, FNN_ERR_FORMAT, "comma after the only dimension"},
    {"negative dim", 1, "{'descr': '<f4', 'fortran_order': False, "
                        "'shape': (-2, 3), }",
     24, FNN_ERR_FORMAT, "non-negative integer"},
    {"object", 1, "{'descr': '|O', 'fortran_order': False, "
                  "'shape': (2, 3), }",
     48, FNN_ERR_UNSUPPORTED, "'|O'"},
    {"structured", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, "
                      "'shape': (2, 3), }",
     24, FNN_ERR_UNSUPPORTED, "structured dtype"},
    {"complex", 1, "{'descr': '<c8', 'fortran_order': False, "
                   "'shape': (2, 3), }",
     48, FNN_ERR_UNSUPPORTED, "'<c8'"},
    {"half", 1, "{'descr': '<f2', 'fortran_order': False, "
                "'shape': (2, 3), }",
     12, FNN_ERR_UNSUPPORTED, "'<f2'"},
    {"unicode", 1, "{'descr': '<U5', 'fortran_order': False, "
                   "'shape': (2, 3), }",
     120, FNN_ERR_UNSUPPORTED, "'<U5'"},
    {"pipe order", 1, "{'descr': '|i4', 'fortran_order': False, "
                      "'shape': (2, 3), }",
     24, FNN_ERR_FORMAT, "byte order"},
    {"fortran word", 1, "{'descr': '<f4', 'fortran_order': 0, "
                        "'shape': (2, 3), }",
     24, FNN_ERR_FORMAT, "True or False"},
    {"text after dict", 1, "{'descr': '<f4', 'fortran_order': False, "
                           "'shape': (2, 3), } x",
     24, FNN_ERR_FORMAT, "only spaces after"},
    {"no dict", 1, "descr", 24, FNN_ERR_FORMAT, "'{'"},
    {"truncated data", 1, "{'descr': '<f4', 'fortran_order': False, "
                          "'shape': (2, 3), }",
     20, FNN_ERR_FORMAT, "should have 152 bytes, but it has 148"},
    {"trailing data", 1, "{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (2, 3), }",
     28, FNN_ERR_FORMAT, "4 unexpected bytes after byte 152"},
    {"one dimension", 1, "{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (6,), }",
     24, FNN_ERR_FORMAT, "expected 2 dimensions"},
    {"no rows", 1, "{'descr': '<f4', 'fortran_order': False, "
                   "'shape': (0, 3), }",
     0, FNN_ERR_FORMAT, "holds no values"},
    {"huge shape", 1, "{'descr': '<f8', 'fortran_order': False, "
                      "'shape': (1099511627776, 1099511627776), }",
     0, FNN_ERR_FORMAT, "too large"},
};

static void expect_failure(const char *what, fnn_dataset *ds, fnn_status s,
                           const fnn_error *err, fnn_status status,
                           const char *path, const char *message) {
    if (ds) {
        fail_msg("%s: accepted", what);
    }
    if (s != status) {
        fail_msg("%s: status %d (%s), expected %d: %s", what, (int)s,
                 fnn_status_str(s), (int)status, err->message);
    }
    if (!strstr(err->message, path) || !strstr(err->message, message)) {
        fail_msg("%s: message \"%s\" lacks \"%s\" or \"%s\"", what,
                 err->message, path, message);
    }
}

static void npy_bad_features_rejected(void **state) {
    (void)state;
    char path[PATH_MAX];
    tmp_path(path, "labels2.npy");
    write_labels(path, 2);
    uint8_t zeros[128] = {0};
    for (size_t c = 0; c < sizeof BAD_FEATURES / sizeof BAD_FEATURES[0];
         c++) {
        const bad_case *b = &BAD_FEATURES[c];
        tmp_path(path, "bad.npy");
        write_npy(path, b->major, b->dict, zeros, b->n_data);
        fnn_error err = {{0}};
        fnn_status s = FNN_OK;
        fnn_dataset *ds = read_pair("bad.npy", "labels2.npy", &err, &s);
        expect_failure(b->name, ds, s, &err, b->status, "bad.npy",
                       b->message);
    }
}

// Files broken before the dict: the magic, the version and the length.
static void npy_bad_prefix_rejected(void **state) {
    (void)state;
    char path[PATH_MAX];
    tmp_path(path, "labels2.npy");
    write_labels(path, 2);
    const struct {
        const char *name;
        const char *bytes;
        size_t n;
        fnn_status status;
        const char *message;
    } cases[] = {
        {"bad magic", "\x93NUMPX\x01\x00\x10\x00{}", 12, FNN_ERR_FORMAT,
         "invalid .npy magic"},
        {"short file", "\x93NU", 3, FNN_ERR_FORMAT, "truncated"},
        {"version 1.1", "\x93NUMPY\x01\x01\x10\x00", 10, FNN_ERR_UNSUPPORTED,
         "version 1.1"},
        {"zero length", "\x93NUMPY\x01\x00\x00\x00", 10, FNN_ERR_FORMAT,
         "header length 0"},
        {"header cut", "\x93NUMPY\x01\x00\x40\x00{'descr'", 18,
         FNN_ERR_FORMAT, "inside the header"},
        {"nul in header", "\x93NUMPY\x01\x00\x04\x00{\0}\n", 14,
         FNN_ERR_FORMAT, "NUL"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tmp_path(path, "prefix.npy");
        write_raw(path, cases[c].bytes, cases[c].n);
        fnn_error err = {{0}};
        fnn_status s = FNN_OK;
        fnn_dataset *ds = read_pair("prefix.npy", "labels2.npy", &err, &s);
        expect_failure(cases[c].name, ds, s, &err, cases[c].status,
                       "prefix.npy", cases[c].message);
    }
}

static void npy_nonfinite_values_rejected(void **state) {
    (void)state;
    char path[PATH_MAX];
    tmp_path(path, "labels2.npy");
    write_labels(path, 2);
    uint8_t data[48] = {0};
    put_f32(data + 4 * 5, NAN, 0);
    tmp_path(path, "nan.npy");
    write_npy(path, 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
              data, 24);
    fnn_error err = {{0}};
    fnn_status s = FNN_OK;
    fnn_dataset *ds = read_pair("nan.npy", "labels2.npy", &err, &s);
    expect_failure("NaN", ds, s, &err, FNN_ERR_NONFINITE, "nan.npy",
                   "features element [1, 2] is nan");

    // Fortran order: file position 1 is element [1, 0].
    memset(data, 0, sizeof data);
    put_f64(data + 8, -INFINITY, 1);
    tmp_path(path, "inf.npy");
    write_npy(path, 1,
              "{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }",
              data, 48);
    ds = read_pair("inf.npy", "labels2.npy", &err, &s);
    expect_failure("infinity", ds, s, &err, FNN_ERR_NONFINITE, "inf.npy",
                   "element [1, 0] is -inf");

    memset(data, 0, sizeof data);
    put_f64(data + 16, 1e300, 0);
    tmp_path(path, "big.npy");
    write_npy(path, 1,
              "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
              data, 48);
    ds = read_pair("big.npy", "labels2.npy", &err, &s);
    expect_failure("1e300", ds, s, &err, FNN_ERR_FORMAT, "big.npy",
                   "element [0, 2] is 1e+300, outside the float32 range");
}

static void npy_bad_labels_rejected(void **state) {
    (void)state;
    uint8_t data[48] = {0};
    char path[PATH_MAX];
    tmp_path(path, "x2.npy");
    write_npy(path, 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
              data, 24);
    tmp_path(path, "y22.npy");
    write_npy(path, 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
              data, 16);
    tmp_path(path, "y3.npy");
    write_labels(path, 3);
    put_f64(data + 8, NAN, 0);
    tmp_path(path, "ynan.npy");
    write_npy(path, 1,
              "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
              data, 16);

    fnn_error err = {{0}};
    fnn_status s = FNN_OK;
    fnn_dataset *ds = read_pair("x2.npy", "y22.npy", &err, &s);
    expect_failure("labels [2, 2]", ds, s, &err, FNN_ERR_FORMAT, "y22.npy",
                   "labels array has shape (2, 2)");
    ds = read_pair("x2.npy", "y3.npy", &err, &s);
    expect_failure("3 labels", ds, s, &err, FNN_ERR_FORMAT, "y3.npy",
                   "3 labels, but the features file");
    ds = read_pair("x2.npy", "ynan.npy", &err, &s);
    expect_failure("NaN label", ds, s, &err, FNN_ERR_NONFINITE, "ynan.npy",
                   "labels element [1] is nan");
    ds = read_pair("x2.npy", "missing.npy", &err, &s);
    expect_failure("missing", ds, s, &err, FNN_ERR_IO, "missing.npy",
                   "failed to open");
    // Without a labels file the data set holds features only.
    tmp_path(path, "x2.npy");
    ds = fnn_npy_read(path, NULL, &err, &s);
    assert_non_null(ds);
    assert_int_equal(s, FNN_OK);
    assert_null(ds->labels);
    fnn_dataset_free(ds);
    ds = fnn_npy_read(NULL, path, &err, &s);
    assert_null(ds);
    assert_int_equal(s, FNN_ERR_INVALID);
}

// Writes `n` bytes into the FIFO `path` from a child process.
static pid_t feed_fifo(const char *path, const uint8_t *bytes, size_t n) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = fopen(path, "wb");
        size_t put = f ? fwrite(bytes, 1, n, f) : 0;
        int ok = f && fclose(f) == 0 && put == n;
        _exit(ok ? 0 : 1);
    }
    return pid;
}

// A pipe has no size to compare with the header, so the reader finds a
// short or long stream while reading.
static void npy_pipe_length_checked(void **state) {
    (void)state;
    char path[PATH_MAX];
    tmp_path(path, "labels2.npy");
    write_labels(path, 2);
    tmp_path(path, "fifo.npy");
    assert_int_equal(mkfifo(path, 0600), 0);
    uint8_t zeros[32] = {0};
    uint8_t buf[256];
    const char *dict =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const size_t sizes[3] = {20, 28, 24};
    const char *messages[3] = {"file is truncated", "4 unexpected bytes",
                               NULL};
    for (int c = 0; c < 3; c++) {
        size_t n = build_npy(buf, 1, dict, zeros, sizes[c]);
        pid_t pid = feed_fifo(path, buf, n);
        fnn_error err = {{0}};
        fnn_status s = FNN_OK;
        fnn_dataset *ds = read_pair("fifo.npy", "labels2.npy", &err, &s);
        int wstatus = 0;
        assert_int_equal(waitpid(pid, &wstatus, 0), pid);
        if (!messages[c]) {
            assert_non_null(ds);
            assert_int_equal(ds->n_features, 3);
            fnn_dataset_free(ds);
            continue;
        }
        expect_failure(messages[c], ds, s, &err, FNN_ERR_FORMAT, "fifo.npy",
                       messages[c]);
    }
    unlink(path);
}

static int contains(const uint8_t *buf, size_t n, const char *text) {
    size_t k = strlen(text);
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(buf + i, text, k) == 0) {
            return 1;
        }
    }
    return 0;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc(1 << 16);
    assert_non_null(buf);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

// The header of a written file, checked against the layout np.save uses.
static void npy_write_header_layout(void **state) {
    (void)state;
    const float v[6] = {1.0f, -2.5f, 3.0f, 0.125f, 5.0f, 6.0f};
    const int64_t shape[2] = {2, 3};
    char path[PATH_MAX];
    tmp_path(path, "out.npy");
    fnn_error err = {{0}};
    assert_int_equal(fnn_npy_write(path, FNN_F32, 2, shape, v, &err), FNN_OK);
    size_t n = 0;
    uint8_t *buf = slurp(path, &n);
    // 10 + 59 + 1 header bytes, padded to 128 as np.save pads them.
    assert_int_equal(n, 128 + 24);
    assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
    assert_int_equal(buf[8] | buf[9] << 8, 128 - 10);
    const char *dict =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    assert_memory_equal(buf + 10, dict, strlen(dict));
    for (size_t i = 10 + strlen(dict); i < 127; i++) {
        assert_int_equal(buf[i], ' ');
    }
    assert_int_equal(buf[127], '\n');
    uint8_t expected[4];
    put_f32(expected, -2.5f, 0);
    assert_memory_equal(buf + 128 + 4, expected, 4);
    free(buf);

    const double d[4] = {0.1, -1e300, 3.0, 4.0};
    const int64_t one[1] = {4};
    assert_int_equal(fnn_npy_write(path, FNN_F64, 1, one, d, &err), FNN_OK);
    buf = slurp(path, &n);
    assert_int_equal(n, 128 + 32);
    assert_true(contains(buf, 128, "'<f8'"));
    assert_true(contains(buf, 128, "'shape': (4,), }"));
    uint8_t e8[8];
    put_f64(e8, -1e300, 0);
    assert_memory_equal(buf + 128 + 8, e8, 8);
    free(buf);

    assert_int_equal(fnn_npy_write(path, FNN_F64, 0, NULL, d, &err), FNN_OK);
    buf = slurp(path, &n);
    assert_int_equal(n, 128 + 8);
    assert_true(contains(buf, 128, "'shape': (), }"));
    free(buf);
}

static void npy_write_reads_back(void **state) {
    (void)state;
    float x[12];
    double y[4] = {0, 1, 1, 0};
    for (int i = 0; i < 12; i++) {
        x[i] = (float)i / 7.0f - 0.5f;
    }
    const int64_t xs[2] = {4, 3};
    const int64_t ys[1] = {4};
    char xpath[PATH_MAX];
    char ypath[PATH_MAX];
    tmp_path(xpath, "wx.npy");
    tmp_path(ypath, "wy.npy");
    fnn_error err = {{0}};
    assert_int_equal(fnn_npy_write(xpath, FNN_F32, 2, xs, x, &err), FNN_OK);
    assert_int_equal(fnn_npy_write(ypath, FNN_F64, 1, ys, y, &err), FNN_OK);
    fnn_status s;
    fnn_dataset *ds = fnn_npy_read(xpath, ypath, &err, &s);
    assert_non_null(ds);
    assert_memory_equal(ds->f32, x, sizeof x);
    assert_true(ds->labels[1] == 1.0f);
    assert_int_equal(ds->n_classes, 2);
    fnn_dataset_free(ds);
}

static int count_entries(void) {
    DIR *dir = opendir(tmp_dir);
    assert_non_null(dir);
    int n = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        n += entry->d_name[0] != '.';
    }
    closedir(dir);
    return n;
}

// A failed write leaves the existing file as it was and no temporary file.
static void npy_write_failure_keeps_file(void **state) {
    (void)state;
    const float v[2] = {1.0f, 2.0f};
    const int64_t shape[1] = {2};
    char path[PATH_MAX];
    tmp_path(path, "keep.npy");
    fnn_error err = {{0}};
    assert_int_equal(fnn_npy_write(path, FNN_F32, 1, shape, v, &err), FNN_OK);
    size_t n_before = 0;
    uint8_t *before = slurp(path, &n_before);
    int entries = count_entries();

    const int64_t negative[1] = {-1};
    assert_int_equal(fnn_npy_write(path, FNN_F32, 1, negative, v, &err),
                     FNN_ERR_INVALID);
    assert_int_equal(fnn_npy_write(path, FNN_F32, 33, shape, v, &err),
                     FNN_ERR_INVALID);
    assert_int_equal(fnn_npy_write(path, FNN_F32, 1, shape, NULL, &err),
                     FNN_ERR_INVALID);
    char missing[PATH_MAX];
    tmp_path(missing, "no-such-dir/out.npy");
    assert_int_equal(fnn_npy_write(missing, FNN_F32, 1, shape, v, &err),
                     FNN_ERR_IO);
    assert_non_null(strstr(err.message, "no-such-dir/out.npy"));

    size_t n_after = 0;
    uint8_t *after = slurp(path, &n_after);
    assert_int_equal(n_after, n_before);
    assert_memory_equal(after, before, n_before);
    assert_int_equal(count_entries(), entries);
    free(before);
    free(after);
}

static void cli_data_npy_dispatch(void **state) {
    (void)state;
    char xpath[PATH_MAX];
    char ypath[PATH_MAX];
    tmp_path(xpath, "wx.npy");
    tmp_path(ypath, "wy.npy");
    const float x[2] = {1.0f, 2.0f};
    const double y[2] = {1.0, 0.0};
    const int64_t xs[2] = {2, 1};
    const int64_t ys[1] = {2};
    fnn_error err = {{0}};
    assert_int_equal(fnn_npy_write(xpath, FNN_F32, 2, xs, x, &err), FNN_OK);
    assert_int_equal(fnn_npy_write(ypath, FNN_F64, 1, ys, y, &err), FNN_OK);
    fnn_status s = FNN_ERR_INVALID;
    fnn_dataset *ds = cli_data_load(xpath, ypath, 1, NULL, &err, &s);
    assert_non_null(ds);
    assert_int_equal(s, FNN_OK);
    assert_true(ds->f32[1] == 2.0f);
    fnn_dataset_free(ds);

    ds = cli_data_load(xpath, NULL, 1, NULL, &err, &s);
    assert_non_null(ds);
    assert_int_equal(s, FNN_OK);
    assert_null(ds->labels);
    assert_int_equal(ds->n_rows, 2);
    fnn_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(npy_f4_c_order_values),
        cmocka_unit_test(npy_f8_big_endian_fortran),
        cmocka_unit_test(npy_u1_stays_bytes),
        cmocka_unit_test(npy_integer_dtypes),
        cmocka_unit_test(npy_versions_two_and_three),
        cmocka_unit_test(npy_three_dims_flattened),
        cmocka_unit_test(npy_real_labels_column),
        cmocka_unit_test(npy_header_spellings),
        cmocka_unit_test(npy_bad_features_rejected),
        cmocka_unit_test(npy_bad_prefix_rejected),
        cmocka_unit_test(npy_nonfinite_values_rejected),
        cmocka_unit_test(npy_bad_labels_rejected),
        cmocka_unit_test(npy_pipe_length_checked),
        cmocka_unit_test(npy_write_header_layout),
        cmocka_unit_test(npy_write_reads_back),
        cmocka_unit_test(npy_write_failure_keeps_file),
        cmocka_unit_test(cli_data_npy_dispatch),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
