// Mini-batch training and evaluation on data sets.
#include "net_internal.h"

#include <math.h>
#include <string.h>
#include <time.h>

// Evaluation always runs in batches of this many rows, so a model and a data
// set give the same numbers whatever batch size trained the model.
#define EVAL_BATCH 1000

fnn_train_options fnn_train_options_default(void) {
    fnn_train_options o;
    memset(&o, 0, sizeof o);
    o.epochs = 10;
    o.batch_size = 128;
    o.optim = fnn_optim_options_default();
    o.schedule = FNN_SCHEDULE_COSINE;
    o.step_epochs = 5;
    o.step_gamma = 0.1;
    return o;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

fnn_status fnn_check_dataset(const fnn_net *net, const fnn_dataset *ds,
                             fnn_error *err) {
    const fnn_net_options *o = &net->opt;
    const char *src = ds->source ? ds->source : "data";
    if (ds->n_features != o->sizes[0]) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "%s: %d features per row, but the network expects %d",
                        src, ds->n_features, o->sizes[0]);
    }
    int k = o->sizes[o->n_layers];
    if (o->loss != FNN_LOSS_SOFTMAX_CE && k != 1) {
        return fnn_fail(err, FNN_ERR_UNSUPPORTED,
                        "%s: one label column cannot fill %d outputs of %s",
                        src, k, fnn_loss_name(o->loss));
    }
    for (int64_t i = 0; i < ds->n_rows; i++) {
        double y = ds->labels[i];
        int bad = !isfinite(y);
        if (o->loss == FNN_LOSS_SOFTMAX_CE) {
            bad = bad || y < 0 || y >= k || y != floor(y);
        } else if (o->loss == FNN_LOSS_SIGMOID_BCE) {
            bad = bad || (y != 0 && y != 1);
        }
        if (bad) {
            return fnn_fail(err, FNN_ERR_INVALID,
                            "%s: row %lld: label %g is invalid for %s with %d "
                            "outputs",
                            src, (long long)i + 1, y, fnn_loss_name(o->loss),
                            k);
        }
    }
    return FNN_OK;
}

// Copies the rows idx[0..count) of ds into x [count, n_in], normalized in
// double with the network's statistics, and their labels into y.
static void gather(const fnn_net *net, const fnn_dataset *ds,
                   const int64_t *idx, int64_t first, int count, void *x,
                   void *y) {
    int n = ds->n_features;
    int f64 = net->opt.dtype == FNN_F64;
    const double *mean = net->norm_mean;
    const double *std = net->norm_std;
    for (int i = 0; i < count; i++) {
        int64_t r = idx ? idx[first + i] : first + i;
        int64_t base = r * n;
        int64_t out = (int64_t)i * n;
        for (int j = 0; j < n; j++) {
            double v = ds->u8 ? (double)ds->u8[base + j]
                              : (double)ds->f32[base + j];
            if (mean) {
                v = (v - mean[j]) / std[j];
            }
            if (f64) {
                ((double *)x)[out + j] = v;
            } else {
                ((float *)x)[out + j] = (float)v;
            }
        }
        if (f64) {
            ((double *)y)[i] = ds->labels[r];
        } else {
            ((float *)y)[i] = ds->labels[r];
        }
    }
}

typedef struct batch_buffers {
    void *x;
    void *y;
} batch_buffers;

static fnn_status buffers_alloc(const fnn_net *net, int rows,
                                batch_buffers *b) {
    size_t n = (size_t)rows * (size_t)net->opt.sizes[0];
    b->x = malloc(n * net->elem);
    b->y = malloc((size_t)rows * net->elem);
    if (!b->x || !b->y) {
        free(b->x);
        free(b->y);
        return FNN_ERR_NOMEM;
    }
    return FNN_OK;
}

