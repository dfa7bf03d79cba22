// Gradient check of a fastnn network: a float64 copy, the base forward
// pass, and the cost evaluators. Every J is computed by the training code
// of layers_impl.h compiled for double; there is no second forward pass.
//
// Perturbing W[l][i, j] by h leaves every layer before l unchanged and
// moves only column i of z[l], by h in[:, j] (a bias b[l][i]: by h in every
// row). The default evaluator writes that column from a saved copy of the
// base pass and recomputes its activation with the layer code. It then
// reruns the later layers with fnn_net_forward_from on the rows whose input
// changed, and takes each changed row's loss with fnn_net_row_loss. The
// reference evaluator (options.reference) calls fnn_net_cost on the
// perturbed parameters for every J.
#include "gradcheck_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

// Seeds the dropout mask of the check apart from the other streams.
#define GRADCHECK_MASK_STREAM 0x6772616463686bULL

// Perturbations of one column evaluated in one pass, at most GROUPS, and
// at most STACKED_ROWS rows in all for a large batch.
#define GROUPS 16
#define STACKED_ROWS 1024

typedef struct net_ctx {
    fnn_net *net; // the float64 copy, work buffers for groups * batch rows
    const double *x;
    const double *y;
    int batch;
    int groups;               // perturbations per pass
    int64_t y_cols;           // labels per row
    fnn_dropout_mode dropout; // OFF, or FREEZE after one SAMPLE
    int reference;
    double j0;     // J(theta) of the base pass
    double l2_0;   // its L2 term
    double *row0;  // [batch] loss of each row in the base pass
    double *saved; // [n_params] base parameters
    // Copies of the base pass per layer, each [batch, sizes[l+1]]: z, g(z),
    // and for a hidden layer with dropout its output and mask (else NULL).
    double *z0[FNN_MAX_LAYERS];
    double *a0[FNN_MAX_LAYERS];
    double *d0[FNN_MAX_LAYERS];
    double *m0[FNN_MAX_LAYERS];
    // A pass on the rows whose input to the next layer changed: their
    // input rows [groups * batch, max_width], and per row its perturbation
    // and its row of the batch.
    double *rows_in;
    int *row_group;
    int *row_of;
    int kinks; // hidden activation is ReLU or leaky ReLU
} net_ctx;

static int64_t layer_values(const net_ctx *c, int l) {
    return (int64_t)c->batch * c->net->opt.sizes[l + 1];
}

// J - J(theta) by fnn_net_cost on the parameters as they are.
static fnn_status cost_eval(net_ctx *c, double *dj, int *kink) {
    fnn_net *net = c->net;
    double j;
    fnn_status s = fnn_net_cost(net, c->x, c->y, c->batch, c->dropout, 0, &j);
    if (s != FNN_OK && s != FNN_ERR_NONFINITE) {
        return s;
    }
    *dj = s == FNN_OK ? j - c->j0 : NAN;
    for (int l = 0; c->kinks && l < net->opt.n_layers - 1; l++) {
        const double *z = net->z[l];
        for (int64_t at = 0; at < layer_values(c, l); at++) {
            *kink |= (z[at] > 0) != (c->z0[l][at] > 0);
        }
    }
    return FNN_OK;
}

// Where parameter k acts: layer *l, column *i of z[l], and for a weight
// the input column *j (-1 for a bias).
static void locate(const fnn_net *net, int64_t k, int *l, int64_t *i,
                   int64_t *j) {
    *l = 0;
    while (*l + 1 < net->opt.n_layers && k >= net->w_off[*l + 1]) {
        (*l)++;
    }
    int n_in = net->opt.sizes[*l];
    if (k < net->b_off[*l]) {
        *i = (k - net->w_off[*l]) / n_in;
        *j = (k - net->w_off[*l]) % n_in;
    } else {
        *i = k - net->b_off[*l];
        *j = -1;
    }
}

