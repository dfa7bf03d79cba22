// Fuzz target for fnn_idx_read: an images file and a labels file, split as
// in fuzz_split.
#include "fuzz_input.h"

int fuzz_idx(const uint8_t *data, size_t size) {
    fuzz_file images, labels;
    if (fuzz_split(data, size, &images, &labels) != 0) {
        return 0;
    }
    fnn_error err = {{0}};
    fnn_status status;
    fnn_dataset *ds = fnn_idx_read(images.path, labels.path, &err, &status);
    fuzz_check_rejection(ds, &err);
    fnn_dataset_free(ds);
    fuzz_file_close(&images);
    fuzz_file_close(&labels);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_idx(data, size);
}
#endif
