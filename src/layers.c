// Type dispatch for the layer code in layers_impl.h, and the public cost and
// prediction entry points.
#include "kernels.h"
#include "net_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define REAL float
#define SUFFIX f32
#define GEMM cblas_sgemm
#define KERNELS 1
#include "layers_impl.h"
#undef REAL
#undef SUFFIX
#undef GEMM
#undef KERNELS

#define REAL double
#define SUFFIX f64
#define GEMM cblas_dgemm
#define KERNELS 0
#include "layers_impl.h"
#undef REAL
#undef SUFFIX
#undef GEMM
#undef KERNELS

fnn_status fnn_net_forward(fnn_net *net, const void *x, int batch_size,
                           fnn_dropout_mode dropout, int normalized) {
    fnn_status s = fnn_net_reserve(net, batch_size);
    if (s != FNN_OK) {
        return s;
    }
    if (net->opt.dtype == FNN_F64) {
        return forward_f64(net, x, batch_size, dropout, normalized);
    }
    return forward_f32(net, x, batch_size, dropout, normalized);
}

void fnn_net_activate_column(fnn_net *net, int layer, int column,
                             int batch_size) {
    int n_out = net->opt.sizes[layer + 1];
    for (int i = 0; i < batch_size; i++) {
        int64_t at = (int64_t)i * n_out + column;
        if (net->opt.dtype == FNN_F64) {
            layer_activate_f64(net, layer, at, 1, FNN_DROPOUT_FREEZE);
        } else {
            layer_activate_f32(net, layer, at, 1, FNN_DROPOUT_FREEZE);
        }
    }
}

void fnn_net_forward_from(fnn_net *net, int layer, int batch_size) {
    for (int l = layer + 1; l < net->opt.n_layers; l++) {
        if (net->opt.dtype == FNN_F64) {
            forward_layer_f64(net, l, batch_size, FNN_DROPOUT_FREEZE);
        } else {
            forward_layer_f32(net, l, batch_size, FNN_DROPOUT_FREEZE);
        }
    }
}

fnn_status fnn_net_loss(fnn_net *net, const void *y, int batch_size,
                        double *loss_sum, int64_t *correct, int write_dz) {
    if (net->opt.dtype == FNN_F64) {
        return loss_f64(net, y, batch_size, loss_sum, correct, write_dz);
    }
    return loss_f32(net, y, batch_size, loss_sum, correct, write_dz);
}

fnn_status fnn_net_row_loss(fnn_net *net, int row, const void *y_row,
                            double *loss) {
    // The loss code on a batch of one row: the output buffer is moved to
    // the row for the call.
    int last = net->opt.n_layers - 1;
    int k = net->opt.sizes[last + 1];
    void *out = net->act[last];
    net->act[last] = (char *)out + (size_t)row * (size_t)k * net->elem;
    *loss = 0;
    fnn_status s = fnn_net_loss(net, y_row, 1, loss, NULL, 0);
    net->act[last] = out;
    return s;
}

void fnn_net_backward(fnn_net *net, int batch_size) {
    if (net->opt.dtype == FNN_F64) {
        backward_f64(net, batch_size);
    } else {
        backward_f32(net, batch_size);
    }
}

double fnn_net_l2_term(const fnn_net *net, int batch_size) {
    if (net->opt.dtype == FNN_F64) {
        return l2_term_f64(net, batch_size);
    }
    return l2_term_f32(net, batch_size);
}

int fnn_net_first_nonfinite_layer(const fnn_net *net, int batch_size) {
    if (net->opt.dtype == FNN_F64) {
        return first_nonfinite_f64(net, batch_size);
    }
    return first_nonfinite_f32(net, batch_size);
}

// Returns 1 when every value of x [batch_size, n_in] is finite. ReLU maps
// NaN to 0, so a NaN input can otherwise give a finite cost.
static int inputs_finite(const fnn_net *net, const void *x, int batch_size) {
    int64_t n = (int64_t)batch_size * net->opt.sizes[0];
    if (net->opt.dtype == FNN_F32) {
        return fnn_all_finite_f32(x, n);
    }
    const double *xd = x;
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        bad |= !isfinite(xd[i]);
    }
    return !bad;
}

fnn_status fnn_net_cost(fnn_net *net, const void *x, const void *y,
                        int batch_size, fnn_dropout_mode dropout,
                        int backward, double *cost) {
    if (!net || !x || !y || batch_size <= 0 || !cost ||
        (int)dropout < FNN_DROPOUT_SAMPLE || dropout > FNN_DROPOUT_OFF) {
        return FNN_ERR_INVALID;
    }
    int finite = inputs_finite(net, x, batch_size);
    // The forward pass runs even on a bad input, so that fnn_diagnose finds
    // the layer statistics of this batch.
    fnn_status s = fnn_net_forward(net, x, batch_size, dropout, 0);
    if (s != FNN_OK) {
        return s;
    }
    if (!finite) {
        *cost = NAN;
        return FNN_ERR_NONFINITE;
    }
    double loss_sum = 0;
    s = fnn_net_loss(net, y, batch_size, &loss_sum, NULL, backward);
    if (s != FNN_OK && s != FNN_ERR_NONFINITE) {
        return s;
    }
    *cost = loss_sum / batch_size + fnn_net_l2_term(net, batch_size);
    if (s == FNN_ERR_NONFINITE || !isfinite(*cost)) {
        return FNN_ERR_NONFINITE;
    }
    if (backward) {
        fnn_net_backward(net, batch_size);
    }
    return FNN_OK;
}

fnn_status fnn_net_predict(fnn_net *net, const void *x, int batch_size,
                           void *out) {
    if (!net || !x || batch_size <= 0 || !out) {
        return FNN_ERR_INVALID;
    }
    if (!inputs_finite(net, x, batch_size)) {
        return FNN_ERR_NONFINITE;
    }
    fnn_status s = fnn_net_forward(net, x, batch_size, FNN_DROPOUT_OFF, 0);
    if (s != FNN_OK) {
        return s;
    }
    if (net->opt.dtype == FNN_F64) {
        output_f64(net, batch_size, out);
    } else {
        output_f32(net, batch_size, out);
    }
    return FNN_OK;
}

fnn_status fnn_net_output(fnn_net *net, int batch_size, void *out) {
    if (net->opt.dtype == FNN_F64) {
        output_f64(net, batch_size, out);
    } else {
        output_f32(net, batch_size, out);
    }
    return FNN_OK;
}