// The change of the L2 term (lambda/2m) sum ||W||^2 when parameter k moves
// by step: (lambda/2m) ((w + step)^2 - w^2) for a weight, 0 for a bias. The
// closed form, since recomputing fnn_net_l2_term would cost O(parameters)
// per evaluation and differ from it only by rounding.
static double l2_change(const net_ctx *c, int64_t k, double step) {
    int l;
    int64_t i;
    int64_t j;
    locate(c->net, k, &l, &i, &j);
    double w = ((const double *)c->net->params)[k];
    return j >= 0 ? c->net->opt.l2 / (2.0 * c->batch) * step * (2 * w + step)
                  : 0;
}

// Writes column i of z[l] for perturbation g into rows g*m.. of the work
// buffers: the base value plus step * in[:, j] (plus step for a bias), and
// the base dropout mask of that column.
static void patch(net_ctx *c, int g, int64_t k, double step) {
    fnn_net *net = c->net;
    int l;
    int64_t i;
    int64_t j;
    locate(net, k, &l, &i, &j);
    int n_in = net->opt.sizes[l];
    int n_out = net->opt.sizes[l + 1];
    const double *in = net->input;
    if (l > 0) {
        in = c->d0[l - 1] ? c->d0[l - 1] : c->a0[l - 1];
    }
    double *z = (double *)net->z[l] + g * layer_values(c, l);
    double *mask = c->m0[l] ? (double *)net->mask[l] + g * layer_values(c, l)
                            : NULL;
    for (int s = 0; s < c->batch; s++) {
        int64_t at = (int64_t)s * n_out + i;
        double dz = j >= 0 ? step * in[(int64_t)s * n_in + j] : step;
        z[at] = c->z0[l][at] + dz;
        if (mask) {
            mask[at] = c->m0[l][at];
        }
    }
}

// Gathers, for the n perturbations of column i of hidden layer l, the rows
// whose input to layer l + 1 changed: the base row with the new column i,
// and with dropout the base masks of the later layers. Returns how many.
static int gather_rows(net_ctx *c, int n, int l, int64_t i) {
    fnn_net *net = c->net;
    int n_out = net->opt.sizes[l + 1];
    const double *base = c->d0[l] ? c->d0[l] : c->a0[l];
    const double *next = c->d0[l] ? net->drop[l] : net->act[l];
    int rows = 0;
    for (int g = 0; g < n; g++) {
        for (int s = 0; s < c->batch; s++) {
            int64_t at = (int64_t)s * n_out + i;
            double v = next[g * layer_values(c, l) + at];
            if (memcmp(&v, &base[at], sizeof v) == 0) {
                continue;
            }
            double *row = c->rows_in + (int64_t)rows * n_out;
            memcpy(row, base + (int64_t)s * n_out, n_out * sizeof *row);
            row[i] = v;
            c->row_group[rows] = g;
            c->row_of[rows++] = s;
        }
    }
    for (int m = l + 1; c->m0[m]; m++) {
        int w = net->opt.sizes[m + 1];
        for (int r = 0; r < rows; r++) {
            memcpy((double *)net->mask[m] + (int64_t)r * w,
                   c->m0[m] + (int64_t)c->row_of[r] * w, w * sizeof(double));
        }
    }
    return rows;
}

// Adds, for each of the `rows` rows of the output buffer, its loss minus
// the base loss of its row of the batch to sum[its perturbation]. Row by
// row, so that a row whose output kept every bit adds exactly 0 and the
// others add a difference of two nearby row losses: one loss summed over
// the batch would round at ulp(sum of m losses), which divided by 2 epsilon
// is about 1e-8 on 32 rows.
static fnn_status loss_change(net_ctx *c, int rows, double *sum) {
    fnn_net *net = c->net;
    int last = net->opt.n_layers - 1;
    int k = net->opt.sizes[last + 1];
    const double *out = net->act[last];
    for (int r = 0; r < rows; r++) {
        int s = c->row_of[r];
        const double *base = c->a0[last] + (int64_t)s * k;
        if (memcmp(out + (int64_t)r * k, base, k * sizeof *out) == 0) {
            continue;
        }
        double loss;
        fnn_status st = fnn_net_row_loss(net, r, c->y + s * c->y_cols, &loss);
        if (st != FNN_OK && st != FNN_ERR_NONFINITE) {
            return st;
        }
        sum[c->row_group[r]] += st == FNN_OK ? loss - c->row0[s] : NAN;
    }
    return FNN_OK;
}

