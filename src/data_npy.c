// Reader for NumPy .npy files: a features array [n_rows, n_features] (more
// dimensions are flattened in C order, so images [n, 28, 28] give 784
// features) and a labels array [n_rows] or [n_rows, 1]. Elements are
// decoded byte by byte in the file's byte order and placed in C order, so
// little- and big-endian files, C and Fortran order all give the same data
// set on any host. uint8 and bool features stay one byte each, like IDX
// pixels; every other dtype becomes float32.
#include "npy.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

// Bytes requested per fread.
#define NPY_CHUNK (1 << 20)
// Labels are class indices only below 2^24, because from there on float32
// cannot hold every integer, so an integral value does not mark a class.
#define NPY_MAX_CLASS_LABEL 16777215.0f

typedef struct npy_file {
    const char *path;
    const char *role; // "features" or "labels", for messages
    FILE *f;
    fnn_npy_header h;
    int64_t file_size; // -1 when the file is not a regular file
} npy_file;

// Walks the elements in file order and tracks the C-order offset of each.
typedef struct npy_cursor {
    const fnn_npy_header *h;
    int64_t index[FNN_NPY_MAX_DIMS];  // multi-index, first axis fastest
    int64_t stride[FNN_NPY_MAX_DIMS]; // C-order strides, in elements
    int64_t offset;                   // C-order offset of the current one
} npy_cursor;

static void npy_cursor_init(npy_cursor *c, const fnn_npy_header *h) {
    memset(c, 0, sizeof *c);
    c->h = h;
    int64_t stride = 1;
    for (int d = h->ndim - 1; d >= 0; d--) {
        c->stride[d] = stride;
        stride *= h->shape[d];
    }
}

static void npy_cursor_next(npy_cursor *c) {
    if (!c->h->fortran_order) {
        c->offset++;
        return;
    }
    // Column-major: the first axis varies fastest, like an odometer read
    // from the left.
    for (int d = 0; d < c->h->ndim; d++) {
        c->offset += c->stride[d];
        if (++c->index[d] < c->h->shape[d]) {
            return;
        }
        c->offset -= c->h->shape[d] * c->stride[d];
        c->index[d] = 0;
    }
}

// Formats the NumPy index "[3, 7]" of the element at C-order offset.
static void npy_format_index(const fnn_npy_header *h, int64_t offset,
                             char *buf, size_t size) {
    int64_t index[FNN_NPY_MAX_DIMS];
    for (int d = h->ndim - 1; d >= 0; d--) {
        index[d] = offset % h->shape[d];
        offset /= h->shape[d];
    }
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < h->ndim && n < size; d++) {
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? ", " : "",
                              (long long)index[d]);
    }
    if (n < size) {
        snprintf(buf + n, size - n, "]");
    }
}

// Outcome of decoding one element to float32.
typedef enum npy_value {
    NPY_VALUE_OK,
    NPY_VALUE_NONFINITE, // NaN or infinity in the file
    NPY_VALUE_RANGE,     // a finite float64 beyond the float32 range
} npy_value;

// Decodes one element of h's dtype at b into *out; *shown receives the
// value in double for messages.
static npy_value npy_decode(const unsigned char *b, const fnn_npy_header *h,
                            float *out, double *shown) {
    int size = h->itemsize;
    uint64_t bits = 0;
    for (int i = 0; i < size; i++) {
        bits = bits << 8 | b[h->big_endian ? i : size - 1 - i];
    }
    if (h->kind == 'f' && size == 4) {
        uint32_t bits32 = (uint32_t)bits;
        memcpy(out, &bits32, sizeof *out);
        *shown = *out;
        return isfinite(*out) ? NPY_VALUE_OK : NPY_VALUE_NONFINITE;
    }
    if (h->kind == 'f') {
        memcpy(shown, &bits, sizeof *shown);
        *out = (float)*shown;
        if (!isfinite(*shown)) {
            return NPY_VALUE_NONFINITE;
        }
        return isfinite(*out) ? NPY_VALUE_OK : NPY_VALUE_RANGE;
    }
    if (h->kind == 'i') {
        // Sign-extend from the element's width.
        if (size < 8 && (bits >> (8 * size - 1) & 1)) {
            bits |= ~UINT64_C(0) << (8 * size);
        }
        *out = (float)(int64_t)bits;
        *shown = (double)(int64_t)bits;
    } else if (h->kind == 'u') {
        *out = (float)bits;
        *shown = (double)bits;
    } else {
        *out = bits != 0;
        *shown = *out;
    }
    return NPY_VALUE_OK;
}

