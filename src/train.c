// Mini-batch training and evaluation on data sets.
#include "kernels.h"
#include "train_internal.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

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

// Checks the fields of a caller-built data set that every reader fills.
static fnn_status check_dataset_fields(const fnn_dataset *ds, const char *src,
                                       fnn_error *err) {
    if (ds->n_rows <= 0) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "%s: n_rows is %lld: the data set must have at least "
                        "one row", src, (long long)ds->n_rows);
    }
    if (ds->n_features <= 0) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "%s: n_features is %d: expected at least 1", src,
                        ds->n_features);
    }
    if (!ds->u8 && !ds->f32) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "%s: no features: both f32 and u8 are NULL", src);
    }
    return FNN_OK;
}

fnn_status fnn_check_dataset(const fnn_net *net, const fnn_dataset *ds,
                             fnn_error *err) {
    if (!net || !ds) {
        return fnn_fail(err, FNN_ERR_INVALID, "missing %s",
                        net ? "data set" : "network");
    }
    const fnn_net_options *o = &net->opt;
    const char *src = ds->source ? ds->source : "data";
    fnn_status s = check_dataset_fields(ds, src, err);
    if (s != FNN_OK) {
        return s;
    }
    if (!ds->labels) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "%s: the data has no labels: give the labels file "
                        "(--labels, --train-labels, --test-labels) or the "
                        "CSV label column", src);
    }
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

