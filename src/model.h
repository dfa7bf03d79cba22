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
// untouched. `write` returns nonzero on success. An existing `path` that is
// neither a regular file nor a directory (a device, a FIFO) is written in
// place instead, so /dev/full reports the full disk and stays a device.
fnn_status fnn_atomic_write(const char *path, int (*write)(FILE *, void *),
                            void *ctx, fnn_error *err);

// Builds the __metadata__ object of a model file: format, version and the
// network's options as strings, plus `config_json` (may be NULL) as
// "training". Checkpoints store the same keys. Returns NULL on failure.
struct cJSON;
struct cJSON *fnn_model_metadata(const fnn_net *net, const char *config_json);

// Creates a network with zero parameters from the __metadata__ of the parsed
// header `root` of `path`, validating every option. The parameters, of the
// size the metadata implies, must fit in the data_len bytes after the
// header, which is checked before anything is allocated. *normalized
// receives whether normalization tensors are expected.
fnn_net *fnn_model_net_from_metadata(const char *path,
                                     const struct cJSON *root,
                                     int64_t data_len, int *normalized,
                                     fnn_error *err, fnn_status *status);

#endif