// Sets kink[g] when perturbation g moved a hidden pre-activation across 0:
// in column i of layer l, or in a later hidden layer of the gathered rows.
static void find_kinks(net_ctx *c, int n, int l, int64_t i, int rows,
                       int *kink) {
    const fnn_net *net = c->net;
    int hidden = net->opt.n_layers - 1;
    if (!c->kinks || l >= hidden) {
        return;
    }
    int n_out = net->opt.sizes[l + 1];
    for (int g = 0; g < n; g++) {
        const double *z = (const double *)net->z[l] + g * layer_values(c, l);
        for (int64_t at = i; at < layer_values(c, l); at += n_out) {
            kink[g] |= (z[at] > 0) != (c->z0[l][at] > 0);
        }
    }
    for (int m = l + 1; m < hidden; m++) {
        int w = net->opt.sizes[m + 1];
        const double *z = net->z[m];
        for (int64_t at = 0; at < (int64_t)rows * w; at++) {
            const double *z0 = c->z0[m] + (int64_t)c->row_of[at / w] * w;
            kink[c->row_group[at / w]] |= (z[at] > 0) != (z0[at % w] > 0);
        }
    }
}

// J(theta + step[g] e_k[g]) - J(theta) into dj[g] for n <= c->groups
// parameters that all act on column i of z[l]. Each writes its copy of that
// column; the layer code recomputes its activation; the later layers run
// once, by the training code, on the rows whose input changed; the loss of
// each changed row is compared with its base loss.
static fnn_status patched_group(net_ctx *c, int n, const int64_t *k,
                                const double *step, double *dj, int *kink) {
    fnn_net *net = c->net;
    int last = net->opt.n_layers - 1;
    int l;
    int64_t i;
    int64_t j;
    locate(net, k[0], &l, &i, &j);
    for (int g = 0; g < n; g++) {
        patch(c, g, k[g], step[g]);
        if (l == last) {
            // The loss reads whole output rows: the base ones, but column i.
            memcpy((double *)net->act[l] + g * layer_values(c, l), c->a0[l],
                   (size_t)layer_values(c, l) * sizeof(double));
        }
    }
    fnn_net_activate_column(net, l, (int)i, n * c->batch);
    int rows = n * c->batch;
    if (l < last) {
        rows = gather_rows(c, n, l, i);
        // The next layer reads its input from the gathered rows.
        void **next = c->d0[l] ? &net->drop[l] : &net->act[l];
        void *own = *next;
        *next = c->rows_in;
        if (rows > 0) {
            fnn_net_forward_from(net, l, rows);
        }
        *next = own;
    } else {
        for (int r = 0; r < rows; r++) {
            c->row_group[r] = r / c->batch;
            c->row_of[r] = r % c->batch;
        }
    }
    double sum[GROUPS] = {0};
    fnn_status s = loss_change(c, rows, sum);
    find_kinks(c, n, l, i, rows, kink);
    for (int g = 0; g < n; g++) {
        dj[g] = sum[g] / c->batch + l2_change(c, k[g], step[g]);
    }
    return s;
}

// Returns how many of the n parameters from k[0] on act on the same column
// of z as k[0], at most `groups`.
static int same_column(const fnn_net *net, int groups, int n,
                       const int64_t *k) {
    int l0;
    int64_t i0;
    int64_t j;
    locate(net, k[0], &l0, &i0, &j);
    int count = 1;
    while (count < n && count < groups) {
        int l;
        int64_t i;
        locate(net, k[count], &l, &i, &j);
        if (l != l0 || i != i0) {
            break;
        }
        count++;
    }
    return count;
}

