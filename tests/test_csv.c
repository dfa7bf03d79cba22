// Tests of the CSV reader on small files written to a temporary directory.
// Expected values are the numbers typed into each file.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "fastnn.h"

static char tmp_dir[] = "/tmp/fastnn_test_csv_XXXXXX";

static int setup_dir(void **state) {
    (void)state;
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_dir(void **state) {
    (void)state;
    DIR *dir = opendir(tmp_dir);
    struct dirent *entry;
    while (dir && (entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 &&
            strcmp(entry->d_name, "..") != 0) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", tmp_dir, entry->d_name);
            unlink(path);
        }
    }
    if (dir) {
        closedir(dir);
    }
    rmdir(tmp_dir);
    return 0;
}

// Writes `size` bytes of `text` to "<tmp_dir>/<name>" and stores its path in
// out.
static void write_bytes(char *out, const char *name, const char *text,
                        size_t size) {
    snprintf(out, PATH_MAX, "%s/%s", tmp_dir, name);
    FILE *fp = fopen(out, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, size, fp), size);
    assert_int_equal(fclose(fp), 0);
}

static void write_text(char *out, const char *name, const char *text) {
    write_bytes(out, name, text, strlen(text));
}

static fnn_dataset *read_ok(const char *path, const fnn_csv_options *opts) {
    fnn_error err;
    fnn_status status = FNN_ERR_INVALID;
    fnn_dataset *ds = fnn_csv_read(path, opts, &err, &status);
    if (!ds) {
        fail_msg("%s", err.message);
    }
    assert_int_equal(status, FNN_OK);
    return ds;
}

// Reads text that must fail with `expected` and returns the message in err.
static void read_fails(const char *name, const char *text,
                       const fnn_csv_options *opts, fnn_status expected,
                       fnn_error *err) {
    char path[PATH_MAX];
    write_text(path, name, text);
    fnn_status status = FNN_OK;
    strcpy(err->message, "(no message)");
    assert_null(fnn_csv_read(path, opts, err, &status));
    assert_int_equal(status, expected);
}

static void expect_message(const fnn_error *err, const char *part) {
    if (!strstr(err->message, part)) {
        fail_msg("message \"%s\" does not contain \"%s\"", err->message, part);
    }
}

// The table that every variant in csv_format_variants_agree encodes.
static const float TABLE_FEATURES[3][2] = {
    {1.0f, 2.5f}, {-3.0f, 400.0f}, {0.125f, 7.0f}};
static const float TABLE_LABELS[3] = {0.0f, 1.0f, 2.0f};

static void check_table(const fnn_dataset *ds) {
    assert_int_equal(ds->n_rows, 3);
    assert_int_equal(ds->n_features, 2);
    assert_non_null(ds->f32);
    assert_null(ds->u8);
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 2; j++) {
            assert_true(ds->f32[i * 2 + j] == TABLE_FEATURES[i][j]);
        }
        assert_true(ds->labels[i] == TABLE_LABELS[i]);
    }
    assert_int_equal(ds->labels_integer, 1);
    assert_int_equal(ds->n_classes, 3);
    assert_non_null(ds->names);
    assert_string_equal(ds->names[0], "a");
    assert_string_equal(ds->names[1], "b");
}

static void csv_format_variants_agree(void **state) {
    (void)state;
    static const char *const variants[] = {
        "a,b,label\n1,2.5,0\n-3,4e2,1\n0.125,7,2\n",
        "a,b,label\n1,2.5,0\n-3,4e2,1\n0.125,7,2",
        "a,b,label\r\n1,2.5,0\r\n-3,4e2,1\r\n0.125,7,2\r\n",
        "a,b,label\r\n1,2.5,0\r\n-3,4e2,1\r\n0.125,7,2",
        "a,b,label\n1,2.5,0\n-3,4e2,1\n0.125,7,2\n\n\r\n  \n",
        " a , b\t,label\n 1 ,\t2.5,0 \n-3, 4e2 ,1\n0.125 , 7,2\n",
        "\"a\",\"b\",\"label\"\n1,2.5,0\n-3,4e2,1\n0.125,7,2\n",
        "\xEF\xBB\xBF"
        "a,b,label\n1,2.5,0\n-3,4e2,1\n0.125,7,2\n",
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        char path[PATH_MAX];
        char name[32];
        snprintf(name, sizeof name, "table%zu.csv", v);
        write_text(path, name, variants[v]);
        fnn_dataset *ds = read_ok(path, NULL);
        check_table(ds);
        assert_string_equal(ds->source, path);
        fnn_dataset_free(ds);
    }
}

