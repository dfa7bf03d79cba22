// Incremental evaluation of cost differences for the gradient check.
//
// Perturbing W[l][i, j] changes only column i of z[l] (by h x[:, j]), then
// only column i of layer l's activation, then z[l+1] by a rank-1 term, and
// nothing before layer l. So a coordinate costs O(batch_size * width)
// instead of a forward pass. tests/test_gradcheck.c shows that
// J(theta) + the difference equals fnn_net_cost on the perturbed parameters
// for every activation and output head.
#include "gradcheck_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

struct gc_delta {
    const fnn_net *net;
    int batch;
    int n_layers;
    int k; // outputs
    int max_width;
    const double *y;
    const double *in[FNN_MAX_LAYERS];   // input of layer l [batch, sizes[l]]
    const double *z[FNN_MAX_LAYERS];    // [batch, sizes[l+1]]
    const double *a[FNN_MAX_LAYERS];    // g(z) before dropout
    const double *mask[FNN_MAX_LAYERS]; // NULL when dropout is off
    // Per output of the base pass: softmax probabilities, sigmoid(z) for
    // BCE, residuals z - y for MSE. [batch, k]
    double *head;
    double l2_half_m; // lambda / 2m
    int *rows;        // indices of the rows that changed [batch]
    double *col;      // [batch]
    double *d1;       // [batch, max_width] work
    double *d2;       // [batch, max_width] work
    double *wcol;     // column i of W[l+1] [sizes[l+2]]
    int wcol_layer;
    int64_t wcol_index;
};

// expm1 and log1p by their Taylor series for small arguments, where four
// terms are exact to double precision (the next term is below 1e-20
// relative), and by libm otherwise.
static inline double small_expm1(double x) {
    if (fabs(x) < 1e-5) {
        return x * (1 + x * (0.5 + x * (1.0 / 6 + x * (1.0 / 24))));
    }
    return expm1(x);
}

static inline double small_log1p(double v) {
    if (fabs(v) < 1e-5) {
        return v * (1 - v * (0.5 - v * (1.0 / 3 - v * 0.25)));
    }
    return log1p(v);
}

