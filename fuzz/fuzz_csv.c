// Fuzz target for fnn_csv_read. The first byte picks the options: bits 0-1
// the header mode (detect, none, present), bits 2-3 the label column (last,
// 0, 1, or the header name "label"); the rest is the file.
#include "fuzz_input.h"

int fuzz_csv(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    fnn_csv_options opts = fnn_csv_options_default();
    static const int HEADERS[4] = {-1, 0, 1, -1};
    opts.header = HEADERS[data[0] & 3];
    int label = (data[0] >> 2) & 3;
    if (label == 3) {
        opts.label_name = "label";
    } else {
        opts.label_column = label - 1;
    }
    fuzz_file csv;
    if (fuzz_file_open(&csv, data + 1, size - 1) != 0) {
        return 0;
    }
    fnn_error err = {{0}};
    fnn_status status;
    fnn_dataset *ds = fnn_csv_read(csv.path, &opts, &err, &status);
    fuzz_check_rejection(ds, &err);
    fnn_dataset_free(ds);
    fuzz_file_close(&csv);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_csv(data, size);
}
#endif