fnn_status fnn_evaluate(fnn_net *net, const fnn_dataset *ds,
                        fnn_eval_result *result, fnn_error *err) {
    if (!net || !ds || !result || ds->n_rows <= 0) {
        return fnn_fail(err, FNN_ERR_INVALID, "no data to evaluate");
    }
    fnn_status s = fnn_check_dataset(net, ds, err);
    if (s != FNN_OK) {
        return s;
    }
    int rows = ds->n_rows < EVAL_BATCH ? (int)ds->n_rows : EVAL_BATCH;
    batch_buffers b;
    s = buffers_alloc(net, rows, &b);
    if (s != FNN_OK) {
        return fnn_fail(err, s, "out of memory for a batch of %d rows", rows);
    }
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t first = 0; first < ds->n_rows && s == FNN_OK;
         first += rows) {
        int count = (int)(ds->n_rows - first < rows ? ds->n_rows - first
                                                    : rows);
        gather(net, ds, NULL, first, count, b.x, b.y);
        s = fnn_net_forward(net, b.x, count, FNN_DROPOUT_OFF, 1);
        if (s == FNN_OK) {
            s = fnn_net_loss(net, b.y, count, &loss_sum, &correct, 0);
        }
    }
    free(b.x);
    free(b.y);
    result->samples = ds->n_rows;
    result->loss = loss_sum / (double)ds->n_rows;
    result->accuracy = net->opt.loss == FNN_LOSS_MSE
                           ? NAN
                           : (double)correct / (double)ds->n_rows;
    if (s == FNN_ERR_NONFINITE) {
        return fnn_fail(err, s, "%s: the loss is not finite",
                        ds->source ? ds->source : "data");
    }
    return s == FNN_OK ? FNN_OK : fnn_fail(err, s, "evaluation failed: %s",
                                           fnn_status_str(s));
}

static void shuffle(fnn_rng *rng, int64_t *perm, int64_t n) {
    // Fisher-Yates: every permutation equally likely.
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)fnn_rng_below(rng, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static fnn_status diverged(fnn_net *net, int epoch, int64_t step, int count,
                           fnn_error *err) {
    int layer = fnn_net_first_nonfinite_layer(net, count);
    char where[96] = "in the loss";
    if (layer >= 0) {
        snprintf(where, sizeof where, "first in the outputs of layers.%d",
                 layer);
    }
    return fnn_fail(err, FNN_ERR_NONFINITE,
                    "training diverged: the loss is not finite at epoch %d, "
                    "step %lld (%s): lower the learning rate or normalize "
                    "the inputs",
                    epoch, (long long)step, where);
}

typedef struct train_state {
    fnn_net *net;
    const fnn_dataset *train;
    const fnn_train_options *opts;
    fnn_optim *optim;
    int64_t *perm;
    batch_buffers b;
    int64_t n_batches;
} train_state;

// Runs one epoch of mini-batch steps; stores the mean training loss.
static fnn_status run_epoch(train_state *t, int epoch, double *mean_loss,
                            fnn_error *err) {
    const fnn_train_options *o = t->opts;
    fnn_net *net = t->net;
    int64_t n = t->train->n_rows;
    shuffle(&net->rng_shuffle, t->perm, n);
    double loss_total = 0;
    for (int64_t bi = 0; bi < t->n_batches; bi++) {
        int64_t first = bi * o->batch_size;
        int count = (int)(n - first < o->batch_size ? n - first
                                                    : o->batch_size);
        gather(net, t->train, t->perm, first, count, t->b.x, t->b.y);
        double progress = epoch + (double)bi / (double)t->n_batches;
        double lr = fnn_schedule_rate(o->schedule, o->optim.learning_rate,
                                      progress, o->epochs, o->step_epochs,
                                      o->step_gamma);
        fnn_status s = fnn_net_forward(net, t->b.x, count,
                                       FNN_DROPOUT_SAMPLE, 1);
        double loss_sum = 0;
        if (s == FNN_OK) {
            s = fnn_net_loss(net, t->b.y, count, &loss_sum, NULL, 1);
        }
        if (s == FNN_ERR_NONFINITE) {
            return diverged(net, epoch + 1, fnn_optim_steps(t->optim) + 1,
                            count, err);
        }
        if (s != FNN_OK) {
            return fnn_fail(err, s, "training step failed: %s",
                            fnn_status_str(s));
        }
        fnn_net_backward(net, count);
        fnn_optim_step(t->optim, net, lr);
        loss_total += loss_sum;
        if (o->on_batch && o->on_batch(o->user, epoch + 1, bi + 1,
                                       t->n_batches, loss_sum / count)) {
            return fnn_fail(err, FNN_ERR_INTERRUPTED, "training interrupted");
        }
    }
    *mean_loss = loss_total / (double)n;
    return FNN_OK;
}

static fnn_status check_train_args(fnn_net *net, const fnn_dataset *train,
                                   const fnn_dataset *test,
                                   const fnn_train_options *o,
                                   fnn_error *err) {
    if (!net || !train || !o) {
        return fnn_fail(err, FNN_ERR_INVALID, "missing network or data");
    }
    if (o->epochs < 0 || o->batch_size < 1) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "invalid epochs %d or batch size %d", o->epochs,
                        o->batch_size);
    }
    if (train->n_rows < 1) {
        return fnn_fail(err, FNN_ERR_INVALID, "the training set is empty");
    }
    fnn_status s = fnn_check_dataset(net, train, err);
    if (s == FNN_OK && test) {
        s = fnn_check_dataset(net, test, err);
    }
    return s;
}