static fnn_status npy_bad_value(const npy_file *nf, npy_value v,
                                int64_t offset, double shown,
                                fnn_error *err) {
    char index[FNN_NPY_MAX_DIMS * 22 + 4];
    npy_format_index(&nf->h, offset, index, sizeof index);
    if (v == NPY_VALUE_NONFINITE) {
        return fnn_fail(err, FNN_ERR_NONFINITE,
                        "%s: %s element %s is %g: every value must be "
                        "finite: drop or impute that row before np.save",
                        nf->path, nf->role, index, shown);
    }
    return fnn_fail(err, FNN_ERR_FORMAT,
                    "%s: %s element %s is %g, outside the float32 range "
                    "(magnitude at most %g): rescale the data",
                    nf->path, nf->role, index, shown, (double)FLT_MAX);
}

// Decodes n_items elements from raw into dest (float32, or bytes when
// to_u8), advancing the cursor.
static fnn_status npy_convert(const npy_file *nf, const unsigned char *raw,
                              int64_t n_items, npy_cursor *c, void *dest,
                              int to_u8, fnn_error *err) {
    const fnn_npy_header *h = &nf->h;
    for (int64_t i = 0; i < n_items; i++, npy_cursor_next(c)) {
        const unsigned char *b = raw + i * h->itemsize;
        if (to_u8) {
            ((uint8_t *)dest)[c->offset] = h->kind == 'b' ? *b != 0 : *b;
            continue;
        }
        double shown = 0;
        float *out = (float *)dest + c->offset;
        npy_value v = npy_decode(b, h, out, &shown);
        if (v != NPY_VALUE_OK) {
            return npy_bad_value(nf, v, c->offset, shown, err);
        }
    }
    return FNN_OK;
}

static fnn_status npy_truncated(const npy_file *nf, int64_t size,
                                fnn_error *err) {
    char shape[FNN_NPY_MAX_DIMS * 22 + 4];
    fnn_npy_format_shape(nf->h.shape, nf->h.ndim, shape, sizeof shape);
    int64_t expected = nf->h.data_offset + nf->h.count * nf->h.itemsize;
    return fnn_fail(err, FNN_ERR_FORMAT,
                    "%s: file is truncated: the header claims shape %s of "
                    "'%s', so the file should have %lld bytes, but it has "
                    "%lld: the file is incomplete",
                    nf->path, shape, nf->h.descr, (long long)expected,
                    (long long)size);
}

static fnn_status npy_trailing(const npy_file *nf, int64_t extra,
                               fnn_error *err) {
    char shape[FNN_NPY_MAX_DIMS * 22 + 4];
    fnn_npy_format_shape(nf->h.shape, nf->h.ndim, shape, sizeof shape);
    int64_t end = nf->h.data_offset + nf->h.count * nf->h.itemsize;
    return fnn_fail(err, FNN_ERR_FORMAT,
                    "%s: %lld unexpected bytes after byte %lld: the header "
                    "claims shape %s of '%s', whose data ends there",
                    nf->path, (long long)extra, (long long)end, shape,
                    nf->h.descr);
}

// Compares a regular file's size with the size the header claims, before
// anything is allocated for the elements.
static fnn_status npy_check_length(const npy_file *nf, fnn_error *err) {
    if (nf->file_size < 0) {
        return FNN_OK;
    }
    int64_t expected = nf->h.data_offset + nf->h.count * nf->h.itemsize;
    if (nf->file_size < expected) {
        return npy_truncated(nf, nf->file_size, err);
    }
    if (nf->file_size > expected) {
        return npy_trailing(nf, nf->file_size - expected, err);
    }
    return FNN_OK;
}

