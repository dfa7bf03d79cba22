// Tests of the IDX reader and of the CLI's data path resolution. Synthetic
// files are built byte by byte from the IDX layout (big-endian header, then
// unsigned bytes) in a temporary directory.
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
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fastnn.h"

// The CLI helper is not part of the library, so its source is compiled here.
#include "../cli/cli_data.c"

#define IMAGES_MAGIC 0x00000803u
#define LABELS_MAGIC 0x00000801u

static char tmp_dir[] = "/tmp/fastnn_test_idx_XXXXXX";

static void remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        struct dirent *entry;
        while (dir && (entry = readdir(dir)) != NULL) {
            if (strcmp(entry->d_name, ".") == 0 ||
                strcmp(entry->d_name, "..") == 0) {
                continue;
            }
            char child[PATH_MAX];
            snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
            remove_tree(child);
        }
        if (dir) {
            closedir(dir);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int setup_dir(void **state) {
    (void)state;
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_dir(void **state) {
    (void)state;
    remove_tree(tmp_dir);
    return 0;
}

// Writes "<tmp_dir>/<name>" into out.
static void tmp_path(char *out, const char *name) {
    snprintf(out, PATH_MAX, "%s/%s", tmp_dir, name);
}

static void write_file(const char *path, const uint8_t *data, size_t n,
                       int gzip) {
    if (gzip) {
        gzFile gz = gzopen(path, "wb");
        assert_non_null(gz);
        assert_int_equal(gzwrite(gz, data, (unsigned)n), (int)n);
        assert_int_equal(gzclose(gz), Z_OK);
        return;
    }
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint8_t pixel_value(size_t i) {
    return (uint8_t)(i * 7 + 3);
}

// Writes an IDX file with the given magic and sizes. Element i is
// pixel_value(i), or i % 10 in a one-dimensional (labels) file. A negative
// `delta` cuts that many bytes from the end, a positive one appends them.
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims,
                      int n_dims, long delta, int gzip) {
    size_t n_elements = 1;
    for (int d = 0; d < n_dims; d++) {
        n_elements *= dims[d];
    }
    size_t n_header = 4 + 4 * (size_t)n_dims;
    size_t n = n_header + n_elements + (delta > 0 ? (size_t)delta : 0);
    n -= delta < 0 ? (size_t)-delta : 0;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    put_be32(data, magic);
    for (int d = 0; d < n_dims; d++) {
        put_be32(data + 4 + 4 * d, dims[d]);
    }
    for (size_t i = n_header; i < n; i++) {
        size_t k = i - n_header;
        data[i] = n_dims == 1 ? (uint8_t)(k % 10) : pixel_value(k);
    }
    write_file(path, data, n, gzip);
    free(data);
}

static void write_images(const char *path, uint32_t count, uint32_t rows,
                         uint32_t cols, long delta, int gzip) {
    uint32_t dims[3] = {count, rows, cols};
    write_idx(path, IMAGES_MAGIC, dims, 3, delta, gzip);
}

static void write_labels(const char *path, uint32_t count, long delta,
                         int gzip) {
    write_idx(path, LABELS_MAGIC, &count, 1, delta, gzip);
}

// Reads a pair that must fail and checks its status.
static void expect_failure(const char *images, const char *labels,
                           fnn_status expected, fnn_error *err) {
    fnn_status status = FNN_OK;
    strcpy(err->message, "(no message)");
    fnn_dataset *ds = fnn_idx_read(images, labels, err, &status);
    assert_null(ds);
    assert_int_equal(status, expected);
}

static void expect_message(const fnn_error *err, const char *part) {
    if (!strstr(err->message, part)) {
        fail_msg("message \"%s\" does not contain \"%s\"", err->message, part);
    }
}

static void idx_count_ea60_is_60000(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "count-images");
    tmp_path(labels, "count-labels");
    // 60000 images of 1x1 pixels: 0x0000EA60 = 14 * 4096 + 10 * 256 + 6 * 16.
    const uint8_t header[16] = {0, 0, 8, 3, 0, 0, 0xEA, 0x60,
                                0, 0, 0, 1, 0, 0, 0, 1};
    uint8_t *data = malloc(16 + 60000);
    assert_non_null(data);
    memcpy(data, header, 16);
    for (size_t i = 0; i < 60000; i++) {
        data[16 + i] = pixel_value(i);
    }
    write_file(images, data, 16 + 60000, 0);
    free(data);
    write_labels(labels, 60000, 0, 0);

    fnn_error err;
    fnn_status status = FNN_ERR_INVALID;
    fnn_dataset *ds = fnn_idx_read(images, labels, &err, &status);
    assert_non_null(ds);
    assert_int_equal(status, FNN_OK);
    assert_int_equal(ds->n_rows, 60000);
    assert_int_equal(ds->n_features, 1);
    assert_int_equal(ds->u8[12345], (uint8_t)(12345 * 7 + 3));
    assert_null(ds->f32);
    assert_true(ds->labels[59999] == 9.0f);
    assert_int_equal(ds->n_classes, 10);
    assert_int_equal(ds->labels_integer, 1);
    assert_null(ds->names);
    assert_string_equal(ds->source, images);
    fnn_dataset_free(ds);
}

static void idx_small_set_values(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "small-images");
    tmp_path(labels, "small-labels");
    write_images(images, 4, 2, 3, 0, 0);
    // Labels 3, 0, 7, 1: the largest is 7, so 8 classes.
    const uint8_t label_file[12] = {0, 0, 8, 1, 0, 0, 0, 4, 3, 0, 7, 1};
    write_file(labels, label_file, sizeof label_file, 0);

    fnn_dataset *ds = fnn_idx_read(images, labels, NULL, NULL);
    assert_non_null(ds);
    assert_int_equal(ds->n_rows, 4);
    assert_int_equal(ds->n_features, 6);
    for (size_t i = 0; i < 24; i++) {
        assert_int_equal(ds->u8[i], pixel_value(i));
    }
    assert_true(ds->labels[0] == 3.0f);
    assert_true(ds->labels[1] == 0.0f);
    assert_true(ds->labels[2] == 7.0f);
    assert_true(ds->labels[3] == 1.0f);
    assert_int_equal(ds->n_classes, 8);

    float rows[12];
    fnn_dataset_get_rows(ds, 1, 2, rows);
    for (size_t i = 0; i < 12; i++) {
        assert_true(rows[i] == (float)pixel_value(6 + i));
    }
    fnn_dataset_free(ds);
}

