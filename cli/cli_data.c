#include "cli_data.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

// The two name parts have the same length, so a labels path is the images
// path with one part overwritten.
#define CLI_IMAGES_PART "-images-idx3-ubyte"
#define CLI_LABELS_PART "-labels-idx1-ubyte"
_Static_assert(sizeof CLI_IMAGES_PART == sizeof CLI_LABELS_PART,
               "IDX name parts must have the same length");

static fnn_status cli_fail(fnn_error *err, fnn_status status, const char *fmt,
                           ...) __attribute__((format(printf, 3, 4)));

static fnn_status cli_fail(fnn_error *err, fnn_status status, const char *fmt,
                           ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

static fnn_status cli_nomem(fnn_error *err) {
    return cli_fail(err, FNN_ERR_NOMEM, "out of memory while resolving paths");
}

static int cli_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cli_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cli_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s);
    size_t k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static const char *cli_basename(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

// Returns the last occurrence of `part` in the file name of `path`, or NULL.
static char *cli_find_part(char *path, const char *part) {
    char *found = NULL;
    char *p = (char *)cli_basename(path);
    while ((p = strstr(p, part)) != NULL) {
        found = p++;
    }
    return found;
}

// Sets *out to a new string "<dir>/<name>" or "<dir>/<name>.gz", whichever
// is a regular file, the uncompressed one first.
static fnn_status cli_find_in_dir(const char *dir, const char *name, char **out,
                                  fnn_error *err) {
    size_t size = strlen(dir) + 1 + strlen(name) + sizeof ".gz";
    const char *slash = cli_ends_with(dir, "/") ? "" : "/";
    char *path = malloc(size);
    if (!path) {
        return cli_nomem(err);
    }
    snprintf(path, size, "%s%s%s", dir, slash, name);
    if (cli_is_file(path)) {
        *out = path;
        return FNN_OK;
    }
    strcat(path, ".gz");
    if (cli_is_file(path)) {
        *out = path;
        return FNN_OK;
    }
    free(path);
    return cli_fail(err, FNN_ERR_IO,
                    "%s: data directory has neither %s nor %s.gz: expected "
                    "the IDX files of an MNIST-format data set",
                    dir, name, name);
}

static fnn_dataset *cli_load_dir(const char *dir, int want_train,
                                 fnn_error *err, fnn_status *status) {
    const char *set = want_train ? "train" : "t10k";
    char images_name[32];
    char labels_name[32];
    snprintf(images_name, sizeof images_name, "%s%s", set, CLI_IMAGES_PART);
    snprintf(labels_name, sizeof labels_name, "%s%s", set, CLI_LABELS_PART);

    char *images = NULL;
    char *labels = NULL;
    fnn_dataset *ds = NULL;
    fnn_status s = cli_find_in_dir(dir, images_name, &images, err);
    if (s == FNN_OK) {
        s = cli_find_in_dir(dir, labels_name, &labels, err);
    }
    if (s == FNN_OK) {
        ds = fnn_idx_read(images, labels, err, &s);
    }
    free(images);
    free(labels);
    if (status) {
        *status = s;
    }
    return ds;
}

// Sets *out to the labels file that belongs to an images file: the name with
// CLI_LABELS_PART in place of CLI_IMAGES_PART, with the same compression
// suffix if that exists, else with ".gz" added or removed.
static fnn_status cli_find_labels(const char *images, char **out,
                                  fnn_error *err) {
    size_t size = strlen(images) + sizeof ".gz";
    char *labels = malloc(size);
    char *other = malloc(size);
    if (!labels || !other) {
        free(labels);
        free(other);
        return cli_nomem(err);
    }
    strcpy(labels, images);
    char *part = cli_find_part(labels, CLI_IMAGES_PART);
    if (!part) {
        // Recognized by its contents, so no labels name follows from it.
        free(labels);
        free(other);
        return cli_fail(err, FNN_ERR_INVALID,
                        "%s: IDX images file without \"%s\" in its name: "
                        "pass its labels file (--labels, --train-labels or "
                        "--test-labels)",
                        images, CLI_IMAGES_PART);
    }
    memcpy(part, CLI_LABELS_PART, strlen(CLI_LABELS_PART));
    strcpy(other, labels);
    if (cli_ends_with(other, ".gz")) {
        other[strlen(other) - 3] = '\0';
    } else {
        strcat(other, ".gz");
    }

    fnn_status s = FNN_OK;
    if (cli_is_file(labels)) {
        *out = labels;
        labels = NULL;
    } else if (cli_is_file(other)) {
        *out = other;
        other = NULL;
    } else {
        s = cli_fail(err, FNN_ERR_IO,
                     "%s: labels file %s not found (nor %s): pass the labels "
                     "file explicitly",
                     images, labels, other);
    }
    free(labels);
    free(other);
    return s;
}

static fnn_dataset *cli_load_images(const char *images, const char *labels,
                                    fnn_error *err, fnn_status *status) {
    if (labels) {
        return fnn_idx_read(images, labels, err, status);
    }
    char *found = NULL;
    fnn_dataset *ds = NULL;
    fnn_status s = cli_find_labels(images, &found, err);
    if (s == FNN_OK) {
        ds = fnn_idx_read(images, found, err, &s);
    }
    free(found);
    if (status) {
        *status = s;
    }
    return ds;
}

// The format that a file's first bytes (decompressed when it is gzip)
// identify, for files whose names do not give it.
typedef enum file_kind {
    KIND_OTHER,
    KIND_IDX_IMAGES, // IDX magic 00 00 08 03: unsigned bytes, 3 dimensions
    KIND_IDX_LABELS, // 00 00 08 01: unsigned bytes, 1 dimension
    KIND_NPY,        // "\x93NUMPY"
} file_kind;

static file_kind sniff_kind(const char *path) {
    unsigned char b[6] = {0};
    gzFile f = gzopen(path, "rb");
    if (!f) {
        return KIND_OTHER;
    }
    int n = gzread(f, b, sizeof b);
    gzclose(f);
    if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 8 && b[3] == 3) {
        return KIND_IDX_IMAGES;
    }
    if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 8 && b[3] == 1) {
        return KIND_IDX_LABELS;
    }
    if (n == 6 && memcmp(b, "\x93NUMPY", 6) == 0) {
        return KIND_NPY;
    }
    return KIND_OTHER;
}