static double sigmoid(double z) {
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

// g(z + dz) - g(z), with a = g(z) from the forward pass.
static double activation_delta(fnn_activation g, double z, double dz,
                               double a, int *kink) {
    double zn = z + dz;
    switch (g) {
    case FNN_RELU:
    case FNN_LEAKY_RELU: {
        double slope = g == FNN_RELU ? 0 : 0.01;
        if ((z > 0) != (zn > 0)) {
            *kink = 1;
            return (zn > 0 ? zn : slope * zn) - (z > 0 ? z : slope * z);
        }
        return z > 0 ? dz : slope * dz;
    }
    case FNN_TANH: {
        // tanh(z + d) - tanh(z) = u (1 - t^2) / (1 + t u), t = tanh z,
        // u = tanh d, from the addition formula.
        double u = tanh(dz);
        return u * (1 - a) * (1 + a) / (1 + a * u);
    }
    case FNN_SIGMOID:
        // s(z + d) - s(z) = -expm1(-d) s(z + d) (1 - s(z)), and
        // 1 - s(z) = s(-z) keeps its precision when s(z) is near 1.
        return -small_expm1(-dz) * sigmoid(zn) * sigmoid(-z);
    case FNN_IDENTITY:
        return dz;
    }
    return dz;
}

// Loss difference of row s when its outputs change by dl [k].
static double head_delta_row(const gc_delta *d, int s, const double *dl) {
    const double *h = d->head + (int64_t)s * d->k;
    fnn_loss loss = d->net->opt.loss;
    if (loss == FNN_LOSS_SOFTMAX_CE) {
        // lse(z + dl) - lse(z) = log1p(sum_c p_c expm1(dl_c))
        double v = 0;
        for (int c = 0; c < d->k; c++) {
            v += h[c] * small_expm1(dl[c]);
        }
        return small_log1p(v) - dl[(int)d->y[s]];
    }
    const double *y = d->y + (int64_t)s * d->k;
    double sum = 0;
    for (int c = 0; c < d->k; c++) {
        if (loss == FNN_LOSS_SIGMOID_BCE) {
            // softplus(z + d) - softplus(z) = log1p(s(z) expm1(d))
            sum += small_log1p(h[c] * small_expm1(dl[c])) - dl[c] * y[c];
        } else {
            // 0.5 (r + d)^2 - 0.5 r^2 = d (r + d / 2)
            sum += dl[c] * (h[c] + 0.5 * dl[c]);
        }
    }
    return sum;
}

// Loss difference of row s when only output c changes, by dv.
static double head_delta_one(const gc_delta *d, int s, int c, double dv) {
    double h = d->head[(int64_t)s * d->k + c];
    fnn_loss loss = d->net->opt.loss;
    if (loss == FNN_LOSS_SOFTMAX_CE) {
        return small_log1p(h * small_expm1(dv)) - (c == (int)d->y[s]) * dv;
    }
    if (loss == FNN_LOSS_SIGMOID_BCE) {
        double y = d->y[(int64_t)s * d->k + c];
        return small_log1p(h * small_expm1(dv)) - dv * y;
    }
    return dv * (h + 0.5 * dv);
}

static void fill_head(gc_delta *d) {
    const fnn_net_options *o = &d->net->opt;
    const double *z = d->a[o->n_layers - 1];
    int k = d->k;
    for (int s = 0; s < d->batch; s++) {
        const double *zs = z + (int64_t)s * k;
        double *hs = d->head + (int64_t)s * k;
        if (o->loss == FNN_LOSS_SOFTMAX_CE) {
            double zmax = zs[0];
            for (int c = 1; c < k; c++) {
                zmax = zs[c] > zmax ? zs[c] : zmax;
            }
            double sum = 0;
            for (int c = 0; c < k; c++) {
                sum += exp(zs[c] - zmax);
            }
            double lse = zmax + log(sum);
            for (int c = 0; c < k; c++) {
                hs[c] = exp(zs[c] - lse);
            }
        } else {
            for (int c = 0; c < k; c++) {
                double y = d->y[(int64_t)s * k + c];
                hs[c] = o->loss == FNN_LOSS_SIGMOID_BCE ? sigmoid(zs[c])
                                                        : zs[c] - y;
            }
        }
    }
}

gc_delta *gc_delta_create(fnn_net *net, const double *y, int batch_size,
                          fnn_status *status) {
    const fnn_net_options *o = &net->opt;
    FNN_ASSERT(o->dtype == FNN_F64 && batch_size <= net->ws_batch);
    gc_delta *d = calloc(1, sizeof *d);
    if (!d) {
        fnn_set_status(status, FNN_ERR_NOMEM);
        return NULL;
    }
    d->net = net;
    d->batch = batch_size;
    d->n_layers = o->n_layers;
    d->k = o->sizes[o->n_layers];
    d->max_width = net->max_width;
    d->y = y;
    d->l2_half_m = o->l2 / (2.0 * batch_size);
    d->wcol_layer = -1;
    for (int l = 0; l < o->n_layers; l++) {
        d->z[l] = net->z[l];
        d->a[l] = net->act[l];
        d->mask[l] = net->dropout_used ? net->mask[l] : NULL;
        d->in[l] = l == 0 ? net->input
                          : (net->dropout_used ? net->drop[l - 1]
                                               : net->act[l - 1]);
    }
    size_t rows = (size_t)batch_size;
    size_t wide = rows * (size_t)d->max_width * sizeof(double);
    d->head = malloc(rows * (size_t)d->k * sizeof(double));
    d->rows = malloc(rows * sizeof(int));
    d->col = malloc(rows * sizeof(double));
    d->d1 = malloc(wide);
    d->d2 = malloc(wide);
    d->wcol = malloc((size_t)d->max_width * sizeof(double));
    if (!d->head || !d->rows || !d->col || !d->d1 || !d->d2 || !d->wcol) {
        gc_delta_free(d);
        fnn_set_status(status, FNN_ERR_NOMEM);
        return NULL;
    }
    fill_head(d);
    fnn_set_status(status, FNN_OK);
    return d;
}

void gc_delta_free(gc_delta *d) {
    if (!d) {
        return;
    }
    free(d->head);
    free(d->rows);
    free(d->col);
    free(d->d1);
    free(d->d2);
    free(d->wcol);
    free(d);
}

// Propagates dz [nr, sizes[m+1]] of the rows d->rows[0..nr) from layer m
// to the loss; returns the summed loss difference. dz is d->d1.
static double propagate(gc_delta *d, int m, int nr, int *kink) {
    const fnn_net_options *o = &d->net->opt;
    const double *params = d->net->params;
    double *dz = d->d1;
    double *da = d->d2;
    for (; m < d->n_layers - 1; m++) {
        int n = o->sizes[m + 1];
        int n_next = o->sizes[m + 2];
        for (int r = 0; r < nr; r++) {
            int64_t base = (int64_t)d->rows[r] * n;
            for (int c = 0; c < n; c++) {
                double v = activation_delta(o->activation, d->z[m][base + c],
                                            dz[(int64_t)r * n + c],
                                            d->a[m][base + c], kink);
                da[(int64_t)r * n + c] = d->mask[m] ? v * d->mask[m][base + c]
                                                    : v;
            }
        }
        // dz' [nr, n_next] = da [nr, n] W[m+1]^T
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, n_next, n,
                    1, da, n, params + d->net->w_off[m + 1], n, 0, dz,
                    n_next);
    }
    double sum = 0;
    for (int r = 0; r < nr; r++) {
        sum += head_delta_row(d, d->rows[r], dz + (int64_t)r * d->k);
    }
    return sum;
}

