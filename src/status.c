#include "internal.h"

#include <stdarg.h>
#include <string.h>

const char *fnn_status_str(fnn_status status) {
    switch (status) {
    case FNN_OK:
        return "success";
    case FNN_ERR_NOMEM:
        return "out of memory";
    case FNN_ERR_INVALID:
        return "invalid argument";
    case FNN_ERR_IO:
        return "input/output error";
    case FNN_ERR_FORMAT:
        return "malformed file";
    case FNN_ERR_NONFINITE:
        return "non-finite value";
    case FNN_ERR_UNSUPPORTED:
        return "unsupported";
    case FNN_ERR_INTERRUPTED:
        return "interrupted";
    }
    return "unknown status";
}

fnn_status fnn_fail(fnn_error *err, fnn_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

char *fnn_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) {
        memcpy(copy, s, n);
    }
    return copy;
}
