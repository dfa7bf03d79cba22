// Weight initialization. Each scheme draws from the network's generator in
// row-major order over W [n_out, n_in]; fan_in is n_in, the number of inputs
// that each output unit sums.
#include "internal.h"

#include <math.h>

fnn_init fnn_init_for(fnn_activation a) {
    switch (a) {
    case FNN_RELU:
    case FNN_LEAKY_RELU:
        return FNN_INIT_HE;
    case FNN_TANH:
        return FNN_INIT_LECUN;
    case FNN_SIGMOID:
    case FNN_IDENTITY:
        return FNN_INIT_XAVIER;
    }
    return FNN_INIT_XAVIER;
}

double fnn_init_std(fnn_init init, int fan_in, int fan_out) {
    switch (init) {
    case FNN_INIT_HE:
    case FNN_INIT_HE_UNIFORM:
        // He et al. 2015: Var(W) = 2/n_in keeps ReLU activations' second
        // moment constant from layer to layer.
        return sqrt(2.0 / fan_in);
    case FNN_INIT_XAVIER:
    case FNN_INIT_XAVIER_UNIFORM:
        // Glorot and Bengio 2010: the harmonic compromise between keeping the
        // forward (n_in) and the backward (n_out) variance constant.
        return sqrt(2.0 / (fan_in + fan_out));
    case FNN_INIT_LECUN:
        // LeCun et al. 1998, "Efficient BackProp": Var(W) = 1/n_in.
        return sqrt(1.0 / fan_in);
    case FNN_INIT_SMALL:
        return 0.01;
    case FNN_INIT_NORMAL:
        return 1.0;
    case FNN_INIT_ZEROS:
    case FNN_INIT_AUTO:
        return 0.0;
    }
    return 0.0;
}

void fnn_init_fill(double *w, int n_out, int n_in, fnn_init init,
                   fnn_rng *rng) {
    int64_t n = (int64_t)n_out * n_in;
    double std = fnn_init_std(init, n_in, n_out);
    int uniform = init == FNN_INIT_HE_UNIFORM ||
                  init == FNN_INIT_XAVIER_UNIFORM;
    // A uniform draw on [-limit, limit] has std limit/sqrt(3).
    double limit = std * sqrt(3.0);
    for (int64_t i = 0; i < n; i++) {
        if (init == FNN_INIT_ZEROS) {
            w[i] = 0.0;
        } else if (uniform) {
            w[i] = (2.0 * fnn_rng_uniform(rng) - 1.0) * limit;
        } else {
            w[i] = fnn_rng_normal(rng) * std;
        }
    }
}
