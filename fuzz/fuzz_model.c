// Fuzz target for fnn_model_load: the input is the whole model file. A file
// that loads is also run forward once, so sizes that the reader accepted
// must match the buffers that the forward pass touches.
#include "fuzz_input.h"

#include <stdlib.h>

static void run_forward(fnn_net *net) {
    const fnn_net_options *o = fnn_net_get_options(net);
    size_t elem = o->dtype == FNN_F64 ? sizeof(double) : sizeof(float);
    size_t n_out = (size_t)o->sizes[o->n_layers];
    void *x = calloc((size_t)o->sizes[0], elem);
    void *out = calloc(n_out, elem);
    if (x && out) {
        (void)fnn_net_predict(net, x, 1, out);
    }
    free(x);
    free(out);
}

int fuzz_model(const uint8_t *data, size_t size) {
    fuzz_file model;
    if (fuzz_file_open(&model, data, size) != 0) {
        return 0;
    }
    fnn_error err = {{0}};
    fnn_status status;
    fnn_net *net = fnn_model_load(model.path, &err, &status);
    fuzz_check_rejection(net, &err);
    if (net) {
        run_forward(net);
    }
    fnn_net_free(net);
    fuzz_file_close(&model);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_model(data, size);
}
#endif
