// Dense layers, activations and output losses, written once for a scalar
// type and compiled twice by layers.c: REAL = float with fnn_sgemm (the
// training path) and REAL = double with cblas_dgemm (the gradient check). So
// the check runs on the code that trains, apart from the matrix products.
//
// Expects REAL, SUFFIX (f32 or f64) and GEMM to be defined, and KERNELS to
// be 1 where REAL is float and the loops of kernels.h apply.

#include "sgemm.h"

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUFFIX)

static const REAL *FN(layer_input)(const fnn_net *net, int l) {
    if (l == 0) {
        return (const REAL *)net->input;
    }
    return (const REAL *)(net->dropout_used ? net->drop[l - 1]
                                            : net->act[l - 1]);
}

// g(z) for a hidden layer, element-wise over n values.
static void FN(activate)(fnn_activation g, const REAL *z, REAL *a,
                         int64_t n) {
    switch (g) {
    case FNN_RELU:
#if KERNELS
        fnn_relu_f32(z, a, n);
        break;
#endif
        for (int64_t i = 0; i < n; i++) {
            a[i] = z[i] <= 0 ? 0 : z[i]; // NaN stays NaN
        }
        break;
    case FNN_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) {
            a[i] = z[i] > 0 ? z[i] : (REAL)0.01 * z[i];
        }
        break;
    case FNN_TANH:
        for (int64_t i = 0; i < n; i++) {
            a[i] = (REAL)tanh(z[i]);
        }
        break;
    case FNN_SIGMOID:
        for (int64_t i = 0; i < n; i++) {
            a[i] = (REAL)(1.0 / (1.0 + exp(-(double)z[i])));
        }
        break;
    case FNN_IDENTITY:
        memcpy(a, z, (size_t)n * sizeof(REAL));
        break;
    }
}

// dz = da * g'(z), with g' expressed through z or a = g(z) (before dropout).
static void FN(activate_backward)(fnn_activation g, const REAL *z,
                                  const REAL *a, const REAL *da, REAL *dz,
                                  int64_t n) {
    switch (g) {
    case FNN_RELU:
        // The derivative at exactly z = 0 is taken as 0 (the left slope).
#if KERNELS
        fnn_relu_backward_f32(z, da, dz, n);
        break;
#endif
        for (int64_t i = 0; i < n; i++) {
            dz[i] = z[i] <= 0 ? 0 : da[i];
        }
        break;
    case FNN_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) {
            dz[i] = z[i] > 0 ? da[i] : (REAL)0.01 * da[i];
        }
        break;
    case FNN_TANH:
        // d tanh(z)/dz = 1 - tanh(z)^2
        for (int64_t i = 0; i < n; i++) {
            dz[i] = da[i] * (1 - a[i] * a[i]);
        }
        break;
    case FNN_SIGMOID:
        // d s(z)/dz = s(z) (1 - s(z))
        for (int64_t i = 0; i < n; i++) {
            dz[i] = da[i] * a[i] * (1 - a[i]);
        }
        break;
    case FNN_IDENTITY:
        memcpy(dz, da, (size_t)n * sizeof(REAL));
        break;
    }
}

static void FN(sample_mask)(fnn_net *net, REAL *mask, int64_t n) {
    double keep = net->opt.keep_prob;
    REAL scale = (REAL)(1.0 / keep);
    for (int64_t i = 0; i < n; i++) {
        mask[i] = fnn_rng_uniform(&net->rng_dropout) < keep ? scale : 0;
    }
}

static void FN(normalize_input)(fnn_net *net, const REAL *x, int batch) {
    int n_in = net->opt.sizes[0];
    REAL *out = (REAL *)net->x_norm;
    for (int i = 0; i < batch; i++) {
        for (int j = 0; j < n_in; j++) {
            double v = ((double)x[(int64_t)i * n_in + j] - net->norm_mean[j]) /
                       net->norm_std[j];
            out[(int64_t)i * n_in + j] = (REAL)v;
        }
    }
}

