// Gradient check of a fastnn network: a float64 copy, the cached base pass,
// and the two cost evaluators (incremental and fnn_net_cost).
#include "gradcheck_internal.h"

#include <math.h>
#include <string.h>

// Seeds the dropout mask of the check apart from the other streams.
#define GRADCHECK_MASK_STREAM 0x6772616463686bULL

typedef struct net_ctx {
    fnn_net *net; // the float64 copy
    const double *x;
    const double *y;
    int batch;
    fnn_dropout_mode dropout; // OFF, or FREEZE after one SAMPLE
    double j0;
    gc_delta *delta;          // NULL in reference mode
    double *saved;            // [n_params] base parameters (reference)
    unsigned char *signs;     // z > 0 of the base pass (reference)
    int64_t n_signs;
} net_ctx;

static int has_kinks(const fnn_net *net) {
    fnn_activation g = net->opt.activation;
    return net->opt.n_layers > 1 && (g == FNN_RELU || g == FNN_LEAKY_RELU);
}

// Stores (z > 0) of every hidden pre-activation in ctx->signs, or, when
// compare is nonzero, returns 1 when any differs from the stored pattern.
static int sign_pattern(net_ctx *c, int compare) {
    const fnn_net *net = c->net;
    if (!c->signs) {
        return 0;
    }
    int64_t at = 0;
    int differs = 0;
    for (int l = 0; l < net->opt.n_layers - 1; l++) {
        const double *z = net->z[l];
        int64_t n = (int64_t)c->batch * net->opt.sizes[l + 1];
        for (int64_t i = 0; i < n; i++, at++) {
            unsigned char positive = z[i] > 0;
            if (compare) {
                differs |= positive != c->signs[at];
            } else {
                c->signs[at] = positive;
            }
        }
    }
    return differs;
}

static fnn_status reference_eval(net_ctx *c, double *dj, int *kink) {
    double j;
    fnn_status s = fnn_net_cost(c->net, c->x, c->y, c->batch, c->dropout, 0,
                                &j);
    if (s != FNN_OK && s != FNN_ERR_NONFINITE) {
        return s;
    }
    *dj = s == FNN_OK ? j - c->j0 : NAN;
    if (sign_pattern(c, 1)) {
        *kink = 1;
    }
    return FNN_OK;
}

static fnn_status net_coord(void *ctx, int64_t k, double h, double *dj,
                            double *step, int *kink) {
    net_ctx *c = ctx;
    if (c->delta) {
        *dj = gc_delta_coord(c->delta, k, h, kink);
        *step = h;
        return FNN_OK;
    }
    double *p = c->net->params;
    double saved = p[k];
    p[k] = saved + h;
    *step = p[k] - saved;
    fnn_status s = reference_eval(c, dj, kink);
    p[k] = saved; // restores the exact bits
    return s;
}

static fnn_status net_direction(void *ctx, const double *u, double h,
                                double *dj, int *kink) {
    net_ctx *c = ctx;
    if (c->delta) {
        *dj = gc_delta_direction(c->delta, u, h, kink);
        return FNN_OK;
    }
    double *p = c->net->params;
    int64_t n = c->net->n_params;
    for (int64_t i = 0; i < n; i++) {
        p[i] = c->saved[i] + h * u[i];
    }
    fnn_status s = reference_eval(c, dj, kink);
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
    int64_t ny = no->loss == FNN_LOSS_SOFTMAX_CE ? 1 : k;
    c->x = to_double(x, (int64_t)c->batch * no->sizes[0], no->dtype);
    c->y = to_double(y, (int64_t)c->batch * ny, no->dtype);
    if (!c->x || !c->y) {
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

// Prepares the evaluator: the incremental one, or the reference state.
static fnn_status net_evaluator(net_ctx *c, const fnn_gradcheck_options *o,
                                fnn_error *err) {
    fnn_net *net = c->net;
    fnn_status s = FNN_OK;
    if (!o->reference) {
        c->delta = gc_delta_create(net, c->y, c->batch, &s);
        return c->delta ? FNN_OK
                        : fnn_fail(err, s, "out of memory for the check");
    }
    c->saved = malloc((size_t)net->n_params * sizeof *c->saved);
    if (!c->saved) {
        return fnn_fail(err, FNN_ERR_NOMEM, "out of memory for the check");
    }
    memcpy(c->saved, net->params, (size_t)net->n_params * sizeof *c->saved);
    if (has_kinks(net)) {
        for (int l = 0; l < net->opt.n_layers - 1; l++) {
            c->n_signs += (int64_t)c->batch * net->opt.sizes[l + 1];
        }
        c->signs = malloc((size_t)c->n_signs);
        if (!c->signs) {
            return fnn_fail(err, FNN_ERR_NOMEM, "out of memory for the check");
        }
        sign_pattern(c, 0);
    }
    return FNN_OK;
}

static void net_ctx_free(net_ctx *c) {
    gc_delta_free(c->delta);
    fnn_net_free(c->net);
    free((void *)c->x);
    free((void *)c->y);
    free(c->saved);
    free(c->signs);
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
                       .coord = net_coord, .direction = net_direction,
                       .ctx = &c};
        s = gc_check(&t, &o, report, err);
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