static void csv_header_detection(void **state) {
    (void)state;
    char path[PATH_MAX];
    fnn_csv_options opts = fnn_csv_options_default();
    assert_int_equal(opts.header, -1);
    assert_int_equal(opts.label_column, -1);
    assert_null(opts.label_name);

    write_text(path, "numeric.csv", "1,2,0\n3,4,1\n");
    fnn_dataset *ds = read_ok(path, &opts);
    assert_int_equal(ds->n_rows, 2);
    assert_null(ds->names);
    assert_true(ds->f32[0] == 1.0f);
    assert_true(ds->f32[3] == 4.0f);
    assert_true(ds->labels[1] == 1.0f);
    fnn_dataset_free(ds);

    // A forced header takes a numeric first row as names.
    opts.header = 1;
    ds = read_ok(path, &opts);
    assert_int_equal(ds->n_rows, 1);
    assert_non_null(ds->names);
    assert_string_equal(ds->names[0], "1");
    assert_string_equal(ds->names[1], "2");
    assert_true(ds->f32[0] == 3.0f);
    fnn_dataset_free(ds);
}

static void csv_header_forced_off(void **state) {
    (void)state;
    fnn_csv_options opts = fnn_csv_options_default();
    opts.header = 0;
    fnn_error err;
    read_fails("named.csv", "x,y,label\n1,2,0\n", &opts, FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 1, column 1");
    expect_message(&err, "invalid number \"x\"");
}

static void csv_label_column_by_index(void **state) {
    (void)state;
    char path[PATH_MAX];
    write_text(path, "first.csv", "y,p,q\n0.5,1,2\n-1,3,4\n");
    fnn_csv_options opts = fnn_csv_options_default();
    opts.label_column = 0;
    fnn_dataset *ds = read_ok(path, &opts);
    assert_int_equal(ds->n_features, 2);
    assert_string_equal(ds->names[0], "p");
    assert_string_equal(ds->names[1], "q");
    assert_true(ds->f32[0] == 1.0f);
    assert_true(ds->f32[1] == 2.0f);
    assert_true(ds->f32[2] == 3.0f);
    assert_true(ds->f32[3] == 4.0f);
    assert_true(ds->labels[0] == 0.5f);
    assert_true(ds->labels[1] == -1.0f);
    assert_int_equal(ds->labels_integer, 0);
    assert_int_equal(ds->n_classes, 0);
    fnn_dataset_free(ds);

    // The middle column, without a header.
    write_text(path, "middle.csv", "1,4,2\n3,0,4\n");
    opts.label_column = 1;
    ds = read_ok(path, &opts);
    assert_true(ds->f32[0] == 1.0f);
    assert_true(ds->f32[1] == 2.0f);
    assert_true(ds->labels[0] == 4.0f);
    assert_true(ds->labels[1] == 0.0f);
    assert_int_equal(ds->labels_integer, 1);
    assert_int_equal(ds->n_classes, 5);
    fnn_dataset_free(ds);
}

static void csv_label_column_by_name(void **state) {
    (void)state;
    char path[PATH_MAX];
    write_text(path, "byname.csv",
               "\"size\", \"kind \"\"B\"\"\" ,weight\n1,3,2\n4,1,5\n");
    fnn_csv_options opts = fnn_csv_options_default();
    opts.label_name = "kind \"B\"";
    fnn_dataset *ds = read_ok(path, &opts);
    assert_int_equal(ds->n_features, 2);
    assert_string_equal(ds->names[0], "size");
    assert_string_equal(ds->names[1], "weight");
    assert_true(ds->f32[0] == 1.0f);
    assert_true(ds->f32[1] == 2.0f);
    assert_true(ds->f32[2] == 4.0f);
    assert_true(ds->f32[3] == 5.0f);
    assert_true(ds->labels[0] == 3.0f);
    assert_true(ds->labels[1] == 1.0f);
    assert_int_equal(ds->n_classes, 4);
    fnn_dataset_free(ds);
}

static void csv_label_kinds(void **state) {
    (void)state;
    char path[PATH_MAX];
    write_text(path, "negative.csv", "1,0\n2,-1\n");
    fnn_dataset *ds = read_ok(path, NULL);
    assert_int_equal(ds->labels_integer, 0);
    assert_int_equal(ds->n_classes, 0);
    fnn_dataset_free(ds);

    write_text(path, "fraction.csv", "1,0\n2,1.5\n");
    ds = read_ok(path, NULL);
    assert_int_equal(ds->labels_integer, 0);
    assert_int_equal(ds->n_classes, 0);
    fnn_dataset_free(ds);

    // 2^24 = 16777216 is the first label past the class-index limit.
    write_text(path, "huge.csv", "1,0\n2,16777216\n");
    ds = read_ok(path, NULL);
    assert_int_equal(ds->labels_integer, 0);
    assert_int_equal(ds->n_classes, 0);
    fnn_dataset_free(ds);

    write_text(path, "limit.csv", "1,0\n2,16777215\n");
    ds = read_ok(path, NULL);
    assert_int_equal(ds->labels_integer, 1);
    assert_int_equal(ds->n_classes, 16777216);
    fnn_dataset_free(ds);

    write_text(path, "binary.csv", "1,0\n2,1\n3,1\n");
    ds = read_ok(path, NULL);
    assert_int_equal(ds->labels_integer, 1);
    assert_int_equal(ds->n_classes, 2);
    fnn_dataset_free(ds);
}

static void csv_get_rows_copies(void **state) {
    (void)state;
    char path[PATH_MAX];
    write_text(path, "rows.csv", "1,2,3,0\n4,5,6,1\n7,8,9,0\n");
    fnn_dataset *ds = read_ok(path, NULL);
    float out[6];
    fnn_dataset_get_rows(ds, 1, 2, out);
    for (int i = 0; i < 6; i++) {
        assert_true(out[i] == (float)(4 + i));
    }
    fnn_dataset_free(ds);
}

// 20000 rows exercise the geometric growth of the row buffers.
static void csv_many_rows(void **state) {
    (void)state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/many.csv", tmp_dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fprintf(fp, "f0,f1,f2,label\n");
    for (int i = 0; i < 20000; i++) {
        fprintf(fp, "%d,%d.5,-%d,%d\n", i, i, i, i % 7);
    }
    assert_int_equal(fclose(fp), 0);

    fnn_dataset *ds = read_ok(path, NULL);
    assert_int_equal(ds->n_rows, 20000);
    assert_int_equal(ds->n_features, 3);
    assert_int_equal(ds->n_classes, 7);
    assert_true(ds->f32[3 * 12345 + 0] == 12345.0f);
    assert_true(ds->f32[3 * 12345 + 1] == 12345.5f);
    assert_true(ds->f32[3 * 12345 + 2] == -12345.0f);
    assert_true(ds->labels[19999] == (float)(19999 % 7));
    fnn_dataset_free(ds);
}

static void csv_invalid_number_rejected(void **state) {
    (void)state;
    fnn_error err;
    read_fails("abc.csv", "a,b,label\n1,2,0\n3,abc,1\n", NULL, FNN_ERR_FORMAT,
               &err);
    expect_message(&err, "abc.csv: line 3, column 2 (\"b\")");
    expect_message(&err, "invalid number \"abc\"");

    read_fails("suffix.csv", "1,2,0\n3,1.5x,1\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 2, column 2:");
    expect_message(&err, "invalid number \"1.5x\"");

    read_fails("space.csv", "1,2,0\n3,1 5,1\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "invalid number \"1 5\"");
}

// strtod reads hexadecimal floats, but the message promises a decimal value.
static void csv_hex_float_rejected(void **state) {
    (void)state;
    fnn_error err;
    read_fails("hex.csv", "1,2,0\n0x1p3,1,1\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 2, column 1:");
    expect_message(&err, "invalid number \"0x1p3\": expected a finite decimal");
    read_fails("hexlabel.csv", "1,2,0\n3,1,0X1\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "invalid number \"0X1\"");
}

// Below FLT_MIN float32 keeps a subnormal (1e-40) or rounds to 0 (1e-320).
static void csv_tiny_values_kept(void **state) {
    (void)state;
    char path[PATH_MAX];
    write_text(path, "tiny.csv", "1e-40,1e-320,0\n");
    fnn_dataset *ds = read_ok(path, NULL);
    assert_true(ds->f32[0] == 1e-40f);
    assert_true(ds->f32[0] > 0.0f);
    assert_true(ds->f32[1] == 0.0f);
    fnn_dataset_free(ds);
}

static void csv_cr_only_rejected(void **state) {
    (void)state;
    fnn_error err;
    read_fails("cr.csv", "a,b,label\r1,2,0\r3,3,1\r", NULL, FNN_ERR_FORMAT,
               &err);
    expect_message(&err, "cr.csv: line 1 contains a carriage return at "
                         "character 10");
    expect_message(&err, "CR-only line ends, which are not supported");
}

// A control byte in a field is shown as \xNN instead of hiding in the text.
static void csv_control_byte_escaped(void **state) {
    (void)state;
    fnn_error err;
    read_fails("ctrl.csv", "1,2,0\n3\x01,1,1\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "invalid number \"3\\x01\"");
    read_fails("high.csv", "1,2,0\n\xff" "7,1,1\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "invalid number \"\\xFF7\"");
}

static void csv_non_finite_rejected(void **state) {
    (void)state;
    static const char *const values[] = {"nan", "inf", "-inf", "1e999",
                                         "Infinity"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char text[64];
        char quoted[32];
        snprintf(text, sizeof text, "x,y\n1,0\n2,0\n%s,1\n", values[i]);
        fnn_error err;
        read_fails("nonfinite.csv", text, NULL, FNN_ERR_FORMAT, &err);
        expect_message(&err, "line 4, column 1 (\"x\")");
        expect_message(&err, "non-finite number");
        snprintf(quoted, sizeof quoted, "\"%s\"", values[i]);
        expect_message(&err, quoted);
    }

    // Finite as a double but beyond the largest float32, about 3.4e38.
    fnn_error err;
    read_fails("range.csv", "1,0\n1e39,1\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 2, column 1");
    expect_message(&err, "float32 range \"1e39\"");
}

static void csv_empty_field_rejected(void **state) {
    (void)state;
    fnn_error err;
    read_fails("empty.csv", "a,b,label\n1,,0\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 2, column 2 (\"b\")");
    expect_message(&err, "empty field");

    // An empty field in a numeric first row is data, not a header.
    read_fails("empty1.csv", "1,,0\n2,3,1\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 1, column 2: empty field");

    read_fails("emptylabel.csv", "1,2,\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 1, column 3: empty field");
}

static void csv_ragged_row_rejected(void **state) {
    (void)state;
    fnn_error err;
    read_fails("ragged.csv", "a,b,label\n1,2,0\n3,4\n", NULL, FNN_ERR_FORMAT,
               &err);
    expect_message(&err, "line 3 has 2 fields, expected 3 as on line 1");

    read_fails("wide.csv", "1,2,0\n3,4,1,5\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 2 has 4 fields, expected 3");
    // A mismatch right after the first line suggests skipping that line,
    // as scikit-learn's files need; a later one does not.
    expect_message(&err, "if line 1 is not the header or data, skip it "
                         "(skip_rows 1, --skip-rows 1)");
    read_fails("counts.csv", "\n150,4,a,b\n1,2,3,4,0\n", NULL,
               FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 3 has 5 fields, expected 4 as on line 2: if "
                         "line 2 is not the header or data, skip it "
                         "(skip_rows 2");
    read_fails("ragged.csv", "a,b,label\n1,2,0\n3,4\n", NULL, FNN_ERR_FORMAT,
               &err);
    assert_null(strstr(err.message, "skip"));
}

// Blank lines count in line numbers although they are skipped.
static void csv_line_numbers_physical(void **state) {
    (void)state;
    fnn_error err;
    read_fails("gaps.csv", "a,b\r\n\r\n1,0\r\n\r\n2,?\r\n", NULL,
               FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 5, column 2 (\"b\")");
    expect_message(&err, "\"?\"");
}

static void csv_no_rows_rejected(void **state) {
    (void)state;
    fnn_error err;
    read_fails("zero.csv", "", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "zero.csv: no data rows");

    read_fails("blank.csv", "\n \n\r\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "no data rows");

    read_fails("header.csv", "a,b,label\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "no data rows after the header on line 1");

    read_fails("single.csv", "1\n2\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 1 has 1 field");
}

static void csv_unknown_label_name(void **state) {
    (void)state;
    fnn_csv_options opts = fnn_csv_options_default();
    opts.label_name = "quality";
    fnn_error err;
    read_fails("names.csv", "alcohol,acidity,grade\n1,2,3\n", &opts,
               FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 1");
    expect_message(&err, "label column \"quality\" not found");
    expect_message(&err, "\"alcohol\", \"acidity\", \"grade\"");

    read_fails("nonames.csv", "1,2,3\n", &opts, FNN_ERR_FORMAT, &err);
    expect_message(&err, "no header row");

    opts.header = 0;
    read_fails("nonames.csv", "1,2,3\n", &opts, FNN_ERR_INVALID, &err);
}

static void csv_invalid_options(void **state) {
    (void)state;
    fnn_csv_options opts = fnn_csv_options_default();
    fnn_error err;
    opts.label_column = 3;
    read_fails("range.csv", "1,2,3\n", &opts, FNN_ERR_FORMAT, &err);
    expect_message(&err, "label column 3 is out of range");

    opts.label_column = -3;
    read_fails("range.csv", "1,2,3\n", &opts, FNN_ERR_INVALID, &err);
    opts.label_column = -1;
    opts.header = 2;
    read_fails("range.csv", "1,2,3\n", &opts, FNN_ERR_INVALID, &err);

    fnn_status status = FNN_OK;
    assert_null(fnn_csv_read(NULL, NULL, &err, &status));
    assert_int_equal(status, FNN_ERR_INVALID);
}

static void csv_malformed_text_rejected(void **state) {
    (void)state;
    fnn_error err;
    read_fails("quote.csv", "\"a,b\n1,2\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "line 1, column 1: unterminated quoted field");

    read_fails("after.csv", "\"a\"x,b\n1,2\n", NULL, FNN_ERR_FORMAT, &err);
    expect_message(&err, "unexpected character 'x'");

    char path[PATH_MAX];
    write_bytes(path, "nul.csv", "1,2\n3,\0004\n", 9);
    fnn_status status = FNN_OK;
    assert_null(fnn_csv_read(path, NULL, &err, &status));
    assert_int_equal(status, FNN_ERR_FORMAT);
    expect_message(&err, "line 2 contains a NUL byte");
}

static void csv_missing_file_io_error(void **state) {
    (void)state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/absent.csv", tmp_dir);
    fnn_error err;
    fnn_status status = FNN_OK;
    assert_null(fnn_csv_read(path, NULL, &err, &status));
    assert_int_equal(status, FNN_ERR_IO);
    expect_message(&err, path);
    expect_message(&err, strerror(ENOENT));
}

static void csv_gzip_matches_plain(void **state) {
    (void)state;
    char plain[PATH_MAX];
    write_text(plain, "g.csv", "a,b,y\n1,2.5,0\n-3,400,1\n0.125,7,2\n");
    char gz[PATH_MAX];
    snprintf(gz, sizeof gz, "%s/g.csv.gz", tmp_dir);
    gzFile out = gzopen(gz, "wb");
    assert_non_null(out);
    const char *text = "a,b,y\n1,2.5,0\n-3,400,1\n0.125,7,2\n";
    assert_int_equal(gzwrite(out, text, (unsigned)strlen(text)),
                     (int)strlen(text));
    assert_int_equal(gzclose(out), Z_OK);
    fnn_dataset *ds = read_ok(gz, NULL);
    check_table(ds);
    fnn_dataset_free(ds);
}

static void csv_skip_rows_and_no_label(void **state) {
    (void)state;
    char path[PATH_MAX];
    // A count line as scikit-learn's bundled CSVs start with, then the table.
    write_text(path, "skip.csv", "3,2,x,y,z\na,b,y\n1,2.5,0\n-3,400,1\n"
                                 "0.125,7,2\n");
    fnn_csv_options o = fnn_csv_options_default();
    o.skip_rows = 1;
    fnn_dataset *ds = read_ok(path, &o);
    check_table(ds);
    fnn_dataset_free(ds);
    // Without a label column every column is a feature and labels is NULL.
    o.label_column = FNN_CSV_NO_LABEL;
    ds = read_ok(path, &o);
    assert_int_equal(ds->n_features, 3);
    assert_int_equal(ds->n_rows, 3);
    assert_null(ds->labels);
    assert_true(ds->f32[3 * 1 + 2] == 1.0f);
    assert_string_equal(ds->names[2], "y");
    fnn_dataset_free(ds);
    // A single-column file is valid without labels.
    o.skip_rows = 0;
    write_text(path, "one.csv", "4\n5\n");
    ds = read_ok(path, &o);
    assert_int_equal(ds->n_features, 1);
    assert_true(ds->f32[1] == 5.0f);
    fnn_dataset_free(ds);
    o.skip_rows = -1;
    fnn_error err;
    read_fails("neg.csv", "1,2\n", &o, FNN_ERR_INVALID, &err);
    expect_message(&err, "skip_rows");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_format_variants_agree),
        cmocka_unit_test(csv_header_detection),
        cmocka_unit_test(csv_header_forced_off),
        cmocka_unit_test(csv_label_column_by_index),
        cmocka_unit_test(csv_label_column_by_name),
        cmocka_unit_test(csv_label_kinds),
        cmocka_unit_test(csv_get_rows_copies),
        cmocka_unit_test(csv_many_rows),
        cmocka_unit_test(csv_invalid_number_rejected),
        cmocka_unit_test(csv_hex_float_rejected),
        cmocka_unit_test(csv_tiny_values_kept),
        cmocka_unit_test(csv_cr_only_rejected),
        cmocka_unit_test(csv_control_byte_escaped),
        cmocka_unit_test(csv_non_finite_rejected),
        cmocka_unit_test(csv_empty_field_rejected),
        cmocka_unit_test(csv_ragged_row_rejected),
        cmocka_unit_test(csv_line_numbers_physical),
        cmocka_unit_test(csv_no_rows_rejected),
        cmocka_unit_test(csv_unknown_label_name),
        cmocka_unit_test(csv_invalid_options),
        cmocka_unit_test(csv_malformed_text_rejected),
        cmocka_unit_test(csv_missing_file_io_error),
        cmocka_unit_test(csv_gzip_matches_plain),
        cmocka_unit_test(csv_skip_rows_and_no_label),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