// g(z) of n values of layer l from offset `at` of its buffers, and with
// dropout the next layer's input a * mask, sampling the mask first for
// FNN_DROPOUT_SAMPLE. The full pass runs it on the whole layer, the
// gradient check on single values of one column.
static void FN(layer_activate)(fnn_net *net, int l, int64_t at, int64_t n,
                               fnn_dropout_mode dropout) {
    const fnn_net_options *o = &net->opt;
    int hidden = l < o->n_layers - 1;
    const REAL *z = (const REAL *)net->z[l] + at;
    REAL *a = (REAL *)net->act[l] + at;
    FN(activate)(hidden ? o->activation : FNN_IDENTITY, z, a, n);
    if (hidden && net->dropout_used) {
        REAL *mask = (REAL *)net->mask[l] + at;
        if (dropout == FNN_DROPOUT_SAMPLE) {
            FN(sample_mask)(net, mask, n);
        }
        REAL *d = (REAL *)net->drop[l] + at;
        for (int64_t i = 0; i < n; i++) {
            d[i] = a[i] * mask[i];
        }
    }
}

// Layer l of the forward pass, from its input in the network's buffers.
static void FN(forward_layer)(fnn_net *net, int l, int batch,
                              fnn_dropout_mode dropout) {
    const fnn_net_options *o = &net->opt;
    const REAL *params = (const REAL *)net->params;
    int n_in = o->sizes[l];
    int n_out = o->sizes[l + 1];
    const REAL *w = params + net->w_off[l];
    const REAL *b = params + net->b_off[l];
    const REAL *in = FN(layer_input)(net, l);
    REAL *z = (REAL *)net->z[l];
    // z [batch, n_out] = in [batch, n_in] * W^T + b
    for (int i = 0; i < batch; i++) {
        memcpy(z + (int64_t)i * n_out, b, (size_t)n_out * sizeof(REAL));
    }
#if KERNELS
    if (net->packed_wt[l]) {
        fnn_sgemm_packed(0, batch, n_out, n_in, in, n_in, net->packed_wt[l],
                         1, z, n_out);
    } else {
        fnn_sgemm(0, 1, batch, n_out, n_in, in, n_in, w, n_in, 1, z, n_out,
                  net->gemm_pack);
    }
#else
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, batch, n_out, n_in, 1,
         in, n_in, w, n_in, 1, z, n_out);
#endif
    FN(layer_activate)(net, l, 0, (int64_t)batch * n_out, dropout);
}

static fnn_status FN(forward)(fnn_net *net, const REAL *x, int batch,
                              fnn_dropout_mode dropout, int normalized) {
    const fnn_net_options *o = &net->opt;
    if (net->norm_mean && !normalized) {
        FN(normalize_input)(net, x, batch);
        x = (const REAL *)net->x_norm;
    }
    net->input = x;
    int use_dropout = dropout != FNN_DROPOUT_OFF && o->keep_prob < 1.0;
    if (dropout == FNN_DROPOUT_FREEZE && !net->mask_valid) {
        return FNN_ERR_INVALID;
    }
    net->dropout_used = use_dropout;
    for (int l = 0; l < o->n_layers; l++) {
        FN(forward_layer)(net, l, batch, dropout);
    }
    if (use_dropout && dropout == FNN_DROPOUT_SAMPLE) {
        net->mask_valid = 1;
    }
    return FNN_OK;
}