fnn_status fnn_train(fnn_net *net, const fnn_dataset *train,
                     const fnn_dataset *test, const fnn_train_options *o,
                     fnn_error *err) {
    fnn_status s = check_train_args(net, train, test, o, err);
    if (s != FNN_OK || o->epochs == 0) {
        return s;
    }
    train_state t = {.net = net, .train = train, .opts = o};
    int rows = train->n_rows < o->batch_size ? (int)train->n_rows
                                             : o->batch_size;
    t.n_batches = (train->n_rows + o->batch_size - 1) / o->batch_size;
    t.optim = fnn_optim_create(net, &o->optim, &s);
    t.perm = malloc((size_t)train->n_rows * sizeof(int64_t));
    if (!t.optim || !t.perm || buffers_alloc(net, rows, &t.b) != FNN_OK ||
        fnn_net_reserve(net, rows) != FNN_OK) {
        s = t.optim ? FNN_ERR_NOMEM : s;
        fnn_optim_free(t.optim);
        free(t.perm);
        return fnn_fail(err, s, "cannot set up training: %s",
                        fnn_status_str(s));
    }
    for (int64_t i = 0; i < train->n_rows; i++) {
        t.perm[i] = i;
    }
    for (int epoch = 0; epoch < o->epochs && s == FNN_OK; epoch++) {
        fnn_epoch_report r = {.epoch = epoch + 1, .epochs = o->epochs};
        r.learning_rate = fnn_schedule_rate(o->schedule,
                                            o->optim.learning_rate, epoch,
                                            o->epochs, o->step_epochs,
                                            o->step_gamma);
        double start = now_seconds();
        s = run_epoch(&t, epoch, &r.train_loss, err);
        r.seconds = now_seconds() - start;
        r.samples_per_second = (double)train->n_rows / r.seconds;
        r.test_loss = r.test_accuracy = NAN;
        if (s == FNN_OK && test) {
            fnn_eval_result ev;
            s = fnn_evaluate(net, test, &ev, err);
            r.test_loss = ev.loss;
            r.test_accuracy = ev.accuracy;
        }
        if (s == FNN_OK && o->on_epoch && o->on_epoch(o->user, &r)) {
            s = fnn_fail(err, FNN_ERR_INTERRUPTED, "training interrupted");
        }
    }
    fnn_optim_free(t.optim);
    free(t.perm);
    free(t.b.x);
    free(t.b.y);
    return s;
}
