// Reader for the IDX files of MNIST and Fashion-MNIST. An IDX file starts
// with the magic number 00 00 TT NN, where TT is the element type and NN the
// number of dimensions, then NN big-endian 32-bit sizes, then the elements in
// row-major order. Only unsigned bytes (TT = 0x08) are read: images are
// [count, rows, columns] and labels are [count]. Files may be gzip-compressed
// because zlib's gzread passes plain files through unchanged.
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#define IDX_TYPE_UBYTE 0x08
// Size of the first element buffer. It doubles up to the size the header
// claims, so a corrupt header costs at most twice the bytes actually present
// instead of an allocation of the claimed size.
#define IDX_FIRST_CHUNK ((int64_t)1 << 24)
// Largest request passed to one gzread call, whose length is an unsigned int
// and whose result is an int.
#define IDX_MAX_READ ((int64_t)1 << 30)

typedef struct idx_kind {
    uint32_t magic;
    int n_dims;
    const char *description; // for messages: "IDX unsigned-byte images"
    const char *dim_names[3];
} idx_kind;

static const idx_kind IDX_IMAGES = {
    0x00000803u,
    3,
    "IDX unsigned-byte images",
    {"image count", "rows", "columns"},
};
static const idx_kind IDX_LABELS = {
    0x00000801u,
    1,
    "IDX unsigned-byte labels",
    {"label count", NULL, NULL},
};

typedef struct idx_file {
    const char *path;
    gzFile gz;
    int64_t offset; // uncompressed bytes consumed so far
} idx_file;

static uint32_t idx_decode_be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
           (uint32_t)b[3];
}

// Returns the name of an IDX element type code, or NULL for a code that the
// format does not define.
static const char *idx_type_name(uint8_t type) {
    switch (type) {
    case 0x08:
        return "unsigned byte";
    case 0x09:
        return "signed byte";
    case 0x0B:
        return "16-bit integer";
    case 0x0C:
        return "32-bit integer";
    case 0x0D:
        return "32-bit float";
    case 0x0E:
        return "64-bit float";
    }
    return NULL;
}

// Returns the suffix that marks the byte counts in a message as counts after
// decompression when the file is gzip-compressed.
static const char *idx_units(const idx_file *f) {
    return gzdirect(f->gz) ? "" : " after decompression";
}

static fnn_status idx_nomem(const idx_file *f, int64_t n_bytes,
                            fnn_error *err) {
    return fnn_fail(err, FNN_ERR_NOMEM,
                    "%s: out of memory allocating %lld bytes", f->path,
                    (long long)n_bytes);
}

static fnn_status idx_open(idx_file *f, const char *path, fnn_error *err) {
    f->path = path;
    f->offset = 0;
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz && errno == 0) {
        return fnn_fail(err, FNN_ERR_NOMEM, "%s: failed to open: out of memory",
                        path);
    }
    if (!f->gz) {
        return fnn_fail(err, FNN_ERR_IO, "%s: failed to open: %s", path,
                        strerror(errno));
    }
    // A larger buffer than zlib's 8 KiB default cuts the number of read
    // calls. Failure only means the default stays, so the result is ignored.
    (void)gzbuffer(f->gz, 1 << 17);
    return FNN_OK;
}

// Returns FNN_OK when a short read was the end of the data, else the zlib or
// system error as a status.
static fnn_status idx_stream_status(const idx_file *f, int saved_errno,
                                    fnn_error *err) {
    int code = Z_OK;
    const char *message = gzerror(f->gz, &code);
    long long at = (long long)f->offset;
    switch (code) {
    case Z_OK:
        return FNN_OK;
    case Z_ERRNO:
        return fnn_fail(err, FNN_ERR_IO, "%s: read failed after byte %lld: %s",
                        f->path, at, strerror(saved_errno));
    case Z_MEM_ERROR:
        return fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory in zlib",
                        f->path);
    case Z_BUF_ERROR:
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: gzip stream is truncated after byte %lld (after "
                        "decompression): the file is incomplete",
                        f->path, at);
    }
    return fnn_fail(err, FNN_ERR_FORMAT,
                    "%s: invalid gzip data after byte %lld (after "
                    "decompression): %s",
                    f->path, at, message);
}

