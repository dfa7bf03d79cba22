// Per-layer statistics of one forward and backward pass, and the verdict
// drawn from them: whether activations or gradients vanish or explode.
#include "internal.h"

#include <math.h>
#include <string.h>

// Simpson's rule over u in [-GAUSS_RANGE, GAUSS_RANGE] standard deviations
// with GAUSS_POINTS intervals (even). The tail beyond 10 std holds less than
// 1e-22 of the normal mass, so it does not show in any printed digit.
#define GAUSS_RANGE 10.0
#define GAUSS_POINTS 2000

static double activate(fnn_activation g, double z) {
    switch (g) {
    case FNN_RELU:
        return z > 0 ? z : 0;
    case FNN_LEAKY_RELU:
        return z > 0 ? z : 0.01 * z;
    case FNN_TANH:
        return tanh(z);
    case FNN_SIGMOID:
        return 1.0 / (1.0 + exp(-z));
    case FNN_IDENTITY:
        return z;
    }
    return z;
}

// E[g(z)^2] for z ~ N(0, s^2).
static double mean_square(fnn_activation g, double s) {
    double h = 2 * GAUSS_RANGE / GAUSS_POINTS;
    double sum = 0;
    for (int i = 0; i <= GAUSS_POINTS; i++) {
        double u = -GAUSS_RANGE + i * h;
        double a = activate(g, s * u);
        double weight = (i == 0 || i == GAUSS_POINTS) ? 1 : (i % 2 ? 4 : 2);
        sum += weight * a * a * exp(-0.5 * u * u);
    }
    return sum * h / 3 / sqrt(2 * FNN_PI);
}

double fnn_diagnose_expected_factor(fnn_activation activation, fnn_init init,
                                    int fan_in, int fan_out, double s) {
    if (!(s > 0) || !isfinite(s) || fan_in < 1) {
        return NAN;
    }
    double sigma = fnn_init_std(init, fan_in, fan_out);
    return sigma * sqrt(fan_in * mean_square(activation, s)) / s;
}

const char *fnn_verdict_name(fnn_verdict v) {
    switch (v) {
    case FNN_VERDICT_OK:
        return "ok";
    case FNN_VERDICT_VANISHING:
        return "vanishing";
    case FNN_VERDICT_EXPLODING:
        return "exploding";
    }
    return "unknown";
}

const char *fnn_verdict_cause_name(fnn_verdict_cause c) {
    switch (c) {
    case FNN_CAUSE_NONE:
        return "none";
    case FNN_CAUSE_ACTIVATION_STD:
        return "activation_std";
    case FNN_CAUSE_GRADIENT_NORM:
        return "gradient_norm";
    case FNN_CAUSE_NONFINITE:
        return "nonfinite";
    }
    return "unknown";
}

// Mean and population std of n values in float or double, accumulated in
// double with two passes; counts the non-finite values into *nonfinite.
static void moments(const void *v, int f64, int64_t n, double *mean,
                    double *std, int64_t *nonfinite) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = f64 ? ((const double *)v)[i] : ((const float *)v)[i];
        sum += x;
        *nonfinite += !isfinite(x);
    }
    double m = sum / (double)n;
    double sq = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = f64 ? ((const double *)v)[i] : ((const float *)v)[i];
        sq += (x - m) * (x - m);
    }
    *mean = m;
    *std = sqrt(sq / (double)n);
}

static double frobenius(const void *v, int f64, int64_t n) {
    double sq = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = f64 ? ((const double *)v)[i] : ((const float *)v)[i];
        sq += x * x;
    }
    return sqrt(sq);
}

static void layer_stats(fnn_net *net, int batch_size, fnn_diagnosis *d) {
    const fnn_net_options *o = fnn_net_get_options(net);
    int f64 = o->dtype == FNN_F64;
    size_t elem = f64 ? sizeof(double) : sizeof(float);
    const char *grads = fnn_net_grads(net);
    d->first_nonfinite = -1;
    for (int l = 0; l < o->n_layers; l++) {
        fnn_layer_stats *s = &d->layers[l];
        int64_t n = (int64_t)batch_size * o->sizes[l + 1];
        moments(fnn_net_preactivation(net, l), f64, n, &s->preactivation_mean,
                &s->preactivation_std, &s->nonfinite);
        moments(fnn_net_activation(net, l), f64, n, &s->activation_mean,
                &s->activation_std, &s->nonfinite);
        if (s->nonfinite > 0 && d->first_nonfinite < 0) {
            d->first_nonfinite = l;
        }
        int64_t nw = (int64_t)o->sizes[l] * o->sizes[l + 1];
        const char *dw = grads + (size_t)fnn_net_weight_offset(net, l) * elem;
        s->gradient_norm = d->backward_ran ? frobenius(dw, f64, nw) : NAN;
        // Every hidden layer feeds g(z) to the next one.
        s->expected_factor =
            l == 0 ? NAN
                   : fnn_diagnose_expected_factor(
                         o->activation, fnn_net_layer_init(net, l),
                         o->sizes[l], o->sizes[l + 1],
                         d->layers[l - 1].preactivation_std);
    }
}