// Copies the rows idx[first..first + count) of ds into x [count, n_in],
// normalized in double with the network's statistics, and their labels into
// y.
static void gather_rows(const fnn_net *net, const fnn_dataset *ds,
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
        if (!f64 && mean) {
            // The kernels evaluate the expression of the loop below.
            if (ds->u8) {
                fnn_normalize_u8_f32(ds->u8 + base, mean, std,
                                     (float *)x + out, n);
            } else {
                fnn_normalize_f32_f32(ds->f32 + base, mean, std,
                                      (float *)x + out, n);
            }
            ((float *)y)[i] = ds->labels[r];
            continue;
        }
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

// Rows idx[first..) of a data set and the buffers they are gathered into:
// a training step's rows, gathered by the threads of its pass, or a batch
// of evaluation rows.
typedef struct row_source {
    const fnn_net *net;
    const fnn_dataset *ds;
    const int64_t *idx; // row order, or NULL for rows in file order
    int64_t first;      // position in idx of the batch's first row
    void *x;
    void *y;
} row_source;

// Gathers rows [first, first + count) of the batch into their place in x
// and y (an fnn_fill_rows).
static void fill_rows(void *arg, int first, int count) {
    const row_source *r = arg;
    size_t elem = r->net->elem;
    gather_rows(r->net, r->ds, r->idx, r->first + first, count,
                (char *)r->x + (size_t)first * r->ds->n_features * elem,
                (char *)r->y + (size_t)first * elem);
}

// Rows per block when a gather is split over the network's threads: fewer
// rows than this are not worth a job.
#define GATHER_BLOCK_ROWS 32

typedef struct gather_job {
    row_source rows;
    int count;
} gather_job;

static void gather_task(void *arg, int b) {
    gather_job *g = arg;
    int begin = b * GATHER_BLOCK_ROWS;
    int rows = g->count - begin < GATHER_BLOCK_ROWS ? g->count - begin
                                                     : GATHER_BLOCK_ROWS;
    fill_rows(&g->rows, begin, rows);
}

// Runs gather_rows over blocks of rows on the network's threads. Each block
// writes only its own rows, so the result does not depend on the split.
static void gather(fnn_net *net, const fnn_dataset *ds, const int64_t *idx,
                   int64_t first, int count, void *x, void *y) {
    int blocks = (count + GATHER_BLOCK_ROWS - 1) / GATHER_BLOCK_ROWS;
    if (fnn_net_threads(net) == 1 || blocks < 2) {
        gather_rows(net, ds, idx, first, count, x, y);
        return;
    }
    gather_job g = {{net, ds, idx, first, x, y}, count};
    fnn_net_parallel_for(net, gather_task, &g, blocks);
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
    if (!result) {
        return fnn_fail(err, FNN_ERR_INVALID, "missing evaluation result");
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
    int64_t first = 0;
    int count = 0;
    for (; first < ds->n_rows && s == FNN_OK; first += count) {
        count = (int)(ds->n_rows - first < rows ? ds->n_rows - first : rows);
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
        // The inputs were checked when read, so the model itself overflows.
        int layer = fnn_net_first_nonfinite_layer(net, count);
        char where[64] = "in the loss";
        if (layer >= 0) {
            snprintf(where, sizeof where, "in the outputs of layers.%d",
                     layer);
        }
        return fnn_fail(err, s,
                        "%s: the loss is not finite in the batch from row "
                        "%lld, first %s: the model's weights overflow on "
                        "this data, so retrain it (a lower learning rate, "
                        "or normalized inputs)",
                        ds->source ? ds->source : "data",
                        (long long)(first - count) + 1, where);
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

// Returns the layer with a non-finite weight or bias gradient nearest the
// output, where backpropagation produced it first, or -1.
static int first_nonfinite_gradient(const fnn_net *net) {
    // One vectorized pass settles the common case. The per-layer search
    // below runs only when a value is bad.
    if (net->opt.dtype == FNN_F32 &&
        fnn_all_finite_f32((const float *)net->grads, net->n_params)) {
        return -1;
    }
    for (int l = net->opt.n_layers - 1; l >= 0; l--) {
        int64_t begin = net->w_off[l];
        int64_t end = net->b_off[l] + net->opt.sizes[l + 1];
        for (int64_t i = begin; i < end; i++) {
            double g = net->opt.dtype == FNN_F64 ? ((double *)net->grads)[i]
                                                 : ((float *)net->grads)[i];
            if (!isfinite(g)) {
                return l;
            }
        }
    }
    return -1;
}

// Fills err for a non-finite loss (grad_layer < 0) or gradient at 1-based
// epoch and step.
static fnn_status diverged(fnn_net *net, int epoch, int64_t step, int count,
                           int grad_layer, fnn_error *err) {
    char where[128] = "the loss is not finite";
    if (grad_layer >= 0) {
        snprintf(where, sizeof where,
                 "the gradient is not finite, first in layers.%d going "
                 "backward", grad_layer);
    } else {
        int layer = fnn_net_first_nonfinite_layer(net, count);
        if (layer >= 0) {
            snprintf(where, sizeof where,
                     "the loss is not finite, first in the outputs of "
                     "layers.%d", layer);
        }
    }
    // Before the first update the learning rate has had no effect, so the
    // weights the run started from (or the inputs) are the cause.
    const char *advice =
        step == 1 ? "the initial weights already give it: use an "
                    "initialization scaled to the layer widths (he, lecun, "
                    "xavier) or fewer layers"
        : net->norm_mean ? "lower the learning rate"
                         : "lower the learning rate or normalize the inputs";
    return fnn_fail(err, FNN_ERR_NONFINITE,
                    "training diverged at epoch %d, step %lld: %s: %s", epoch,
                    (long long)step, where, advice);
}

// Runs one mini-batch step at the trainer's position and advances it. On
// divergence the parameters and optimizer are left as they were before it.
static fnn_status train_step(fnn_trainer *t, fnn_error *err) {
    const fnn_train_options *o = &t->opts;
    fnn_net *net = t->net;
    int64_t n = t->train->n_rows;
    int64_t first = t->batch * o->batch_size;
    int count = (int)(n - first < o->batch_size ? n - first : o->batch_size);
    row_source rows = {net, t->train, t->perm, first, t->x, t->y};
    double progress = t->epoch + (double)t->batch / (double)t->n_batches;
    double lr = fnn_schedule_rate(o->schedule, o->optim.learning_rate,
                                  progress, o->epochs, o->step_epochs,
                                  o->step_gamma);
    int64_t step = fnn_optim_steps(t->optim) + 1;
    double loss_sum = 0;
    int grads_finite = -1;
    fnn_status s = fnn_net_train_pass(net, t->x, t->y, count, fill_rows,
                                      &rows, &loss_sum, &grads_finite);
    if (s == FNN_ERR_NONFINITE) {
        return diverged(net, t->epoch + 1, step, count, -1, err);
    }
    if (s != FNN_OK) {
        return fnn_fail(err, s, "training step failed: %s",
                        fnn_status_str(s));
    }
    int grad_layer = grads_finite == 1 ? -1 : first_nonfinite_gradient(net);
    if (grad_layer >= 0) {
        return diverged(net, t->epoch + 1, step, count, grad_layer, err);
    }
    fnn_optim_step(t->optim, net, lr);
    t->loss_total += loss_sum;
    t->batch++;
    if (o->on_batch && o->on_batch(o->user, t->epoch + 1, t->batch,
                                   t->n_batches, loss_sum / count)) {
        return fnn_fail(err, FNN_ERR_INTERRUPTED, "training interrupted");
    }
    return FNN_OK;
}

// Evaluates and reports the finished epoch, then moves to the next one. The
// position moves before on_epoch runs, so a stop there resumes with the
// next epoch.
static fnn_status finish_epoch(fnn_trainer *t, double seconds,
                               fnn_error *err) {
    const fnn_train_options *o = &t->opts;
    fnn_epoch_report r = {.epoch = t->epoch + 1, .epochs = o->epochs};
    r.learning_rate = fnn_schedule_rate(o->schedule, o->optim.learning_rate,
                                        t->epoch, o->epochs, o->step_epochs,
                                        o->step_gamma);
    r.train_loss = t->loss_total / (double)t->train->n_rows;
    r.seconds = seconds;
    r.samples_per_second = (double)t->train->n_rows / seconds;
    r.test_loss = r.test_accuracy = NAN;
    if (t->test) {
        fnn_eval_result ev;
        fnn_status s = fnn_evaluate(t->net, t->test, &ev, err);
        if (s != FNN_OK) {
            return s;
        }
        r.test_loss = ev.loss;
        r.test_accuracy = ev.accuracy;
    }
    t->epoch++;
    t->batch = 0;
    t->loss_total = 0;
    if (o->on_epoch && o->on_epoch(o->user, &r)) {
        return fnn_fail(err, FNN_ERR_INTERRUPTED, "training interrupted");
    }
    return FNN_OK;
}

fnn_status fnn_trainer_run(fnn_trainer *t, fnn_error *err) {
    if (!t) {
        return fnn_fail(err, FNN_ERR_INVALID, "missing trainer");
    }
    fnn_status s = FNN_OK;
    while (s == FNN_OK && t->epoch < t->opts.epochs) {
        double start = now_seconds();
        if (t->batch == 0) {
            t->epoch_seconds = 0;
            shuffle(&t->net->rng_shuffle, t->perm, t->train->n_rows);
        }
        while (s == FNN_OK && t->batch < t->n_batches) {
            s = train_step(t, err);
        }
        // A run stopped inside an epoch keeps the time spent so far.
        t->epoch_seconds += now_seconds() - start;
        if (s == FNN_OK) {
            s = finish_epoch(t, t->epoch_seconds, err);
        }
    }
    return s;
}

// Checks the optimizer kind and rate and the schedule, naming the bad value;
// fnn_optim_create checks the other optimizer options.
static fnn_status check_schedule(const fnn_train_options *o, fnn_error *err) {
    const fnn_optim_options *op = &o->optim;
    if ((int)op->kind < FNN_SGD || op->kind > FNN_ADAM) {
        return fnn_fail(err, FNN_ERR_INVALID, "unknown optimizer kind %d",
                        (int)op->kind);
    }
    if (!isfinite(op->learning_rate) || op->learning_rate < 0) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "invalid learning rate %g: expected a finite value "
                        ">= 0", op->learning_rate);
    }
    if ((int)o->schedule < FNN_SCHEDULE_CONSTANT ||
        o->schedule > FNN_SCHEDULE_COSINE) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "unknown learning-rate schedule %d: expected %d to %d",
                        (int)o->schedule, FNN_SCHEDULE_CONSTANT,
                        FNN_SCHEDULE_COSINE);
    }
    if (o->schedule == FNN_SCHEDULE_STEP &&
        (o->step_epochs < 1 || !isfinite(o->step_gamma) ||
         o->step_gamma < 0)) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "invalid step schedule: step_epochs %d (expected >= "
                        "1) or step_gamma %g (expected finite, >= 0)",
                        o->step_epochs, o->step_gamma);
    }
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
    fnn_status s = check_schedule(o, err);
    if (s != FNN_OK) {
        return s;
    }
    s = fnn_check_dataset(net, train, err);
    if (s == FNN_OK && test) {
        s = fnn_check_dataset(net, test, err);
    }
    return s;
}

