// Fuzz target for fnn_npy_read: a features file and a labels file, split as
// in fuzz_split.
#include "fuzz_input.h"

int fuzz_npy(const uint8_t *data, size_t size) {
    fuzz_file features, labels;
    if (fuzz_split(data, size, &features, &labels) != 0) {
        return 0;
    }
    fnn_error err = {{0}};
    fnn_status status;
    fnn_dataset *ds = fnn_npy_read(features.path, labels.path, &err, &status);
    fuzz_check_rejection(ds, &err);
    fnn_dataset_free(ds);
    fuzz_file_close(&features);
    fuzz_file_close(&labels);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_npy(data, size);
}
#endif