static void idx_get_rows_unscaled(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "raw-images");
    tmp_path(labels, "raw-labels");
    const uint8_t image_file[16 + 3] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1,
                                        0, 0, 0, 3, 0, 128, 255};
    write_file(images, image_file, sizeof image_file, 0);
    write_labels(labels, 1, 0, 0);

    fnn_dataset *ds = fnn_idx_read(images, labels, NULL, NULL);
    assert_non_null(ds);
    float row[3];
    fnn_dataset_get_rows(ds, 0, 1, row);
    assert_true(row[0] == 0.0f);
    assert_true(row[1] == 128.0f);
    assert_true(row[2] == 255.0f);
    fnn_dataset_free(ds);
}

static void idx_invalid_magic_rejected(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "magic-images");
    tmp_path(labels, "magic-labels");
    write_labels(labels, 2, 0, 0);
    uint32_t dims[3] = {2, 1, 1};
    fnn_error err;

    write_idx(images, 0x12345678u, dims, 3, 0, 0);
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, images);
    expect_message(&err, "invalid magic number 0x12345678 at byte 0");
    expect_message(&err, "expected 0x00000803");

    // Right element type, wrong dimension count.
    write_idx(images, 0x00000804u, dims, 3, 0, 0);
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, "invalid magic number 0x00000804 at byte 0");
}

static void idx_element_type_rejected(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "type-images");
    tmp_path(labels, "type-labels");
    write_labels(labels, 2, 0, 0);
    uint32_t dims[3] = {2, 1, 1};
    fnn_error err;

    // 0x0D is the IDX code of 32-bit floats: valid IDX, not read here.
    write_idx(images, 0x00000D03u, dims, 3, 0, 0);
    expect_failure(images, labels, FNN_ERR_UNSUPPORTED, &err);
    expect_message(&err, "0x00000D03");
    expect_message(&err, "0x0D (32-bit float)");

    // 0x07 is no IDX element type at all.
    write_idx(images, 0x00000703u, dims, 3, 0, 0);
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, "invalid magic number 0x00000703");
}