fnn_status fnn_trainer_setup(fnn_trainer *t, fnn_error *err) {
    const fnn_dataset *train = t->train;
    int64_t batch_size = t->opts.batch_size;
    int rows = train->n_rows < batch_size ? (int)train->n_rows
                                          : (int)batch_size;
    t->n_batches = (train->n_rows + batch_size - 1) / batch_size;
    fnn_status s = FNN_OK;
    t->optim = fnn_optim_create(t->net, &t->opts.optim, &s);
    t->perm = malloc((size_t)train->n_rows * sizeof(int64_t));
    batch_buffers b = {NULL, NULL};
    if (!t->optim || !t->perm || buffers_alloc(t->net, rows, &b) != FNN_OK ||
        fnn_net_reserve(t->net, rows) != FNN_OK) {
        s = t->optim ? FNN_ERR_NOMEM : s;
        free(b.x);
        free(b.y);
        return fnn_fail(err, s, "cannot set up training: %s",
                        fnn_status_str(s));
    }
    t->x = b.x;
    t->y = b.y;
    for (int64_t i = 0; i < train->n_rows; i++) {
        t->perm[i] = i;
    }
    return FNN_OK;
}

fnn_trainer *fnn_trainer_create(fnn_net *net, const fnn_dataset *train,
                                const fnn_dataset *test,
                                const fnn_train_options *opts,
                                fnn_error *err, fnn_status *status) {
    fnn_status s = check_train_args(net, train, test, opts, err);
    fnn_trainer *t = s == FNN_OK ? calloc(1, sizeof *t) : NULL;
    if (s == FNN_OK && !t) {
        s = fnn_fail(err, FNN_ERR_NOMEM, "out of memory for the trainer");
    }
    if (t) {
        *t = (fnn_trainer){.net = net, .train = train, .test = test,
                           .opts = *opts};
        s = fnn_trainer_setup(t, err);
    }
    if (s != FNN_OK) {
        fnn_trainer_free(t);
        t = NULL;
    }
    fnn_set_status(status, s);
    return t;
}