// Softmax cross-entropy of one row of logits through log-sum-exp: with
// m = max z, log sum exp z = m + log sum exp(z - m), so no term overflows.
static double FN(softmax_row)(const REAL *z, int k, int label, REAL *dz,
                              double inv_m, int *argmax) {
    int best = 0;
    for (int c = 1; c < k; c++) {
        if (z[c] > z[best]) {
            best = c;
        }
    }
    double zmax = z[best];
    // sum of exp(z - m) over the other classes; the max contributes 1, and
    // log1p keeps log_sum's relative precision when the others are small.
    double rest = 0;
    for (int c = 0; c < k; c++) {
        rest += c == best ? 0 : exp((double)z[c] - zmax);
    }
    double log_sum = log1p(rest);
    double lse = zmax + log_sum;
    if (dz) {
        // dJ/dz = (softmax(z) - onehot(label)) / m
        for (int c = 0; c < k; c++) {
            double p = exp((double)z[c] - lse);
            dz[c] = (REAL)((p - (c == label)) * inv_m);
        }
    }
    *argmax = best;
    // log_sum + (zmax - z[label]) equals lse - z[label] but never subtracts
    // two large numbers: [1000, 999, -1000] gives 1 + log(1 + e^-1) exactly.
    return log_sum + (zmax - (double)z[label]);
}

