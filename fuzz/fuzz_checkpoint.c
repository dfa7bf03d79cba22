// Fuzz target for the checkpoint reader: the input is the whole checkpoint
// file, read with fnn_checkpoint_read_config and fnn_checkpoint_load against
// a fixed 4-row data set, the rows of the seeds' training CSV.
#include "fuzz_input.h"

#include <stdlib.h>

static float features[8] = {1, 2, 3, 4, 5, 6, 7, 1};
static float labels[4] = {0, 1, 2, 0};

int fuzz_checkpoint(const uint8_t *data, size_t size) {
    fuzz_file file;
    if (fuzz_file_open(&file, data, size) != 0) {
        return 0;
    }
    fnn_dataset ds = {.n_rows = 4, .n_features = 2, .f32 = features,
                      .labels = labels, .n_classes = 3, .labels_integer = 1,
                      .source = "fuzz"};
    fnn_error err = {{0}};
    fnn_status status;
    char *config = fnn_checkpoint_read_config(file.path, &err, &status);
    fuzz_check_rejection(config, &err);
    free(config);
    memset(&err, 0, sizeof err);
    fnn_trainer *t = fnn_checkpoint_load(file.path, &ds, NULL, NULL, &err,
                                         &status);
    fuzz_check_rejection(t, &err);
    fnn_trainer_free(t);
    fuzz_file_close(&file);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_checkpoint(data, size);
}
#endif