void fnn_trainer_free(fnn_trainer *t) {
    if (!t) {
        return;
    }
    fnn_optim_free(t->optim);
    free(t->perm);
    free(t->x);
    free(t->y);
    if (t->owns_net) {
        fnn_net_free(t->net);
    }
    free(t);
}

fnn_net *fnn_trainer_net(fnn_trainer *t) {
    return t ? t->net : NULL;
}

fnn_train_position fnn_trainer_position(const fnn_trainer *t) {
    fnn_train_position p = {0};
    if (t) {
        p.epoch = t->epoch;
        p.epochs = t->opts.epochs;
        p.batch = t->batch;
        p.n_batches = t->n_batches;
        p.step = fnn_optim_steps(t->optim);
    }
    return p;
}

void fnn_trainer_set_callbacks(fnn_trainer *t,
                               const fnn_train_options *callbacks) {
    if (t && callbacks) {
        t->opts.on_batch = callbacks->on_batch;
        t->opts.on_epoch = callbacks->on_epoch;
        t->opts.user = callbacks->user;
    }
}

// crc32 takes an unsigned int length, so long inputs go in chunks.
static uLong crc_bytes(uLong crc, const unsigned char *p, size_t n) {
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return crc;
}

uint32_t fnn_dataset_crc32(const fnn_dataset *ds) {
    size_t elem = ds->u8 ? 1 : sizeof(float);
    const unsigned char *p = ds->u8 ? (const unsigned char *)ds->u8
                                    : (const unsigned char *)ds->f32;
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc_bytes(crc, p, (size_t)ds->n_rows * (size_t)ds->n_features * elem);
    crc = crc_bytes(crc, (const unsigned char *)ds->labels,
                    (size_t)ds->n_rows * sizeof(float));
    return (uint32_t)crc;
}

fnn_status fnn_train(fnn_net *net, const fnn_dataset *train,
                     const fnn_dataset *test, const fnn_train_options *o,
                     fnn_error *err) {
    fnn_status s = check_train_args(net, train, test, o, err);
    if (s != FNN_OK || o->epochs == 0) {
        return s;
    }
    fnn_trainer *t = fnn_trainer_create(net, train, test, o, err, &s);
    if (t) {
        s = fnn_trainer_run(t, err);
    }
    fnn_trainer_free(t);
    return s;
}