static fnn_status net_coords(void *ctx, int n, const int64_t *k,
                             const double *h, double *dj, double *step,
                             int *kink) {
    net_ctx *c = ctx;
    double *p = c->net->params;
    for (int e = 0; e < n; e++) {
        step[e] = (p[k[e]] + h[e]) - p[k[e]]; // fl(theta_k + h) - theta_k
    }
    fnn_status s = FNN_OK;
    for (int e = 0; s == FNN_OK && e < n;) {
        if (c->reference) {
            double saved = p[k[e]];
            p[k[e]] = saved + h[e];
            s = cost_eval(c, &dj[e], &kink[e]);
            p[k[e]] = saved; // restores the exact bits
            e++;
            continue;
        }
        int count = same_column(c->net, c->groups, n - e, k + e);
        s = patched_group(c, count, k + e, step + e, dj + e, kink + e);
        e += count;
    }
    return s;
}

// J - J(theta) for parameters that all moved: the training code's forward
// pass, the change of each row's loss (as in loss_change) and of
// fnn_net_l2_term.
static fnn_status rows_eval(net_ctx *c, double *dj, int *kink) {
    fnn_net *net = c->net;
    fnn_status s = fnn_net_forward(net, c->x, c->batch, c->dropout, 0);
    if (s != FNN_OK) {
        return s;
    }
    for (int r = 0; r < c->batch; r++) {
        c->row_group[r] = 0;
        c->row_of[r] = r;
    }
    double sum = 0;
    s = loss_change(c, c->batch, &sum);
    *dj = sum / c->batch + (fnn_net_l2_term(net, c->batch) - c->l2_0);
    for (int l = 0; c->kinks && l < net->opt.n_layers - 1; l++) {
        const double *z = net->z[l];
        for (int64_t at = 0; at < layer_values(c, l); at++) {
            *kink |= (z[at] > 0) != (c->z0[l][at] > 0);
        }
    }
    return s;
}

static fnn_status net_direction(void *ctx, const double *u, double h,
                                double *dj, int *kink) {
    net_ctx *c = ctx;
    double *p = c->net->params;
    int64_t n = c->net->n_params;
    for (int64_t i = 0; i < n; i++) {
        p[i] = c->saved[i] + h * u[i];
    }
    fnn_status s = c->reference ? cost_eval(c, dj, kink)
                                : rows_eval(c, dj, kink);
    memcpy(p, c->saved, (size_t)n * sizeof *p);
    return s;
}

static void net_blocks(const fnn_net *net, fnn_gradcheck_report *r) {
    const fnn_net_options *o = &net->opt;
    for (int l = 0; l < o->n_layers; l++) {
        fnn_gradcheck_block *w = &r->blocks[2 * l];
        fnn_gradcheck_block *b = &r->blocks[2 * l + 1];
        snprintf(w->name, sizeof w->name, "layers.%d.weight", l);
        snprintf(b->name, sizeof b->name, "layers.%d.bias", l);
        w->layer = b->layer = l;
        w->offset = net->w_off[l];
        w->rows = b->rows = o->sizes[l + 1];
        w->cols = o->sizes[l];
        b->offset = net->b_off[l];
        b->cols = 1;
    }
}

// Copies n values of x (float or double) into a new double array.
static double *to_double(const void *x, int64_t n, fnn_dtype dtype) {
    double *out = malloc((size_t)n * sizeof *out);
    if (!out) {
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        out[i] = dtype == FNN_F64 ? ((const double *)x)[i]
                                  : (double)((const float *)x)[i];
    }
    return out;
}

