// A generic safetensors reader and writer, used by checkpoint files. Not
// installed.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON, then the tensor data. The JSON maps each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]}, offsets relative to the
// first data byte, and may hold "__metadata__", an object of strings.
#ifndef FNN_SAFETENSORS_H
#define FNN_SAFETENSORS_H

#include "internal.h"

#include <cJSON.h>

// Maximum rank of a tensor accepted from a file.
#define FNN_ST_MAX_RANK 8

typedef struct fnn_st_tensor {
    const char *name; // owned by the parsed header
    const char *dtype; // "F32", "I64", ...: a static string
    int elem;          // bytes per element
    int rank;
    int64_t shape[FNN_ST_MAX_RANK];
    int64_t count;      // product of shape
    int64_t begin, end; // data offsets
} fnn_st_tensor;

typedef struct fnn_st_file {
    const char *path;
    FILE *f;
    char *header;       // the raw header bytes [header_len]
    int64_t header_len;
    cJSON *root;
    const cJSON *meta;  // __metadata__, or NULL when absent
    int64_t data_start; // file offset of the first data byte
    int64_t data_len;
    int n_tensors;
    fnn_st_tensor *tensors; // [n_tensors] in header order
} fnn_st_file;

// Opens `path` and validates the whole header: the header length against
// the file size, the JSON, every tensor's dtype (one of the safetensors
// dtypes), shape (non-negative integers whose byte size fits in int64_t),
// data_offsets (in range, not reversed, matching shape x dtype size) and
// that the tensors tile the data exactly, with no gap or overlap. Metadata
// values must be strings. On failure err names the file, the tensor and the
// value, and `st` needs no fnn_st_close.
fnn_status fnn_st_open(fnn_st_file *st, const char *path, fnn_error *err);

// Parses the n header bytes at json, from file byte 8 of `path`, into
// *root (freed by the caller with cJSON_Delete, also on failure). Rejects
// three defects, naming the byte or key. The first is a number with a
// fraction or exponent, since the header's only numbers are shapes and
// offsets. The second is any byte but space after the JSON object. The
// third is a key repeated in any object: cJSON keeps both, but its lookups
// see only the first.
fnn_status fnn_st_parse_header(const char *path, const char *json, size_t n,
                               cJSON **root, fnn_error *err);
void fnn_st_close(fnn_st_file *st);

// Returns the tensor called `name`, or NULL.
const fnn_st_tensor *fnn_st_find(const fnn_st_file *st, const char *name);

// Finds tensor `name` and checks its dtype and shape [rank]. Returns
// FNN_ERR_FORMAT naming the tensor when it is missing or differs.
fnn_status fnn_st_expect(const fnn_st_file *st, const char *name,
                         const char *dtype, int rank, const int64_t *shape,
                         const fnn_st_tensor **out, fnn_error *err);

// Reads the bytes of `t` into dst, which has room for t->end - t->begin bytes.
fnn_status fnn_st_read(const fnn_st_file *st, const fnn_st_tensor *t,
                       void *dst, fnn_error *err);

// Returns the metadata string `key`, or NULL when it is absent.
const char *fnn_st_meta(const fnn_st_file *st, const char *key);

// One tensor to write. shape has `rank` entries; data contains the elements in
// little-endian order.
typedef struct fnn_st_entry {
    const char *name;
    const char *dtype;
    int rank;
    int64_t shape[2];
    const void *data;
    int64_t bytes;
} fnn_st_entry;

// Pads a header printed by cJSON with spaces to a multiple of 8 bytes, so
// the data that follows the 8-byte length starts aligned. Takes ownership of
// json (which may be NULL), returns the padded text or NULL, and sets *len.
char *fnn_st_pad_header(char *json, size_t *len);

// Writes `meta` (an object of strings, may be NULL) and the entries, in the
// given order and laid out back to back, atomically with fnn_atomic_write.
// The header is padded with spaces to a multiple of 8 bytes (see
// fnn_st_pad_header), so equal inputs give byte-identical files. When
// checksum_key is not NULL, metadata checksum_key receives the CRC-32 of
// the whole file as 8 lowercase hex digits, computed with those digits
// written as "00000000" (fnn_st_verify_checksum checks it).
fnn_status fnn_st_write(const char *path, const cJSON *meta,
                        const fnn_st_entry *entries, int n,
                        const char *checksum_key, fnn_error *err);

// Checks the CRC-32 that fnn_st_write stored in metadata `key`, reading
// the whole file; a file without the key passes. Returns FNN_ERR_FORMAT when
// the value is malformed or the file's bytes no longer match it, and
// FNN_ERR_IO when a read fails.
fnn_status fnn_st_verify_checksum(const fnn_st_file *st, const char *key,
                                  fnn_error *err);

#endif
