// NumPy .npy header, shared by the reader and the writer. Not installed.
//
// An .npy file starts with the magic "\x93NUMPY", a major and a minor version
// byte and a little-endian header length (2 bytes in version 1.0, 4 bytes in
// 2.0 and 3.0). The header follows, a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }
// padded with spaces and ended by '\n', then the elements. Version 3.0 only
// allows UTF-8 in the header, which matters for structured dtypes alone.
#ifndef FNN_NPY_H
#define FNN_NPY_H

#include "internal.h"

// Maximum number of dimensions, the limit of NumPy 1.x arrays.
#define FNN_NPY_MAX_DIMS 32
// Largest header accepted, a guard against a corrupt length field. NumPy 1.24
// itself rejects headers over 10000 bytes unless told otherwise.
#define FNN_NPY_MAX_HEADER (1 << 20)
#define FNN_NPY_MAGIC "\x93NUMPY"
#define FNN_NPY_MAGIC_SIZE 6

typedef struct fnn_npy_header {
    int major;
    int minor;
    char descr[32];      // dtype string as written in the file, e.g. "<f8"
    char kind;           // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
    int itemsize;        // bytes per element: 1, 2, 4 or 8
    int big_endian;      // nonzero for '>' byte order
    int fortran_order;   // nonzero when the elements are column-major
    int ndim;
    int64_t shape[FNN_NPY_MAX_DIMS];
    int64_t count;       // product of shape (1 for a 0-d array)
    int64_t data_offset; // byte at which the elements start
} fnn_npy_header;

// Reads and validates the magic, version, length and header dict of an .npy
// file open at byte 0, leaving `f` at the first element. Fills h. Rejects a
// bad magic, an unknown version, a header that does not parse, unknown or
// missing keys, an object, structured or unsupported dtype, and a shape whose
// byte size overflows. Messages name `path` and the byte offset.
fnn_status fnn_npy_read_header(FILE *f, const char *path, fnn_npy_header *h,
                               fnn_error *err);

// Formats a shape as NumPy prints it: "(3,)", "(60000, 784)", "()".
void fnn_npy_format_shape(const int64_t *shape, int ndim, char *buf,
                          size_t size);

#endif