// Makes the float64 copy, converts the batch and runs the base pass.
static fnn_status net_setup(net_ctx *c, const fnn_net *net, const void *x,
                            const void *y, const fnn_gradcheck_options *o,
                            fnn_error *err) {
    const fnn_net_options *no = &net->opt;
    fnn_status s;
    c->net = fnn_net_clone(net, FNN_F64, &s);
    if (!c->net) {
        return fnn_fail(err, s, "cannot copy the network to float64: %s",
                        fnn_status_str(s));
    }
#ifdef FNN_TESTING
    c->net->planted_bug = net->planted_bug;
    c->net->planted_layer = net->planted_layer;
#endif
    int k = no->sizes[no->n_layers];
    c->y_cols = no->loss == FNN_LOSS_SOFTMAX_CE ? 1 : k;
    c->x = to_double(x, (int64_t)c->batch * no->sizes[0], no->dtype);
    c->y = to_double(y, (int64_t)c->batch * c->y_cols, no->dtype);
    c->groups = o->reference ? 1 : STACKED_ROWS / c->batch;
    if (c->groups < 1) {
        c->groups = 1;
    } else if (c->groups > GROUPS) {
        c->groups = GROUPS;
    }
    if (!c->x || !c->y ||
        fnn_net_reserve(c->net, c->groups * c->batch) != FNN_OK) {
        return fnn_fail(err, FNN_ERR_NOMEM, "out of memory for the batch");
    }
    fnn_dropout_mode first = FNN_DROPOUT_OFF;
    c->dropout = FNN_DROPOUT_OFF;
    if (o->with_dropout && no->keep_prob < 1) {
        fnn_rng_seed(&c->net->rng_dropout, o->seed ^ GRADCHECK_MASK_STREAM);
        first = FNN_DROPOUT_SAMPLE;
        c->dropout = FNN_DROPOUT_FREEZE;
    }
    s = fnn_net_cost(c->net, c->x, c->y, c->batch, first, 1, &c->j0);
    if (s == FNN_ERR_NONFINITE) {
        return fnn_fail(err, s,
                        "the cost of the batch is not finite: check the "
                        "inputs and the parameters");
    }
    if (s != FNN_OK) {
        return fnn_fail(err, s,
                        "cannot evaluate the cost of the batch: %s (are the "
                        "labels valid for loss %s?)",
                        fnn_status_str(s), fnn_loss_name(no->loss));
    }
    return FNN_OK;
}

// Keeps the base parameters, loss and pass for the evaluators.
static fnn_status net_evaluator(net_ctx *c, const fnn_gradcheck_options *o,
                                fnn_error *err) {
    fnn_net *net = c->net;
    fnn_activation g = net->opt.activation;
    c->reference = o->reference;
    c->kinks = net->opt.n_layers > 1 && (g == FNN_RELU || g == FNN_LEAKY_RELU);
    c->saved = malloc((size_t)net->n_params * sizeof *c->saved);
    int ok = c->saved != NULL;
    for (int l = 0; ok && l < net->opt.n_layers; l++) {
        size_t bytes = (size_t)layer_values(c, l) * sizeof(double);
        int drops = net->dropout_used && l < net->opt.n_layers - 1;
        c->z0[l] = malloc(bytes);
        c->a0[l] = malloc(bytes);
        c->d0[l] = drops ? malloc(bytes) : NULL;
        c->m0[l] = drops ? malloc(bytes) : NULL;
        ok = c->z0[l] && c->a0[l] && (!drops || (c->d0[l] && c->m0[l]));
        if (ok) {
            memcpy(c->z0[l], net->z[l], bytes);
            memcpy(c->a0[l], net->act[l], bytes);
        }
        if (ok && drops) {
            memcpy(c->d0[l], net->drop[l], bytes);
            memcpy(c->m0[l], net->mask[l], bytes);
        }
    }
    size_t rows = (size_t)c->groups * (size_t)c->batch;
    c->rows_in = malloc(rows * (size_t)net->max_width * sizeof(double));
    c->row_group = malloc(rows * sizeof(int));
    c->row_of = malloc(rows * sizeof(int));
    ok = ok && c->rows_in && c->row_group && c->row_of;
    if (!ok) {
        return fnn_fail(err, FNN_ERR_NOMEM, "out of memory for the check");
    }
    memcpy(c->saved, net->params, (size_t)net->n_params * sizeof *c->saved);
    c->l2_0 = fnn_net_l2_term(net, c->batch);
    c->row0 = malloc((size_t)c->batch * sizeof *c->row0);
    if (!c->row0) {
        return fnn_fail(err, FNN_ERR_NOMEM, "out of memory for the check");
    }
    for (int r = 0; r < c->batch; r++) {
        fnn_status s = fnn_net_row_loss(net, r, c->y + r * c->y_cols,
                                        &c->row0[r]);
        if (s != FNN_OK) {
            return fnn_fail(err, s, "cannot evaluate the loss of row %d", r);
        }
    }
    return FNN_OK;
}