// Reads up to n bytes into buf. *got is less than n only at the end of the
// data, or on failure.
static fnn_status idx_read(idx_file *f, uint8_t *buf, int64_t n, int64_t *got,
                           fnn_error *err) {
    *got = 0;
    while (*got < n) {
        int64_t request = n - *got < IDX_MAX_READ ? n - *got : IDX_MAX_READ;
        int r = gzread(f->gz, buf + *got, (unsigned)request);
        int saved_errno = errno;
        if (r > 0) {
            *got += r;
            f->offset += r;
        }
        if (r < request) {
            return idx_stream_status(f, saved_errno, err);
        }
    }
    return FNN_OK;
}

static fnn_status idx_check_magic(const idx_file *f, const idx_kind *kind,
                                  const uint8_t *head, fnn_error *err) {
    uint32_t magic = idx_decode_be32(head);
    if (magic == kind->magic) {
        return FNN_OK;
    }
    const idx_kind *other = kind == &IDX_IMAGES ? &IDX_LABELS : &IDX_IMAGES;
    if (magic == other->magic) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: file is an %s file (magic 0x%08X), expected an "
                        "%s file (0x%08X): check the order of the images and "
                        "labels paths",
                        f->path, other->description, (unsigned)magic,
                        kind->description, (unsigned)kind->magic);
    }
    const char *type_name = idx_type_name(head[2]);
    if (head[0] == 0 && head[1] == 0 && head[2] != IDX_TYPE_UBYTE &&
        type_name) {
        return fnn_fail(
            err, FNN_ERR_UNSUPPORTED,
            "%s: unsupported magic number 0x%08X at byte 0: element "
            "type 0x%02X (%s) is not supported, expected 0x%08X (%s)",
            f->path, (unsigned)magic, (unsigned)head[2], type_name,
            (unsigned)kind->magic, kind->description);
    }
    return fnn_fail(err, FNN_ERR_FORMAT,
                    "%s: invalid magic number 0x%08X at byte 0: expected "
                    "0x%08X (%s)",
                    f->path, (unsigned)magic, (unsigned)kind->magic,
                    kind->description);
}

// Reads the magic number and the kind->n_dims sizes into dims. Every size
// must be at least 1.
static fnn_status idx_read_header(idx_file *f, const idx_kind *kind,
                                  int64_t *dims, fnn_error *err) {
    uint8_t head[4 + 4 * 3];
    int64_t n_head = 4 + 4 * (int64_t)kind->n_dims;
    int64_t got = 0;
    fnn_status s = idx_read(f, head, 4, &got, err);
    if (s == FNN_OK && got == 4) {
        s = idx_check_magic(f, kind, head, err);
    }
    if (s == FNN_OK && got == 4) {
        s = idx_read(f, head + 4, n_head - 4, &got, err);
        got += 4;
    }
    if (s != FNN_OK) {
        return s;
    }
    if (got < n_head) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: file is truncated: it has %lld bytes%s, but the "
                        "header of an %s file is %lld bytes",
                        f->path, (long long)f->offset, idx_units(f),
                        kind->description, (long long)n_head);
    }
    for (int d = 0; d < kind->n_dims; d++) {
        dims[d] = idx_decode_be32(head + 4 + 4 * d);
        if (dims[d] == 0) {
            return fnn_fail(err, FNN_ERR_FORMAT,
                            "%s: invalid %s 0 at byte %d: expected at least 1",
                            f->path, kind->dim_names[d], 4 + 4 * d);
        }
    }
    return FNN_OK;
}