// Binary cross-entropy from a logit: max(z, 0) - z y + log(1 + exp(-|z|)),
// finite for any z; its derivative is sigmoid(z) - y.
static double FN(bce_logit)(double z, double y, double *dz) {
    double loss = (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
    double s = z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
    *dz = s - y;
    return loss;
}

#ifdef FNN_TESTING
// Bugs planted by tests through fnn_testing_plant_bug, so the gradient check
// can be shown to fail. Compiled only into the fastnn_testing library.

// Corrupts dW and db of layer l right after backward computed them.
static void FN(testing_corrupt)(fnn_net *net, int l, int batch) {
    if (net->planted_layer != l && net->planted_layer != -1) {
        return;
    }
    const fnn_net_options *o = &net->opt;
    int n_out = o->sizes[l + 1];
    int64_t nw = (int64_t)n_out * o->sizes[l];
    const REAL *w = (const REAL *)net->params + net->w_off[l];
    REAL *dw = (REAL *)net->grads + net->w_off[l];
    REAL *db = (REAL *)net->grads + net->b_off[l];
    const REAL *dz = (const REAL *)net->dz;
    REAL l2_scale = (REAL)(o->l2 / batch);
    for (int64_t i = 0; i < nw; i++) {
        if (net->planted_bug == FNN_BUG_DW_SIGN) {
            dw[i] = -dw[i];
        } else if (net->planted_bug == FNN_BUG_L2_MISSING) {
            dw[i] -= l2_scale * w[i];
        } else if (net->planted_bug == FNN_BUG_L2_DOUBLED) {
            dw[i] += l2_scale * w[i];
        } else if (net->planted_bug == FNN_BUG_NO_INV_M) {
            dw[i] = (dw[i] - l2_scale * w[i]) * (REAL)batch + l2_scale * w[i];
        }
    }
    for (int j = 0; j < n_out; j++) {
        if (net->planted_bug == FNN_BUG_DB_NOT_SUMMED) {
            db[j] = dz[j];
        } else if (net->planted_bug == FNN_BUG_NO_INV_M) {
            db[j] *= (REAL)batch;
        }
    }
}

// Recomputes dz of hidden layer l with the leaky-ReLU slopes swapped.
static void FN(testing_corrupt_activation)(fnn_net *net, int l,
                                           const REAL *da, REAL *dz,
                                           int64_t n) {
    if (net->planted_bug != FNN_BUG_LEAKY_SIDE ||
        (net->planted_layer != l && net->planted_layer != -1) ||
        net->opt.activation != FNN_LEAKY_RELU) {
        return;
    }
    const REAL *z = (const REAL *)net->z[l];
    for (int64_t i = 0; i < n; i++) {
        dz[i] = z[i] > 0 ? (REAL)0.01 * da[i] : da[i];
    }
}

// Moves each softmax dz row to the next sample's label:
// dz_i += (onehot(y_i) - onehot(y_{i+1 mod m})) / m.
static void FN(testing_corrupt_loss)(fnn_net *net, const REAL *y, int batch,
                                     REAL *dz) {
    if (!dz || net->planted_bug != FNN_BUG_SOFTMAX_LABEL ||
        net->opt.loss != FNN_LOSS_SOFTMAX_CE) {
        return;
    }
    int k = net->opt.sizes[net->opt.n_layers];
    REAL inv_m = (REAL)(1.0 / batch);
    for (int i = 0; i < batch; i++) {
        REAL *row = dz + (int64_t)i * k;
        row[(int)y[i]] += inv_m;
        row[(int)y[(i + 1) % batch]] -= inv_m;
    }
}
#endif

static fnn_status FN(loss)(fnn_net *net, const REAL *y, int batch,
                           double *loss_sum, int64_t *correct, int write_dz) {
    const fnn_net_options *o = &net->opt;
    int k = o->sizes[o->n_layers];
    const REAL *z = (const REAL *)net->act[o->n_layers - 1];
    REAL *dz = write_dz ? (REAL *)net->dz : NULL;
    double inv_m = 1.0 / (net->cost_rows ? net->cost_rows : batch);
    double total = 0;
    int64_t hits = 0;
    for (int i = 0; i < batch; i++) {
        const REAL *zi = z + (int64_t)i * k;
        REAL *dzi = dz ? dz + (int64_t)i * k : NULL;
        if (o->loss == FNN_LOSS_SOFTMAX_CE) {
            double label = y[i];
            if (!(label >= 0 && label < k) || label != (int)label) {
                return FNN_ERR_INVALID;
            }
            int pred;
            total += FN(softmax_row)(zi, k, (int)label, dzi, inv_m, &pred);
            hits += pred == (int)label;
            continue;
        }
        const REAL *yi = y + (int64_t)i * k;
        int all_right = 1;
        for (int c = 0; c < k; c++) {
            double d;
            if (o->loss == FNN_LOSS_SIGMOID_BCE) {
                total += FN(bce_logit)(zi[c], yi[c], &d);
                all_right &= (zi[c] > 0) == (yi[c] > 0.5);
            } else {
                // 0.5 (z - y)^2, derivative z - y
                d = (double)zi[c] - yi[c];
                total += 0.5 * d * d;
            }
            if (dzi) {
                dzi[c] = (REAL)(d * inv_m);
            }
        }
        hits += all_right;
    }
#ifdef FNN_TESTING
    FN(testing_corrupt_loss)(net, y, batch, dz);
#endif
    *loss_sum += total;
    if (correct && o->loss != FNN_LOSS_MSE) {
        *correct += hits;
    }
    return isfinite(total) ? FNN_OK : FNN_ERR_NONFINITE;
}

static void FN(backward)(fnn_net *net, int batch) {
    const fnn_net_options *o = &net->opt;
    REAL *params = (REAL *)net->params;
    REAL *grads = (REAL *)net->grads;
    REAL *dz = (REAL *)net->dz;
    REAL *da = (REAL *)net->da;
    REAL l2_scale = (REAL)(o->l2 / (net->cost_rows ? net->cost_rows : batch));
    for (int l = o->n_layers - 1; l >= 0; l--) {
        int n_in = o->sizes[l];
        int n_out = o->sizes[l + 1];
        const REAL *w = params + net->w_off[l];
        REAL *dw = grads + net->w_off[l];
        REAL *db = grads + net->b_off[l];
        const REAL *in = FN(layer_input)(net, l);
        // dW [n_out, n_in] = dz^T [n_out, batch] * in [batch, n_in]
        //                    + (lambda/m) W
        int64_t nw = (int64_t)n_out * n_in;
        if (o->l2 > 0) {
            for (int64_t i = 0; i < nw; i++) {
                dw[i] = l2_scale * w[i];
            }
        }
#if KERNELS
        fnn_sgemm(1, 0, n_out, n_in, batch, dz, n_out, in, n_in,
                  o->l2 > 0 ? 1 : 0, dw, n_in, NULL);
#else
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, batch, 1,
             dz, n_out, in, n_in, o->l2 > 0 ? 1 : 0, dw, n_in);
#endif
        // db = sum of dz over the batch, in row order
#if KERNELS
        fnn_col_sum_f32(dz, batch, n_out, db);
#else
        for (int j = 0; j < n_out; j++) {
            db[j] = 0;
        }
        for (int i = 0; i < batch; i++) {
            const REAL *row = dz + (int64_t)i * n_out;
            for (int j = 0; j < n_out; j++) {
                db[j] += row[j];
            }
        }
#endif
#ifdef FNN_TESTING
        FN(testing_corrupt)(net, l, batch);
#endif
        if (l == 0) {
            break;
        }
        // da [batch, n_in] = dz [batch, n_out] * W [n_out, n_in]
#if KERNELS
        fnn_sgemm(0, 0, batch, n_in, n_out, dz, n_out, w, n_in, 0, da, n_in,
                  NULL);
#else
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, n_in, n_out, 1,
             dz, n_out, w, n_in, 0, da, n_in);
#endif
        int64_t n = (int64_t)batch * n_in;
        if (net->dropout_used) {
            const REAL *mask = (const REAL *)net->mask[l - 1];
            for (int64_t i = 0; i < n; i++) {
                da[i] *= mask[i];
            }
        }
        FN(activate_backward)(o->activation, (const REAL *)net->z[l - 1],
                              (const REAL *)net->act[l - 1], da, dz, n);
#ifdef FNN_TESTING
        FN(testing_corrupt_activation)(net, l - 1, da, dz, n);
#endif
    }
}

