// Ownership of an fnn_dataset, shared by every reader:
// - storage_ is the malloc'd feature buffer that u8 or f32 points to. A data
//   set that borrows another's features (a view) leaves storage_ NULL, so
//   fnn_dataset_free releases only what the data set itself allocated.
// - labels, names (each string and the array) and source are always owned.
#include "internal.h"

#include <string.h>

void fnn_dataset_free(fnn_dataset *ds) {
    if (!ds) {
        return;
    }
    if (ds->names) {
        for (int i = 0; i < ds->n_features; i++) {
            free(ds->names[i]);
        }
        free(ds->names);
    }
    free(ds->storage_);
    free(ds->labels);
    free(ds->source);
    free(ds);
}

fnn_csv_options fnn_csv_options_default(void) {
    fnn_csv_options opts = {
        .header = -1,
        .label_column = -1,
        .label_name = NULL,
        .skip_rows = 0,
    };
    return opts;
}

// Copies raw feature values: uint8 pixels become 0..255, not scaled, because
// the network applies its own normalization.
// NOTE: a range outside [0, n_rows) is a caller bug that this void function
// cannot report, so it aborts through FNN_ASSERT instead of writing out of
// bounds.
void fnn_dataset_get_rows(const fnn_dataset *ds, int64_t start, int64_t count,
                          float *out) {
    FNN_ASSERT(ds != NULL && out != NULL);
    FNN_ASSERT(start >= 0 && count >= 0 && start <= ds->n_rows - count);

    int64_t first = start * ds->n_features;
    int64_t n = count * ds->n_features;
    if (ds->f32) {
        memcpy(out, ds->f32 + first, (size_t)n * sizeof *out);
        return;
    }
    FNN_ASSERT(ds->u8 != NULL || n == 0);
    for (int64_t i = 0; i < n; i++) {
        out[i] = (float)ds->u8[first + i];
    }
}