static fnn_status idx_truncated(const idx_file *f, const char *claim,
                                int64_t n_expected, fnn_error *err) {
    return fnn_fail(err, FNN_ERR_FORMAT,
                    "%s: file is truncated: the header claims %s, so the file "
                    "should have %lld bytes%s, but it has %lld",
                    f->path, claim, (long long)n_expected, idx_units(f),
                    (long long)f->offset);
}

// Reads exactly n_bytes elements into a new buffer *out. `claim` describes
// the header's sizes for messages.
static fnn_status idx_read_elements(idx_file *f, int64_t n_bytes,
                                    const char *claim, uint8_t **out,
                                    fnn_error *err) {
    int64_t n_expected = f->offset + n_bytes;
    int64_t cap = n_bytes < IDX_FIRST_CHUNK ? n_bytes : IDX_FIRST_CHUNK;
    int64_t got = 0;
    uint8_t *buf = malloc((size_t)cap);
    fnn_status s = buf ? FNN_OK : idx_nomem(f, cap, err);
    while (s == FNN_OK && got < n_bytes) {
        if (got == cap) {
            cap = cap > n_bytes - cap ? n_bytes : 2 * cap;
            uint8_t *grown = realloc(buf, (size_t)cap);
            if (!grown) {
                s = idx_nomem(f, cap, err);
                break;
            }
            buf = grown;
        }
        int64_t n = 0;
        s = idx_read(f, buf + got, cap - got, &n, err);
        got += n;
        if (s == FNN_OK && got < cap) {
            s = idx_truncated(f, claim, n_expected, err);
        }
    }
    if (s != FNN_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    return FNN_OK;
}

// Rejects any byte after the elements that the header claims.
static fnn_status idx_check_end(idx_file *f, const char *claim,
                                fnn_error *err) {
    uint8_t scratch[4096];
    int64_t end = f->offset;
    int64_t got = 0;
    do {
        fnn_status s = idx_read(f, scratch, sizeof scratch, &got, err);
        if (s != FNN_OK) {
            return s;
        }
    } while (got == (int64_t)sizeof scratch);
    int64_t extra = f->offset - end;
    if (extra == 0) {
        return FNN_OK;
    }
    return fnn_fail(err, FNN_ERR_FORMAT,
                    "%s: %lld unexpected bytes after byte %lld%s: the header "
                    "claims %s, which end there",
                    f->path, (long long)extra, (long long)end, idx_units(f),
                    claim);
}

// Computes the features per image and the pixel bytes from the header sizes,
// rejecting sizes that do not fit an int feature count or one allocation.
static fnn_status idx_image_sizes(const idx_file *f, const int64_t *dims,
                                  int64_t *n_features, int64_t *n_bytes,
                                  fnn_error *err) {
    if (!fnn_mul_size(dims[1], dims[2], n_features) || *n_features > INT_MAX) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: images of %lldx%lld pixels at byte 8 are too "
                        "large: at most %d pixels per image are supported",
                        f->path, (long long)dims[1], (long long)dims[2],
                        INT_MAX);
    }
    if (!fnn_mul_size(dims[0], *n_features, n_bytes) ||
        (uint64_t)*n_bytes > (uint64_t)PTRDIFF_MAX ||
        (uint64_t)*n_bytes > (uint64_t)SIZE_MAX) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: %lld images of %lldx%lld pixels at byte 4 are too "
                        "large for this machine's address space",
                        f->path, (long long)dims[0], (long long)dims[1],
                        (long long)dims[2]);
    }
    return FNN_OK;
}