static void idx_truncated_images_rejected(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "short-images");
    tmp_path(labels, "short-labels");
    // 5 images of 2x2 pixels need 16 header bytes + 20 pixels = 36, minus 3.
    write_images(images, 5, 2, 2, -3, 0);
    write_labels(labels, 5, 0, 0);
    fnn_error err;
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, images);
    expect_message(&err, "truncated");
    expect_message(&err, "should have 36 bytes");
    expect_message(&err, "it has 33");
}

static void idx_truncated_header_rejected(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "header-images");
    tmp_path(labels, "header-labels");
    const uint8_t partial[10] = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0};
    write_file(images, partial, sizeof partial, 0);
    write_labels(labels, 5, 0, 0);
    fnn_error err;
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, "truncated");
    expect_message(&err, "it has 10 bytes");
    expect_message(&err, "is 16 bytes");
}

static void idx_trailing_bytes_rejected(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "long-images");
    tmp_path(labels, "long-labels");
    write_images(images, 5, 2, 2, 3, 0);
    write_labels(labels, 5, 0, 0);
    fnn_error err;
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, images);
    expect_message(&err, "3 unexpected bytes after byte 36");

    // Labels: 8 header bytes + 5 labels = 13.
    write_images(images, 5, 2, 2, 0, 0);
    write_labels(labels, 5, 1, 0);
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, labels);
    expect_message(&err, "1 unexpected bytes after byte 13");
}

static void idx_zero_size_rejected(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "zero-images");
    tmp_path(labels, "zero-labels");
    write_labels(labels, 5, 0, 0);
    uint32_t dims[3] = {5, 0, 2};
    write_idx(images, IMAGES_MAGIC, dims, 3, 0, 0);
    fnn_error err;
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, "invalid rows 0 at byte 8");
}

static void idx_huge_sizes_rejected(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "huge-images");
    tmp_path(labels, "huge-labels");
    write_labels(labels, 5, 0, 0);
    fnn_error err;

    // 0xFFFFFFFF^2 pixels per image overflow an int feature count.
    uint8_t header[16 + 4] = {0, 0, 8, 3};
    memset(header + 4, 0xFF, 12);
    write_file(images, header, sizeof header, 0);
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, "too large");

    // 4294967295 images of 1000x1000 pixels claim about 4.3e15 bytes but the
    // file has 20, so the reader must fail as truncated, not allocate.
    put_be32(header + 8, 1000);
    put_be32(header + 12, 1000);
    write_file(images, header, sizeof header, 0);
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, "truncated");
    expect_message(&err, "it has 20");
}

static void idx_count_mismatch_rejected(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "mismatch-images");
    tmp_path(labels, "mismatch-labels");
    write_images(images, 5, 2, 2, 0, 0);
    write_labels(labels, 4, 0, 0);
    fnn_error err;
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, labels);
    expect_message(&err, "label count 4");
    expect_message(&err, "5 images");
}

static void idx_swapped_paths_rejected(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "swap-images");
    tmp_path(labels, "swap-labels");
    write_images(images, 5, 2, 2, 0, 0);
    write_labels(labels, 5, 0, 0);
    fnn_error err;

    expect_failure(labels, images, FNN_ERR_FORMAT, &err);
    expect_message(&err, labels);
    expect_message(&err,
                   "is an IDX unsigned-byte labels file (magic 0x00000801)");
    expect_message(&err,
                   "expected an IDX unsigned-byte images file (0x00000803)");

    expect_failure(images, images, FNN_ERR_FORMAT, &err);
    expect_message(&err,
                   "is an IDX unsigned-byte images file (magic 0x00000803)");
    expect_message(&err,
                   "expected an IDX unsigned-byte labels file (0x00000801)");
}

