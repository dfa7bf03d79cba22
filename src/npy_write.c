// Writer for NumPy .npy files: format version 1.0, little-endian float32 or
// float64, C order, with the header padded to 64 bytes as np.save does, so
// np.load(path, mmap_mode='r') maps aligned data.
#include "model.h"
#include "npy.h"

#include <string.h>

// np.save aligns the start of the data to this many bytes.
#define NPY_ALIGN 64
// Elements encoded per fwrite.
#define NPY_WRITE_CHUNK 4096

typedef struct npy_writer {
    fnn_dtype dtype;
    const char *header; // full prefix: magic, version, length and dict
    size_t header_size;
    const void *data;
    int64_t count;
} npy_writer;

// Writes `count` elements in little-endian byte order whatever the host's.
static int npy_write_elements(FILE *f, const npy_writer *w) {
    int size = w->dtype == FNN_F64 ? 8 : 4;
    unsigned char buf[NPY_WRITE_CHUNK * 8];
    for (int64_t first = 0; first < w->count; first += NPY_WRITE_CHUNK) {
        int64_t n = w->count - first < NPY_WRITE_CHUNK ? w->count - first
                                                       : NPY_WRITE_CHUNK;
        for (int64_t i = 0; i < n; i++) {
            uint64_t bits = 0;
            if (size == 8) {
                memcpy(&bits, (const double *)w->data + first + i, 8);
            } else {
                uint32_t bits32;
                memcpy(&bits32, (const float *)w->data + first + i, 4);
                bits = bits32;
            }
            for (int k = 0; k < size; k++) {
                buf[i * size + k] = (unsigned char)(bits >> (8 * k));
            }
        }
        if (fwrite(buf, (size_t)size, (size_t)n, f) != (size_t)n) {
            return 0;
        }
    }
    return 1;
}

static int npy_write_file(FILE *f, void *ctx) {
    const npy_writer *w = ctx;
    if (fwrite(w->header, 1, w->header_size, f) != w->header_size) {
        return 0;
    }
    return npy_write_elements(f, w);
}

// Builds the 10-byte prefix and the dict, padded with spaces and ended by
// '\n' so that the data starts at a multiple of NPY_ALIGN.
static size_t npy_format_header(const npy_writer *w, const int64_t *shape,
                                int ndim, char *buf, size_t size) {
    char shape_text[FNN_NPY_MAX_DIMS * 22 + 4];
    fnn_npy_format_shape(shape, ndim, shape_text, sizeof shape_text);
    char dict[sizeof shape_text + 64];
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     w->dtype == FNN_F64 ? "<f8" : "<f4", shape_text);
    size_t prefix = FNN_NPY_MAGIC_SIZE + 4;
    size_t total = prefix + (size_t)n + 1;
    total = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    FNN_ASSERT(total <= size && total - prefix <= 0xFFFF);
    size_t len = total - prefix;
    memcpy(buf, FNN_NPY_MAGIC, FNN_NPY_MAGIC_SIZE);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)(len & 0xFF);
    buf[9] = (char)(len >> 8);
    memset(buf + prefix, ' ', len);
    memcpy(buf + prefix, dict, (size_t)n);
    buf[total - 1] = '\n';
    return total;
}

static fnn_status npy_check_args(const char *path, fnn_dtype dtype, int ndim,
                                 const int64_t *shape, const void *data,
                                 int64_t *count, fnn_error *err) {
    if (!path) {
        return fnn_fail(err, FNN_ERR_INVALID, "fnn_npy_write: path is NULL");
    }
    if (dtype != FNN_F32 && dtype != FNN_F64) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "%s: invalid dtype %d: expected FNN_F32 or FNN_F64",
                        path, (int)dtype);
    }
    if (ndim < 0 || ndim > FNN_NPY_MAX_DIMS || (ndim > 0 && !shape)) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "%s: invalid ndim %d: expected 0 to %d with a shape",
                        path, ndim, FNN_NPY_MAX_DIMS);
    }
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || !fnn_mul_size(n, shape[d], &n) ||
            n > INT64_MAX / 8) {
            return fnn_fail(err, FNN_ERR_INVALID,
                            "%s: invalid shape: dimension %d is %lld or the "
                            "array is too large",
                            path, d, (long long)shape[d]);
        }
    }
    if (n > 0 && !data) {
        return fnn_fail(err, FNN_ERR_INVALID, "%s: data is NULL", path);
    }
    *count = n;
    return FNN_OK;
}

fnn_status fnn_npy_write(const char *path, fnn_dtype dtype, int ndim,
                         const int64_t *shape, const void *data,
                         fnn_error *err) {
    int64_t count = 0;
    fnn_status s = npy_check_args(path, dtype, ndim, shape, data, &count, err);
    if (s != FNN_OK) {
        return s;
    }
    char header[FNN_NPY_MAX_DIMS * 22 + 4 + 64 + 2 * NPY_ALIGN];
    npy_writer w = {dtype, header, 0, data, count};
    w.header_size = npy_format_header(&w, shape, ndim, header, sizeof header);
    return fnn_atomic_write(path, npy_write_file, &w, err);
}