// Rejects bytes after the elements of a file whose size was not known.
static fnn_status npy_check_end(const npy_file *nf, fnn_error *err) {
    unsigned char scratch[4096];
    int64_t extra = 0;
    size_t got = 0;
    while ((got = fread(scratch, 1, sizeof scratch, nf->f)) > 0) {
        extra += (int64_t)got;
    }
    if (ferror(nf->f)) {
        return fnn_fail(err, FNN_ERR_IO, "%s: read failed: %s", nf->path,
                        strerror(errno));
    }
    return extra ? npy_trailing(nf, extra, err) : FNN_OK;
}

// Reads every element into dest [count] in C order.
static fnn_status npy_read_elements(const npy_file *nf, void *dest, int to_u8,
                                    fnn_error *err) {
    const fnn_npy_header *h = &nf->h;
    int64_t chunk_items = NPY_CHUNK / h->itemsize;
    unsigned char *raw = malloc((size_t)NPY_CHUNK);
    if (!raw) {
        return fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", nf->path);
    }
    npy_cursor c;
    npy_cursor_init(&c, h);
    fnn_status s = FNN_OK;
    for (int64_t done = 0; s == FNN_OK && done < h->count;) {
        int64_t want = h->count - done < chunk_items ? h->count - done
                                                     : chunk_items;
        size_t n_bytes = (size_t)(want * h->itemsize);
        size_t got = fread(raw, 1, n_bytes, nf->f);
        if (got < n_bytes && ferror(nf->f)) {
            s = fnn_fail(err, FNN_ERR_IO, "%s: read failed: %s", nf->path,
                         strerror(errno));
        } else if (got < n_bytes) {
            int64_t at = h->data_offset + done * h->itemsize + (int64_t)got;
            s = npy_truncated(nf, at, err);
        } else {
            s = npy_convert(nf, raw, want, &c, dest, to_u8, err);
            done += want;
        }
    }
    free(raw);
    if (s == FNN_OK && nf->file_size < 0) {
        s = npy_check_end(nf, err);
    }
    return s;
}

static fnn_status npy_open(npy_file *nf, const char *path, const char *role,
                           fnn_error *err) {
    memset(nf, 0, sizeof *nf);
    nf->path = path;
    nf->role = role;
    nf->file_size = -1;
    nf->f = fopen(path, "rb");
    if (!nf->f) {
        return fnn_fail(err, FNN_ERR_IO, "%s: failed to open: %s", path,
                        strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(nf->f), &st) == 0 && S_ISREG(st.st_mode)) {
        nf->file_size = (int64_t)st.st_size;
    }
    fnn_status s = fnn_npy_read_header(nf->f, path, &nf->h, err);
    return s == FNN_OK ? npy_check_length(nf, err) : s;
}

static void npy_close(npy_file *nf) {
    if (nf->f) {
        // Everything was read and checked, so a close failure loses nothing.
        (void)fclose(nf->f);
        nf->f = NULL;
    }
}

static fnn_status npy_check_features_shape(const npy_file *nf,
                                           int64_t *n_features,
                                           fnn_error *err) {
    const fnn_npy_header *h = &nf->h;
    char shape[FNN_NPY_MAX_DIMS * 22 + 4];
    fnn_npy_format_shape(h->shape, h->ndim, shape, sizeof shape);
    if (h->ndim < 2) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: features array has shape %s: expected 2 "
                        "dimensions [n_rows, n_features]: save a single "
                        "feature as X.reshape(-1, 1)",
                        nf->path, shape);
    }
    *n_features = h->count / (h->shape[0] ? h->shape[0] : 1);
    if (h->count == 0) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: features array has shape %s, which holds no "
                        "values: expected at least one row and one feature",
                        nf->path, shape);
    }
    if (*n_features > INT_MAX) {
        return fnn_fail(err, FNN_ERR_UNSUPPORTED,
                        "%s: features array has shape %s: %lld features per "
                        "row, but at most %d are supported",
                        nf->path, shape, (long long)*n_features, INT_MAX);
    }
    return FNN_OK;
}