fnn_status fnn_diagnose(fnn_net *net, const void *x, const void *y,
                        int batch_size, fnn_diagnosis *out) {
    if (!net || !x || !y || batch_size < 1 || !out) {
        return FNN_ERR_INVALID;
    }
    memset(out, 0, sizeof *out);
    out->n_layers = fnn_net_get_options(net)->n_layers;
    out->batch_size = batch_size;
    double cost = NAN;
    fnn_status s = fnn_net_cost(net, x, y, batch_size, FNN_DROPOUT_OFF, 1,
                                &cost);
    if (s != FNN_OK && s != FNN_ERR_NONFINITE) {
        return s;
    }
    out->cost = cost;
    out->backward_ran = s == FNN_OK;
    layer_stats(net, batch_size, out);
    fnn_diagnosis_judge(out);
    return FNN_OK;
}

typedef struct finding {
    fnn_verdict verdict;
    fnn_verdict_cause cause;
    int layer;
    double ratio;
} finding;

static finding found(fnn_verdict v, fnn_verdict_cause c, int layer,
                     double ratio) {
    return (finding){.verdict = v, .cause = c, .layer = layer, .ratio = ratio};
}

// Classifies value against ref; cause is the quantity compared.
static finding compare(double value, double ref, int layer,
                       fnn_verdict_cause cause) {
    if (!isfinite(value)) {
        return found(FNN_VERDICT_EXPLODING, FNN_CAUSE_NONFINITE, layer, NAN);
    }
    double ratio = value / ref;
    if (ratio > FNN_DIAGNOSE_RATIO) {
        return found(FNN_VERDICT_EXPLODING, cause, layer, ratio);
    }
    if (ratio < 1 / FNN_DIAGNOSE_RATIO) {
        return found(FNN_VERDICT_VANISHING, cause, layer, ratio);
    }
    return found(FNN_VERDICT_OK, FNN_CAUSE_NONE, -1, NAN);
}

// Forward scan of the activation std against layers.0.
static finding judge_activations(const fnn_diagnosis *d) {
    const fnn_layer_stats *ls = d->layers;
    for (int l = 0; l < d->n_layers; l++) {
        if (ls[l].nonfinite > 0 || !isfinite(ls[l].activation_std)) {
            return found(FNN_VERDICT_EXPLODING, FNN_CAUSE_NONFINITE, l, NAN);
        }
        if (l == 0 && ls[0].activation_std == 0) {
            return found(FNN_VERDICT_VANISHING, FNN_CAUSE_ACTIVATION_STD, 0,
                         0);
        }
        finding f = compare(ls[l].activation_std, ls[0].activation_std, l,
                            FNN_CAUSE_ACTIVATION_STD);
        if (f.verdict != FNN_VERDICT_OK) {
            return f;
        }
    }
    return found(FNN_VERDICT_OK, FNN_CAUSE_NONE, -1, NAN);
}

// Backward scan of ||dW|| against the output layer.
static finding judge_gradients(const fnn_diagnosis *d) {
    int last = d->n_layers - 1;
    if (!d->backward_ran) {
        // The cost was not finite, so there is no gradient to judge.
        return found(FNN_VERDICT_EXPLODING, FNN_CAUSE_NONFINITE, last, NAN);
    }
    double ref = d->layers[last].gradient_norm;
    if (!isfinite(ref)) {
        return found(FNN_VERDICT_EXPLODING, FNN_CAUSE_NONFINITE, last, NAN);
    }
    if (ref == 0) {
        return found(FNN_VERDICT_VANISHING, FNN_CAUSE_GRADIENT_NORM, last, 0);
    }
    for (int l = last - 1; l >= 0; l--) {
        finding f = compare(d->layers[l].gradient_norm, ref, l,
                            FNN_CAUSE_GRADIENT_NORM);
        if (f.verdict != FNN_VERDICT_OK) {
            return f;
        }
    }
    return found(FNN_VERDICT_OK, FNN_CAUSE_NONE, -1, NAN);
}

void fnn_diagnosis_judge(fnn_diagnosis *d) {
    finding a = judge_activations(d);
    finding g = judge_gradients(d);
    finding pick = a;
    if (a.verdict != FNN_VERDICT_EXPLODING &&
        (g.verdict == FNN_VERDICT_EXPLODING || a.verdict == FNN_VERDICT_OK)) {
        pick = g;
    }
    d->verdict = pick.verdict;
    d->cause = pick.cause;
    d->verdict_layer = pick.layer;
    d->verdict_ratio = pick.ratio;
}