static void idx_gzip_matches_plain(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    char images_gz[PATH_MAX], labels_gz[PATH_MAX];
    tmp_path(images, "plain-images");
    tmp_path(labels, "plain-labels");
    tmp_path(images_gz, "packed-images.gz");
    tmp_path(labels_gz, "packed-labels.gz");
    write_images(images, 30, 5, 7, 0, 0);
    write_labels(labels, 30, 0, 0);
    write_images(images_gz, 30, 5, 7, 0, 1);
    write_labels(labels_gz, 30, 0, 1);

    fnn_dataset *plain = fnn_idx_read(images, labels, NULL, NULL);
    fnn_dataset *packed = fnn_idx_read(images_gz, labels_gz, NULL, NULL);
    assert_non_null(plain);
    assert_non_null(packed);
    assert_int_equal(packed->n_rows, 30);
    assert_int_equal(packed->n_features, 35);
    assert_int_equal(packed->n_rows, plain->n_rows);
    assert_int_equal(packed->n_features, plain->n_features);
    assert_memory_equal(packed->u8, plain->u8, 30 * 35);
    assert_memory_equal(packed->labels, plain->labels, 30 * sizeof(float));
    assert_int_equal(packed->n_classes, plain->n_classes);
    fnn_dataset_free(plain);
    fnn_dataset_free(packed);
}

static void idx_truncated_gzip_rejected(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX], whole[PATH_MAX];
    tmp_path(whole, "whole-images.gz");
    tmp_path(images, "cut-images.gz");
    tmp_path(labels, "cut-labels");
    write_images(whole, 200, 10, 10, 0, 1);
    write_labels(labels, 200, 0, 0);

    FILE *fp = fopen(whole, "rb");
    assert_non_null(fp);
    uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, fp);
    assert_int_equal(fclose(fp), 0);
    assert_true(n > 40);
    write_file(images, buf, n / 2, 0);

    fnn_error err;
    expect_failure(images, labels, FNN_ERR_FORMAT, &err);
    expect_message(&err, images);
}

static void idx_missing_file_io_error(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "absent-images");
    tmp_path(labels, "absent-labels");
    fnn_error err;
    expect_failure(images, labels, FNN_ERR_IO, &err);
    expect_message(&err, images);
    expect_message(&err, strerror(ENOENT));
}

static void idx_null_path_invalid(void **state) {
    (void)state;
    fnn_error err;
    expect_failure(NULL, "labels", FNN_ERR_INVALID, &err);
    expect_failure("images", NULL, FNN_ERR_INVALID, &err);
}

// Reads `n` bytes at `offset` of a gzip file with zlib alone.
static void read_gz_bytes(const char *path, long offset, uint8_t *out,
                          unsigned n) {
    gzFile gz = gzopen(path, "rb");
    assert_non_null(gz);
    assert_int_equal(gzseek(gz, offset, SEEK_SET), offset);
    assert_int_equal(gzread(gz, out, n), (int)n);
    gzclose(gz);
}

static void check_fashion_t10k(const fnn_dataset *ds, const char *images,
                               const char *labels) {
    assert_int_equal(ds->n_rows, 10000);
    assert_int_equal(ds->n_features, 784);
    assert_int_equal(ds->n_classes, 10);

    uint8_t label_bytes[9];
    read_gz_bytes(labels, 0, label_bytes, 9);
    assert_int_equal(label_bytes[3], 0x01);
    assert_true(ds->labels[0] == (float)label_bytes[8]);
    read_gz_bytes(labels, 8 + 9999, label_bytes, 1);
    assert_true(ds->labels[9999] == (float)label_bytes[0]);

    uint8_t pixels[784];
    read_gz_bytes(images, 16, pixels, 784);
    assert_memory_equal(ds->u8, pixels, 784);
    read_gz_bytes(images, 16 + 9999L * 784, pixels, 784);
    assert_memory_equal(ds->u8 + 9999L * 784, pixels, 784);
}