static fnn_status npy_read_features(const char *path, fnn_dataset *ds,
                                    fnn_error *err) {
    npy_file nf;
    int64_t n_features = 0;
    fnn_status s = npy_open(&nf, path, "features", err);
    if (s == FNN_OK) {
        s = npy_check_features_shape(&nf, &n_features, err);
    }
    int to_u8 = nf.h.itemsize == 1 && (nf.h.kind == 'u' || nf.h.kind == 'b');
    void *data = NULL;
    if (s == FNN_OK) {
        size_t bytes = (size_t)nf.h.count * (to_u8 ? 1 : sizeof(float));
        data = malloc(bytes);
        s = data ? FNN_OK
                 : fnn_fail(err, FNN_ERR_NOMEM,
                            "%s: out of memory allocating %zu bytes", path,
                            bytes);
    }
    if (s == FNN_OK) {
        s = npy_read_elements(&nf, data, to_u8, err);
    }
    npy_close(&nf);
    if (s != FNN_OK) {
        free(data);
        return s;
    }
    ds->n_rows = nf.h.shape[0];
    ds->n_features = (int)n_features;
    ds->u8 = to_u8 ? data : NULL;
    ds->f32 = to_u8 ? NULL : data;
    ds->storage_ = data;
    return FNN_OK;
}

static fnn_status npy_check_labels_shape(const npy_file *nf,
                                         const fnn_dataset *ds,
                                         const char *features_path,
                                         fnn_error *err) {
    const fnn_npy_header *h = &nf->h;
    char shape[FNN_NPY_MAX_DIMS * 22 + 4];
    fnn_npy_format_shape(h->shape, h->ndim, shape, sizeof shape);
    if (h->ndim != 1 && !(h->ndim == 2 && h->shape[1] == 1)) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: labels array has shape %s: expected [n_rows] "
                        "or [n_rows, 1], one label per row",
                        nf->path, shape);
    }
    if (h->shape[0] != ds->n_rows) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: %lld labels, but the features file %s has %lld "
                        "rows: pass the labels saved with those features",
                        nf->path, (long long)h->shape[0], features_path,
                        (long long)ds->n_rows);
    }
    return FNN_OK;
}

// Sets labels_integer and n_classes from the labels.
static void npy_classify_labels(fnn_dataset *ds) {
    float max_label = 0.0f;
    ds->labels_integer = 1;
    for (int64_t i = 0; i < ds->n_rows && ds->labels_integer; i++) {
        float y = ds->labels[i];
        ds->labels_integer =
            y >= 0.0f && y <= NPY_MAX_CLASS_LABEL && floorf(y) == y;
        max_label = y > max_label ? y : max_label;
    }
    ds->n_classes = ds->labels_integer ? (int)max_label + 1 : 0;
}

static fnn_status npy_read_labels(const char *path, const char *features_path,
                                  fnn_dataset *ds, fnn_error *err) {
    npy_file nf;
    fnn_status s = npy_open(&nf, path, "labels", err);
    if (s == FNN_OK) {
        s = npy_check_labels_shape(&nf, ds, features_path, err);
    }
    if (s == FNN_OK) {
        ds->labels = malloc((size_t)ds->n_rows * sizeof *ds->labels);
        s = ds->labels ? FNN_OK
                       : fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory",
                                  path);
    }
    if (s == FNN_OK) {
        s = npy_read_elements(&nf, ds->labels, 0, err);
    }
    npy_close(&nf);
    if (s == FNN_OK) {
        npy_classify_labels(ds);
    }
    return s;
}

fnn_dataset *fnn_npy_read(const char *features_path, const char *labels_path,
                          fnn_error *err, fnn_status *status) {
    if (!features_path) {
        fnn_set_status(status, fnn_fail(err, FNN_ERR_INVALID,
                                        "fnn_npy_read: features_path must "
                                        "not be NULL"));
        return NULL;
    }
    fnn_dataset *ds = calloc(1, sizeof *ds);
    fnn_status s = FNN_OK;
    if (!ds) {
        s = fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", features_path);
    }
    if (s == FNN_OK) {
        s = npy_read_features(features_path, ds, err);
    }
    if (s == FNN_OK && labels_path) {
        s = npy_read_labels(labels_path, features_path, ds, err);
    }
    if (s == FNN_OK) {
        ds->source = fnn_strdup(features_path);
        if (!ds->source) {
            s = fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory",
                         features_path);
        }
    }
    fnn_set_status(status, s);
    if (s != FNN_OK) {
        fnn_dataset_free(ds);
        return NULL;
    }
    return ds;
}