static void net_ctx_free(net_ctx *c) {
    fnn_net_free(c->net);
    free((void *)c->x);
    free((void *)c->y);
    free(c->saved);
    free(c->row0);
    for (int l = 0; l < FNN_MAX_LAYERS; l++) {
        free(c->z0[l]);
        free(c->a0[l]);
        free(c->d0[l]);
        free(c->m0[l]);
    }
    free(c->rows_in);
    free(c->row_group);
    free(c->row_of);
}

fnn_status fnn_gradcheck_run(const fnn_net *net, const void *x,
                             const void *y, int batch_size,
                             const fnn_gradcheck_options *opts,
                             fnn_gradcheck_report *report, fnn_error *err) {
    fnn_gradcheck_options o = opts ? *opts : fnn_gradcheck_options_default();
    if (!net || !x || !y || batch_size < 1 || !report) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "missing network, batch or report (batch size %d)",
                        batch_size);
    }
    fnn_status s = gc_check_options(&o, err);
    if (s != FNN_OK) {
        return s;
    }
    if (o.mode == FNN_GRADCHECK_AUTO) {
        o.mode = net->n_params <= o.max_full_params ? FNN_GRADCHECK_FULL
                                                    : FNN_GRADCHECK_PER_BLOCK;
    }
    if (gc_report_init(report, 2 * net->opt.n_layers, &o, net->n_params) !=
        FNN_OK) {
        return fnn_fail(err, FNN_ERR_NOMEM, "out of memory for the report");
    }
    double start = gc_now_seconds();
    net_ctx c = {.batch = batch_size};
    s = net_setup(&c, net, x, y, &o, err);
    if (s == FNN_OK) {
        s = net_evaluator(&c, &o, err);
    }
    if (s == FNN_OK) {
        net_blocks(c.net, report);
        report->with_dropout = c.dropout == FNN_DROPOUT_FREEZE;
        report->keep_prob = net->opt.keep_prob;
        gc_target t = {.n = c.net->n_params, .grad = c.net->grads,
                       .coords = net_coords, .direction = net_direction,
                       .ctx = &c};
        // One BLAS thread: the products of an evaluation are small
        // (up to 512x64x10 on 784-64-10), and on them waking the other
        // threads cost more time than it saved.
        int blas_threads = openblas_get_num_threads();
        openblas_set_num_threads(1);
        s = gc_check(&t, &o, report, err);
        openblas_set_num_threads(blas_threads);
    }
    net_ctx_free(&c);
    if (s != FNN_OK) {
        fnn_gradcheck_report_free(report);
        return s;
    }
    report->seconds = gc_now_seconds() - start;
    return FNN_OK;
}

#ifdef FNN_TESTING
fnn_status fnn_testing_plant_bug(fnn_net *net, fnn_testing_bug bug,
                                 int layer) {
    if (!net || (int)bug < FNN_BUG_NONE || bug > FNN_BUG_SOFTMAX_LABEL ||
        layer < -1 || layer >= net->opt.n_layers) {
        return FNN_ERR_INVALID;
    }
    net->planted_bug = bug;
    net->planted_layer = layer;
    return FNN_OK;
}
#endif