static void idx_fashion_mnist_t10k(void **state) {
    (void)state;
    const char *images = CLI_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz";
    const char *labels = CLI_FASHION_MNIST_DIR "/t10k-labels-idx1-ubyte.gz";
    if (access(images, R_OK) != 0 || access(labels, R_OK) != 0) {
        skip();
    }
    fnn_error err;
    fnn_status status = FNN_ERR_INVALID;
    fnn_dataset *ds = fnn_idx_read(images, labels, &err, &status);
    if (!ds) {
        fail_msg("%s", err.message);
    }
    check_fashion_t10k(ds, images, labels);
    fnn_dataset_free(ds);

    // The CLI finds the same files from the directory.
    ds = cli_data_load(CLI_FASHION_MNIST_DIR, NULL, 0, NULL, &err, &status);
    if (!ds) {
        fail_msg("%s", err.message);
    }
    check_fashion_t10k(ds, images, labels);
    fnn_dataset_free(ds);
}

static void make_dir(char *out, const char *name) {
    tmp_path(out, name);
    assert_int_equal(mkdir(out, 0700), 0);
}

static void cli_dir_prefers_plain_file(void **state) {
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX];
    make_dir(dir, "mnist-dir");
    // The plain train images have 3 rows and the .gz ones 4, so the row count
    // shows which file was read. The t10k pair exists only compressed.
    tmp_path(path, "mnist-dir/train-images-idx3-ubyte");
    write_images(path, 3, 2, 2, 0, 0);
    tmp_path(path, "mnist-dir/train-images-idx3-ubyte.gz");
    write_images(path, 4, 2, 2, 0, 1);
    tmp_path(path, "mnist-dir/train-labels-idx1-ubyte.gz");
    write_labels(path, 3, 0, 1);
    tmp_path(path, "mnist-dir/t10k-images-idx3-ubyte.gz");
    write_images(path, 2, 2, 2, 0, 1);
    tmp_path(path, "mnist-dir/t10k-labels-idx1-ubyte.gz");
    write_labels(path, 2, 0, 1);

    fnn_error err;
    fnn_status status = FNN_ERR_INVALID;
    fnn_dataset *ds = cli_data_load(dir, NULL, 1, NULL, &err, &status);
    assert_non_null(ds);
    assert_int_equal(status, FNN_OK);
    assert_int_equal(ds->n_rows, 3);
    tmp_path(path, "mnist-dir/train-images-idx3-ubyte");
    assert_string_equal(ds->source, path);
    fnn_dataset_free(ds);

    ds = cli_data_load(dir, NULL, 0, NULL, &err, &status);
    assert_non_null(ds);
    assert_int_equal(ds->n_rows, 2);
    fnn_dataset_free(ds);
}

static void cli_dir_missing_file_named(void **state) {
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX];
    make_dir(dir, "half-dir");
    tmp_path(path, "half-dir/t10k-images-idx3-ubyte");
    write_images(path, 2, 2, 2, 0, 0);

    fnn_error err;
    fnn_status status = FNN_OK;
    assert_null(cli_data_load(dir, NULL, 0, NULL, &err, &status));
    assert_int_equal(status, FNN_ERR_IO);
    expect_message(&err, dir);
    expect_message(&err, "t10k-labels-idx1-ubyte");

    assert_null(cli_data_load(dir, NULL, 1, NULL, &err, &status));
    assert_int_equal(status, FNN_ERR_IO);
    expect_message(&err, "train-images-idx3-ubyte");
}

static void cli_images_file_finds_labels(void **state) {
    (void)state;
    char images[PATH_MAX], labels[PATH_MAX];
    tmp_path(images, "set-images-idx3-ubyte.gz");
    tmp_path(labels, "set-labels-idx1-ubyte.gz");
    write_images(images, 6, 1, 2, 0, 1);
    write_labels(labels, 6, 0, 1);
    fnn_error err;
    fnn_status status = FNN_ERR_INVALID;
    fnn_dataset *ds = cli_data_load(images, NULL, 1, NULL, &err, &status);
    assert_non_null(ds);
    assert_int_equal(ds->n_rows, 6);
    fnn_dataset_free(ds);

    // Uncompressed images with compressed labels.
    tmp_path(images, "set-images-idx3-ubyte");
    write_images(images, 6, 1, 2, 0, 0);
    ds = cli_data_load(images, NULL, 1, NULL, &err, &status);
    assert_non_null(ds);
    assert_int_equal(ds->n_rows, 6);
    fnn_dataset_free(ds);

    // An explicit labels path wins over the derived name.
    tmp_path(labels, "other-labels");
    write_labels(labels, 6, 0, 0);
    ds = cli_data_load(images, labels, 1, NULL, &err, &status);
    assert_non_null(ds);
    fnn_dataset_free(ds);
}