static double FN(l2_term)(const fnn_net *net, int batch) {
    const fnn_net_options *o = &net->opt;
    if (o->l2 == 0) {
        return 0;
    }
    const REAL *params = (const REAL *)net->params;
    double sum = 0;
    for (int l = 0; l < o->n_layers; l++) {
        const REAL *w = params + net->w_off[l];
        int64_t nw = (int64_t)o->sizes[l] * o->sizes[l + 1];
        for (int64_t i = 0; i < nw; i++) {
            sum += (double)w[i] * w[i];
        }
    }
    return o->l2 / (2.0 * batch) * sum;
}

static int FN(first_nonfinite)(const fnn_net *net, int batch) {
    const fnn_net_options *o = &net->opt;
    for (int l = 0; l < o->n_layers; l++) {
        int64_t n = (int64_t)batch * o->sizes[l + 1];
        const REAL *z = (const REAL *)net->z[l];
        const REAL *a = (const REAL *)net->act[l];
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(z[i]) || !isfinite(a[i])) {
                return l;
            }
        }
    }
    return -1;
}

// Output probabilities (softmax, sigmoid) or values (MSE) of the last pass.
static void FN(output)(const fnn_net *net, int batch, REAL *out) {
    const fnn_net_options *o = &net->opt;
    int k = o->sizes[o->n_layers];
    const REAL *z = (const REAL *)net->act[o->n_layers - 1];
    for (int i = 0; i < batch; i++) {
        const REAL *zi = z + (int64_t)i * k;
        REAL *oi = out + (int64_t)i * k;
        if (o->loss == FNN_LOSS_SOFTMAX_CE) {
            double zmax = zi[0];
            for (int c = 1; c < k; c++) {
                zmax = zi[c] > zmax ? zi[c] : zmax;
            }
            double sum = 0;
            for (int c = 0; c < k; c++) {
                sum += exp((double)zi[c] - zmax);
            }
            for (int c = 0; c < k; c++) {
                oi[c] = (REAL)(exp((double)zi[c] - zmax) / sum);
            }
        } else if (o->loss == FNN_LOSS_SIGMOID_BCE) {
            for (int c = 0; c < k; c++) {
                oi[c] = (REAL)(1.0 / (1.0 + exp(-(double)zi[c])));
            }
        } else {
            memcpy(oi, zi, (size_t)k * sizeof(REAL));
        }
    }
}

#undef FN
#undef CAT
#undef CAT_
