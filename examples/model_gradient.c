// Computes the cost of a saved model on a batch of NumPy data and its
// gradient, and writes them as .npy files, so that another framework can
// check fastnn's gradient (or a user's own) against its autograd.
//
//   example_model_gradient MODEL X.npy Y.npy f32|f64 OUT_PREFIX
//
// The model is converted to the requested dtype with fnn_net_clone. The
// whole file X.npy is one batch, evaluated without dropout. Writes
//   OUT_PREFIX.output.npy  [n_rows, n_out] probabilities or outputs
//   OUT_PREFIX.cost.npy    0-d float64: (1/m) sum loss + (l2/2m) sum ||W||^2
//   OUT_PREFIX.grad.npy    [n_params] gradient in the fnn_net_params order
//                          W[0], b[0], W[1], b[1], ..., each W [n_out, n_in]
#include <fastnn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failed(fnn_status s, const fnn_error *err, const char *what) {
    if (s == FNN_OK) {
        return 0;
    }
    fprintf(stderr, "model_gradient: %s failed: %s%s%s\n", what,
            fnn_status_str(s), err && err->message[0] ? ": " : "",
            err ? err->message : "");
    return 1;
}

// Returns a copy of n floats in the network's dtype (malloc'd), or NULL.
static void *to_dtype(const float *v, int64_t n, fnn_dtype dtype) {
    size_t size = dtype == FNN_F64 ? sizeof(double) : sizeof(float);
    void *out = malloc((size_t)n * size);
    for (int64_t i = 0; out && i < n; i++) {
        if (dtype == FNN_F64) {
            ((double *)out)[i] = v[i];
        } else {
            ((float *)out)[i] = v[i];
        }
    }
    return out;
}

static int write_npy(const char *prefix, const char *suffix, fnn_dtype dtype,
                     int ndim, const int64_t *shape, const void *data) {
    char path[4096];
    snprintf(path, sizeof path, "%s.%s.npy", prefix, suffix);
    fnn_error err = {{0}};
    return !failed(fnn_npy_write(path, dtype, ndim, shape, data, &err), &err,
                   "writing");
}

// Runs the forward and backward pass on the batch and writes the results.
static int run(fnn_net *net, const fnn_dataset *ds, const char *prefix) {
    const fnn_net_options *o = fnn_net_get_options(net);
    int n = (int)ds->n_rows;
    int64_t n_in = o->sizes[0];
    int64_t n_out = o->sizes[o->n_layers];
    float *rows = malloc((size_t)n * (size_t)n_in * sizeof *rows);
    if (!rows) {
        return 0;
    }
    fnn_dataset_get_rows(ds, 0, n, rows);
    void *x = to_dtype(rows, n * n_in, o->dtype);
    void *y = to_dtype(ds->labels, n, o->dtype);
    size_t size = o->dtype == FNN_F64 ? sizeof(double) : sizeof(float);
    void *out = malloc((size_t)n * (size_t)n_out * size);
    double cost = 0;
    int ok = x && y && out &&
             !failed(fnn_net_predict(net, x, n, out), NULL, "prediction") &&
             !failed(fnn_net_cost(net, x, y, n, FNN_DROPOUT_OFF, 1, &cost),
                     NULL, "the backward pass");
    const int64_t out_shape[2] = {n, n_out};
    const int64_t grad_shape[1] = {fnn_net_param_count(net)};
    ok = ok && write_npy(prefix, "output", o->dtype, 2, out_shape, out) &&
         write_npy(prefix, "cost", FNN_F64, 0, NULL, &cost) &&
         write_npy(prefix, "grad", o->dtype, 1, grad_shape,
                   fnn_net_grads(net));
    free(rows);
    free(x);
    free(y);
    free(out);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 6 || (strcmp(argv[4], "f32") && strcmp(argv[4], "f64"))) {
        fprintf(stderr, "usage: example_model_gradient MODEL X.npy Y.npy "
                        "f32|f64 OUT_PREFIX\n");
        return 2;
    }
    fnn_dtype dtype = strcmp(argv[4], "f64") == 0 ? FNN_F64 : FNN_F32;
    fnn_error err = {{0}};
    fnn_status s;
    fnn_net *saved = fnn_model_load(argv[1], &err, &s);
    if (failed(s, &err, "loading the model")) {
        return 2;
    }
    fnn_net *net = fnn_net_clone(saved, dtype, &s);
    fnn_net_free(saved);
    if (failed(s, NULL, "converting the model")) {
        return 1;
    }
    fnn_dataset *ds = fnn_npy_read(argv[2], argv[3], &err, &s);
    int ok = !failed(s, &err, "reading the data") &&
             !failed(fnn_check_dataset(net, ds, &err), &err, "checking data");
    ok = ok && run(net, ds, argv[5]);
    fnn_dataset_free(ds);
    fnn_net_free(net);
    return ok ? 0 : 1;
}