static void cli_images_missing_labels(void **state) {
    (void)state;
    char images[PATH_MAX], expected[PATH_MAX];
    tmp_path(images, "lone-images-idx3-ubyte");
    tmp_path(expected, "lone-labels-idx1-ubyte");
    write_images(images, 2, 1, 1, 0, 0);
    fnn_error err;
    fnn_status status = FNN_OK;
    assert_null(cli_data_load(images, NULL, 1, NULL, &err, &status));
    assert_int_equal(status, FNN_ERR_IO);
    expect_message(&err, expected);
}

static void cli_rejects_misplaced_labels(void **state) {
    (void)state;
    char csv[PATH_MAX], labels[PATH_MAX], dir[PATH_MAX];
    tmp_path(csv, "table.CSV");
    const char *text = "1,2,0\n3,4,1\n";
    write_file(csv, (const uint8_t *)text, strlen(text), 0);
    tmp_path(labels, "x-labels-idx1-ubyte");
    write_labels(labels, 2, 0, 0);
    make_dir(dir, "plain-dir");
    fnn_error err;
    fnn_status status = FNN_OK;

    assert_null(cli_data_load(csv, labels, 1, NULL, &err, &status));
    assert_int_equal(status, FNN_ERR_INVALID);
    expect_message(&err, "CSV");
    assert_null(cli_data_load(labels, NULL, 1, NULL, &err, &status));
    assert_int_equal(status, FNN_ERR_INVALID);
    expect_message(&err, "labels file");
    assert_null(cli_data_load(dir, labels, 1, NULL, &err, &status));
    assert_int_equal(status, FNN_ERR_INVALID);
    assert_null(cli_data_load(NULL, NULL, 1, NULL, &err, &status));
    assert_int_equal(status, FNN_ERR_INVALID);
}

static void cli_other_files_read_as_csv(void **state) {
    (void)state;
    char csv[PATH_MAX];
    tmp_path(csv, "table.CSV");
    const char *text = "1,2,0\n3,4,1\n";
    write_file(csv, (const uint8_t *)text, strlen(text), 0);
    fnn_error err;
    fnn_status status = FNN_ERR_INVALID;
    fnn_dataset *ds = cli_data_load(csv, NULL, 1, NULL, &err, &status);
    assert_non_null(ds);
    assert_int_equal(status, FNN_OK);
    assert_int_equal(ds->n_rows, 2);
    assert_int_equal(ds->n_features, 2);
    assert_non_null(ds->f32);
    fnn_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idx_count_ea60_is_60000),
        cmocka_unit_test(idx_small_set_values),
        cmocka_unit_test(idx_get_rows_unscaled),
        cmocka_unit_test(idx_invalid_magic_rejected),
        cmocka_unit_test(idx_element_type_rejected),
        cmocka_unit_test(idx_truncated_images_rejected),
        cmocka_unit_test(idx_truncated_header_rejected),
        cmocka_unit_test(idx_trailing_bytes_rejected),
        cmocka_unit_test(idx_zero_size_rejected),
        cmocka_unit_test(idx_huge_sizes_rejected),
        cmocka_unit_test(idx_count_mismatch_rejected),
        cmocka_unit_test(idx_swapped_paths_rejected),
        cmocka_unit_test(idx_gzip_matches_plain),
        cmocka_unit_test(idx_truncated_gzip_rejected),
        cmocka_unit_test(idx_missing_file_io_error),
        cmocka_unit_test(idx_null_path_invalid),
        cmocka_unit_test(idx_fashion_mnist_t10k),
        cmocka_unit_test(cli_dir_prefers_plain_file),
        cmocka_unit_test(cli_dir_missing_file_named),
        cmocka_unit_test(cli_images_file_finds_labels),
        cmocka_unit_test(cli_images_missing_labels),
        cmocka_unit_test(cli_rejects_misplaced_labels),
        cmocka_unit_test(cli_other_files_read_as_csv),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