fnn_dataset *cli_data_load(const char *path, const char *labels_path,
                           int want_train, const fnn_csv_options *csv,
                           fnn_error *err, fnn_status *status) {
    fnn_status s = FNN_OK;
    file_kind kind = path && !cli_is_dir(path) ? sniff_kind(path) : KIND_OTHER;
    if (!path) {
        s = cli_fail(err, FNN_ERR_INVALID, "no data path given");
    } else if (cli_is_dir(path)) {
        if (!labels_path) {
            return cli_load_dir(path, want_train, err, status);
        }
        s = cli_fail(err, FNN_ERR_INVALID,
                     "%s: a labels file (%s) was given for a data directory: "
                     "pass the images file instead of the directory",
                     path, labels_path);
    } else if (strstr(cli_basename(path), CLI_IMAGES_PART) ||
               kind == KIND_IDX_IMAGES) {
        return cli_load_images(path, labels_path, err, status);
    } else if (strstr(cli_basename(path), CLI_LABELS_PART) ||
               kind == KIND_IDX_LABELS) {
        s = cli_fail(err, FNN_ERR_INVALID,
                     "%s: file is an IDX labels file: pass the images file "
                     "(named with \"%s\") instead",
                     path, CLI_IMAGES_PART);
    } else if (cli_ends_with(path, ".npy") || kind == KIND_NPY) {
        // Without a labels file the data set has no labels, which predict
        // and stats accept and every other command rejects.
        return fnn_npy_read(path, labels_path, err, status);
    } else if (labels_path) {
        s = cli_fail(err, FNN_ERR_INVALID,
                     "%s: a labels file (%s) was given for a CSV file: the "
                     "labels of a CSV file are one of its columns",
                     path, labels_path);
    } else {
        return fnn_csv_read(path, csv, err, status);
    }
    if (status) {
        *status = s;
    }
    return NULL;
}