// Loads column i of W[l] [n_out, n_in] into d->wcol, once per (l, i).
static const double *weight_column(gc_delta *d, int l, int64_t i) {
    if (d->wcol_layer != l || d->wcol_index != i) {
        const fnn_net_options *o = &d->net->opt;
        const double *w = (const double *)d->net->params + d->net->w_off[l];
        int n_in = o->sizes[l];
        for (int c = 0; c < o->sizes[l + 1]; c++) {
            d->wcol[c] = w[(int64_t)c * n_in + i];
        }
        d->wcol_layer = l;
        d->wcol_index = i;
    }
    return d->wcol;
}

// Loss difference when column i of z[l] changes by d->col [batch].
static double column_delta(gc_delta *d, int l, int64_t i, int *kink) {
    const fnn_net_options *o = &d->net->opt;
    int n = o->sizes[l + 1];
    double sum = 0;
    if (l == d->n_layers - 1) {
        for (int s = 0; s < d->batch; s++) {
            if (d->col[s] != 0) {
                sum += head_delta_one(d, s, (int)i, d->col[s]);
            }
        }
        return sum;
    }
    // Column i of the activation, then a rank-1 change of z[l+1].
    int nr = 0;
    for (int s = 0; s < d->batch; s++) {
        int64_t at = (int64_t)s * n + i;
        double v = activation_delta(o->activation, d->z[l][at], d->col[s],
                                    d->a[l][at], kink);
        v = d->mask[l] ? v * d->mask[l][at] : v;
        if (v != 0) {
            d->rows[nr] = s;
            d->col[nr++] = v;
        }
    }
    const double *w = weight_column(d, l + 1, i);
    int n_next = o->sizes[l + 2];
    for (int r = 0; r < nr; r++) {
        double *row = d->d1 + (int64_t)r * n_next;
        for (int c = 0; c < n_next; c++) {
            row[c] = d->col[r] * w[c];
        }
    }
    return propagate(d, l + 1, nr, kink);
}

double gc_delta_coord(gc_delta *d, int64_t k, double h, int *kink) {
    const fnn_net *net = d->net;
    const fnn_net_options *o = &net->opt;
    int l = 0;
    while (l + 1 < o->n_layers && k >= net->w_off[l + 1]) {
        l++;
    }
    int n_in = o->sizes[l];
    double dl2 = 0;
    if (k < net->b_off[l]) {
        int64_t at = k - net->w_off[l];
        int64_t i = at / n_in;
        int64_t j = at % n_in;
        for (int s = 0; s < d->batch; s++) {
            d->col[s] = h * d->in[l][(int64_t)s * n_in + j];
        }
        // (lambda/2m) ((w + h)^2 - w^2) = (lambda/2m) h (2w + h)
        double w = ((const double *)net->params)[k];
        dl2 = d->l2_half_m * h * (2 * w + h);
        return column_delta(d, l, i, kink) / d->batch + dl2;
    }
    for (int s = 0; s < d->batch; s++) {
        d->col[s] = h;
    }
    return column_delta(d, l, k - net->b_off[l], kink) / d->batch;
}

double gc_delta_direction(gc_delta *d, const double *u, double h,
                          int *kink) {
    const fnn_net *net = d->net;
    const fnn_net_options *o = &net->opt;
    const double *params = net->params;
    int m = d->batch;
    double dl2 = 0;
    for (int s = 0; s < m; s++) {
        d->rows[s] = s;
    }
    for (int l = 0; l < o->n_layers; l++) {
        int n_in = o->sizes[l];
        int n_out = o->sizes[l + 1];
        const double *w = params + net->w_off[l];
        const double *uw = u + net->w_off[l];
        const double *ub = u + net->b_off[l];
        double *dz = d->d1;
        // dz = h ub + h in uW^T + din (W + h uW)^T, where din [m, n_in] is
        // the change of the layer's input (in d->d2, zero for layer 0).
        for (int s = 0; s < m; s++) {
            for (int c = 0; c < n_out; c++) {
                dz[(int64_t)s * n_out + c] = h * ub[c];
            }
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n_out, n_in,
                    h, d->in[l], n_in, uw, n_in, 1, dz, n_out);
        if (l > 0) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n_out,
                        n_in, 1, d->d2, n_in, w, n_in, 1, dz, n_out);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n_out,
                        n_in, h, d->d2, n_in, uw, n_in, 1, dz, n_out);
        }
        int64_t nw = (int64_t)n_out * n_in;
        for (int64_t i = 0; i < nw; i++) {
            dl2 += h * uw[i] * (2 * w[i] + h * uw[i]);
        }
        if (l == o->n_layers - 1) {
            break;
        }
        int64_t n = (int64_t)m * n_out;
        for (int64_t i = 0; i < n; i++) {
            double v = activation_delta(o->activation, d->z[l][i], dz[i],
                                        d->a[l][i], kink);
            d->d2[i] = d->mask[l] ? v * d->mask[l][i] : v;
        }
    }
    double sum = 0;
    for (int s = 0; s < m; s++) {
        sum += head_delta_row(d, s, d->d1 + (int64_t)s * d->k);
    }
    return sum / m + d->l2_half_m * dl2;
}