static fnn_status idx_read_images(const char *path, fnn_dataset *ds,
                                  fnn_error *err) {
    idx_file f;
    fnn_status s = idx_open(&f, path, err);
    if (s != FNN_OK) {
        return s;
    }
    int64_t dims[3] = {0, 0, 0};
    int64_t n_features = 0;
    int64_t n_bytes = 0;
    uint8_t *pixels = NULL;
    char claim[128];
    s = idx_read_header(&f, &IDX_IMAGES, dims, err);
    if (s == FNN_OK) {
        s = idx_image_sizes(&f, dims, &n_features, &n_bytes, err);
    }
    snprintf(claim, sizeof claim, "%lld images of %lldx%lld pixels",
             (long long)dims[0], (long long)dims[1], (long long)dims[2]);
    if (s == FNN_OK) {
        s = idx_read_elements(&f, n_bytes, claim, &pixels, err);
    }
    if (s == FNN_OK) {
        s = idx_check_end(&f, claim, err);
    }
    // The data is fully read and checked, so a close failure loses nothing.
    (void)gzclose(f.gz);
    if (s != FNN_OK) {
        free(pixels);
        return s;
    }
    ds->n_rows = dims[0];
    ds->n_features = (int)n_features;
    ds->u8 = pixels;
    ds->storage_ = pixels;
    return FNN_OK;
}

// Stores the label bytes as floats. Unsigned bytes are always below 256, so
// no range check is needed.
static fnn_status idx_store_labels(const idx_file *f, const uint8_t *bytes,
                                   fnn_dataset *ds, fnn_error *err) {
    float *labels = malloc((size_t)ds->n_rows * sizeof *labels);
    if (!labels) {
        return idx_nomem(f, ds->n_rows * (int64_t)sizeof *labels, err);
    }
    int max_label = 0;
    for (int64_t i = 0; i < ds->n_rows; i++) {
        labels[i] = (float)bytes[i];
        if (bytes[i] > max_label) {
            max_label = bytes[i];
        }
    }
    ds->labels = labels;
    ds->n_classes = max_label + 1;
    ds->labels_integer = 1;
    return FNN_OK;
}

static fnn_status idx_read_labels(const char *path, const char *images_path,
                                  fnn_dataset *ds, fnn_error *err) {
    idx_file f;
    fnn_status s = idx_open(&f, path, err);
    if (s != FNN_OK) {
        return s;
    }
    int64_t count = 0;
    uint8_t *bytes = NULL;
    char claim[64];
    s = idx_read_header(&f, &IDX_LABELS, &count, err);
    if (s == FNN_OK && count != ds->n_rows) {
        s = fnn_fail(err, FNN_ERR_FORMAT,
                     "%s: label count %lld at byte 4 does not match the %lld "
                     "images in %s: pass the labels file of those images",
                     path, (long long)count, (long long)ds->n_rows,
                     images_path);
    }
    snprintf(claim, sizeof claim, "%lld labels", (long long)count);
    if (s == FNN_OK) {
        s = idx_read_elements(&f, count, claim, &bytes, err);
    }
    if (s == FNN_OK) {
        s = idx_check_end(&f, claim, err);
    }
    (void)gzclose(f.gz);
    if (s == FNN_OK) {
        s = idx_store_labels(&f, bytes, ds, err);
    }
    free(bytes);
    return s;
}

fnn_dataset *fnn_idx_read(const char *images_path, const char *labels_path,
                          fnn_error *err, fnn_status *status) {
    if (!images_path || !labels_path) {
        fnn_set_status(status, fnn_fail(err, FNN_ERR_INVALID,
                                        "fnn_idx_read: images_path and "
                                        "labels_path must not be NULL"));
        return NULL;
    }
    fnn_dataset *ds = calloc(1, sizeof *ds);
    fnn_status s = FNN_OK;
    if (!ds) {
        s = fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", images_path);
    }
    if (s == FNN_OK) {
        s = idx_read_images(images_path, ds, err);
    }
    if (s == FNN_OK) {
        s = idx_read_labels(labels_path, images_path, ds, err);
    }
    if (s == FNN_OK) {
        ds->source = fnn_strdup(images_path);
        if (!ds->source) {
            s = fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", images_path);
        }
    }
    fnn_set_status(status, s);
    if (s != FNN_OK) {
        fnn_dataset_free(ds);
        return NULL;
    }
    return ds;
}
