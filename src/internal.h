// Declarations shared between the library's source files. Not installed.
#ifndef FNN_INTERNAL_H
#define FNN_INTERNAL_H

#include "fastnn.h"

#include <stdio.h>
#include <stdlib.h>

// Always-on check of an internal invariant (never of a caller's input): it
// survives NDEBUG because a broken invariant means memory is already wrong.
#define FNN_ASSERT(cond)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fastnn: internal error at %s:%d: %s\n",         \
                    __FILE__, __LINE__, #cond);                              \
            abort();                                                         \
        }                                                                    \
    } while (0)

#define FNN_PI 3.14159265358979323846

// Formats a message into err (when err is not NULL) and returns status, so a
// failure reads `return fnn_fail(err, FNN_ERR_FORMAT, "...", ...);`.
fnn_status fnn_fail(fnn_error *err, fnn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Sets *status when status is not NULL.
static inline void fnn_set_status(fnn_status *status, fnn_status value) {
    if (status) {
        *status = value;
    }
}

// Multiplies two non-negative sizes; returns 0 and leaves *out unchanged when
// the product would not fit in int64_t.
static inline int fnn_mul_size(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) {
        return 0;
    }
    if (a != 0 && b > INT64_MAX / a) {
        return 0;
    }
    *out = a * b;
    return 1;
}

// Duplicates a string with malloc; NULL on allocation failure.
char *fnn_strdup(const char *s);

#endif
