// Model file constants and the atomic writer shared by model and checkpoint
// files. Not installed.
#ifndef FNN_MODEL_H
#define FNN_MODEL_H

#include "net_internal.h"

#define FNN_MODEL_FORMAT "fastnn"
#define FNN_MODEL_VERSION "1"
// Largest JSON header accepted from a file, a guard against a corrupt length.
#define FNN_MODEL_MAX_HEADER (64 << 20)

// Writes a file atomically: `write` fills a temporary file in the same
// directory, which is flushed, fsynced and renamed over `path`. On any
// failure the temporary file is removed and an existing `path` is left
// untouched. `write` returns nonzero on success.
fnn_status fnn_atomic_write(const char *path, int (*write)(FILE *, void *),
                            void *ctx, fnn_error *err);

#endif
