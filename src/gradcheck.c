// Gradient checking: the modes (full, per-block, directions), kink
// handling, the report, and the entry point for a user's cost function.
// The network entry point is in gradcheck_net.c.
#include "gradcheck_internal.h"

#include <math.h>
#include <string.h>
#include <time.h>

fnn_gradcheck_options fnn_gradcheck_options_default(void) {
    fnn_gradcheck_options o;
    memset(&o, 0, sizeof o);
    o.epsilon = 1e-7;
    o.pass_threshold = 1e-7;
    o.fail_threshold = 1e-3;
    o.mode = FNN_GRADCHECK_AUTO;
    o.max_full_params = 200000;
    o.per_block = 64;
    o.directions = 32;
    o.worst = 5;
    o.with_dropout = 0;
    o.seed = 42;
    o.reference = 0;
    return o;
}

static const char *const MODE_NAMES[] = {"auto", "full", "per-block",
                                         "directions"};
static const char *const VERDICT_NAMES[] = {"pass", "warn", "fail",
                                            "not-checked"};

const char *fnn_gradcheck_mode_name(fnn_gradcheck_mode mode) {
    if ((int)mode < 0 || mode > FNN_GRADCHECK_DIRECTIONS) {
        return "unknown";
    }
    return MODE_NAMES[mode];
}

fnn_status fnn_gradcheck_mode_parse(const char *name,
                                    fnn_gradcheck_mode *out) {
    for (int i = 0; name && i <= FNN_GRADCHECK_DIRECTIONS; i++) {
        if (strcmp(name, MODE_NAMES[i]) == 0) {
            *out = (fnn_gradcheck_mode)i;
            return FNN_OK;
        }
    }
    return FNN_ERR_INVALID;
}

const char *fnn_gradcheck_verdict_name(fnn_gradcheck_verdict verdict) {
    if ((int)verdict < 0 || verdict > FNN_GRADCHECK_NOT_CHECKED) {
        return "unknown";
    }
    return VERDICT_NAMES[verdict];
}

void fnn_gradcheck_report_free(fnn_gradcheck_report *report) {
    if (!report) {
        return;
    }
    free(report->blocks);
    memset(report, 0, sizeof *report);
}

double gc_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

fnn_status gc_check_options(const fnn_gradcheck_options *o, fnn_error *err) {
    if (!(o->epsilon > 0) || !isfinite(o->epsilon)) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "invalid epsilon %g: expected a finite value > 0",
                        o->epsilon);
    }
    if (!(o->pass_threshold > 0) || !(o->fail_threshold >= o->pass_threshold)
        || !isfinite(o->fail_threshold)) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "invalid thresholds pass %g, fail %g: expected "
                        "0 < pass <= fail",
                        o->pass_threshold, o->fail_threshold);
    }
    if ((int)o->mode < 0 || o->mode > FNN_GRADCHECK_DIRECTIONS) {
        return fnn_fail(err, FNN_ERR_INVALID, "invalid mode %d", (int)o->mode);
    }
    if (o->per_block < 1 || o->directions < 1 || o->max_full_params < 0) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "invalid per_block %d or directions %d: expected >= 1",
                        o->per_block, o->directions);
    }
    if (o->worst < 1 || o->worst > FNN_GRADCHECK_MAX_WORST) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "invalid worst %d: expected 1 to %d", o->worst,
                        FNN_GRADCHECK_MAX_WORST);
    }
    return FNN_OK;
}

fnn_status gc_report_init(fnn_gradcheck_report *r, int n_blocks,
                          const fnn_gradcheck_options *o, int64_t n) {
    memset(r, 0, sizeof *r);
    r->blocks = calloc((size_t)n_blocks, sizeof *r->blocks);
    if (!r->blocks) {
        return FNN_ERR_NOMEM;
    }
    r->n_blocks = n_blocks;
    r->epsilon = o->epsilon;
    r->parameters = n;
    r->first_failure = -1;
    r->keep_prob = 1;
    return FNN_OK;
}

// Sums of squares behind one relative difference: with kink handling
// (diff, numerical) and with plain central differences (cdiff, central).
typedef struct sums {
    double diff, analytic, numerical, cdiff, central;
    int64_t checked, kinks;
} sums;

typedef struct checker {
    const gc_target *t;
    const fnn_gradcheck_options *o;
    fnn_gradcheck_report *r;
    sums *block_sums; // [n_blocks]
    sums total;
} checker;

static void add_sums(sums *s, const fnn_gradcheck_coord *c) {
    double d = c->analytic - c->numerical;
    double cd = c->analytic - c->central;
    s->diff += d * d;
    s->analytic += c->analytic * c->analytic;
    s->numerical += c->numerical * c->numerical;
    s->cdiff += cd * cd;
    s->central += c->central * c->central;
    s->checked++;
    s->kinks += c->kink;
}

// ||d|| / (||a|| + ||n||), 0 when both norms are 0, NaN when not finite.
static double relative(double diff, double analytic, double numerical) {
    double denom = sqrt(analytic) + sqrt(numerical);
    if (denom == 0 && diff == 0) {
        return 0;
    }
    return sqrt(diff) / denom;
}

static fnn_gradcheck_verdict judge(double rel,
                                   const fnn_gradcheck_options *o) {
    if (rel < o->pass_threshold) {
        return FNN_GRADCHECK_PASS;
    }
    return rel < o->fail_threshold ? FNN_GRADCHECK_WARN : FNN_GRADCHECK_FAIL;
}

// Inserts c into list [*n] (capacity cap), ordered by abs_diff, largest
// first; a NaN difference ranks above every number.
static void insert_worst(fnn_gradcheck_coord *list, int *n, int cap,
                         const fnn_gradcheck_coord *c) {
    double v = isnan(c->abs_diff) ? INFINITY : c->abs_diff;
    int at = *n;
    while (at > 0) {
        double w = list[at - 1].abs_diff;
        if (!(v > (isnan(w) ? INFINITY : w))) {
            break;
        }
        at--;
    }
    if (at >= cap) {
        return;
    }
    int last = *n < cap ? *n : cap - 1;
    memmove(list + at + 1, list + at, (size_t)(last - at) * sizeof *list);
    list[at] = *c;
    if (*n < cap) {
        (*n)++;
    }
}

// Judges one compared value from its two one-sided cost differences: dj_plus
// at step h_plus > 0 and dj_minus at step -h_minus.
static void judge_value(fnn_gradcheck_coord *c, double dj_plus,
                        double h_plus, double dj_minus, double h_minus) {
    c->central = (dj_plus - dj_minus) / (h_plus + h_minus);
    c->numerical = c->central;
    c->left = c->right = NAN;
    if (c->kink) {
        // Across a kink the central difference averages two slopes. A
        // correct backprop returns a one-sided derivative (or a value
        // between them), so judge by the distance to [left, right].
        c->left = -dj_minus / h_minus;
        c->right = dj_plus / h_plus;
        double lo = fmin(c->left, c->right);
        double hi = fmax(c->left, c->right);
        c->numerical = fmin(fmax(c->analytic, lo), hi);
        if (isnan(c->left) || isnan(c->right) || isnan(c->analytic)) {
            c->numerical = NAN;
        }
    }
    c->abs_diff = fabs(c->analytic - c->numerical);
}

static void record(checker *ck, fnn_gradcheck_coord *c) {
    int cap = ck->o->worst;
    if (c->block >= 0) {
        fnn_gradcheck_block *b = &ck->r->blocks[c->block];
        add_sums(&ck->block_sums[c->block], c);
        insert_worst(b->worst, &b->n_worst, cap, c);
    }
    add_sums(&ck->total, c);
    insert_worst(ck->r->worst, &ck->r->n_worst, cap, c);
    ck->r->evaluations += 2;
}

// Coordinates compared per call of the evaluator: both signs of each, so
// 2 * CHUNK evaluations of J that the network's evaluator can run in one
// pass when they share a column of a pre-activation.
#define CHUNK 8

// Compares the count <= CHUNK coordinates ks of one block.
static fnn_status check_coords(checker *ck, int block, const int64_t *ks,
                               int count) {
    const gc_target *t = ck->t;
    const fnn_gradcheck_block *b = &ck->r->blocks[block];
    double eps = ck->o->epsilon;
    int64_t k[2 * CHUNK] = {0};
    double h[2 * CHUNK] = {0};
    double dj[2 * CHUNK];
    double step[2 * CHUNK];
    int kink[2 * CHUNK] = {0};
    for (int e = 0; e < count; e++) {
        k[2 * e] = k[2 * e + 1] = ks[e];
        h[2 * e] = eps;
        h[2 * e + 1] = -eps;
    }
    fnn_status s = t->coords(t->ctx, 2 * count, k, h, dj, step, kink);
    if (s != FNN_OK) {
        return s;
    }
    for (int e = 0; e < count; e++) {
        fnn_gradcheck_coord c = {
            .index = ks[e],
            .block = block,
            .layer = b->layer,
            .row = (ks[e] - b->offset) / b->cols,
            .col = (ks[e] - b->offset) % b->cols,
            .analytic = t->grad[ks[e]],
            .kink = kink[2 * e] | kink[2 * e + 1],
        };
        judge_value(&c, dj[2 * e], step[2 * e], dj[2 * e + 1],
                    -step[2 * e + 1]);
        record(ck, &c);
    }
    return FNN_OK;
}

static fnn_status run_full(checker *ck) {
    fnn_gradcheck_report *r = ck->r;
    for (int b = 0; b < r->n_blocks; b++) {
        const fnn_gradcheck_block *blk = &r->blocks[b];
        int64_t end = blk->offset + blk->rows * blk->cols;
        for (int64_t k = blk->offset; k < end; k += CHUNK) {
            int64_t ks[CHUNK];
            int count = end - k < CHUNK ? (int)(end - k) : CHUNK;
            for (int e = 0; e < count; e++) {
                ks[e] = k + e;
            }
            fnn_status s = check_coords(ck, b, ks, count);
            if (s != FNN_OK) {
                return s;
            }
        }
    }
    return FNN_OK;
}

static int compare_index(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

// Chooses count of the size coordinates of a block into pick [count]: the
// one with the largest |analytic| first, then distinct random others
// (partial Fisher-Yates over idx [size]), sorted for locality.
static void choose_coords(const double *grad, int64_t size, int64_t count,
                          fnn_rng *rng, int64_t *idx, int64_t *pick) {
    int64_t best = 0;
    for (int64_t i = 0; i < size; i++) {
        idx[i] = i;
        if (fabs(grad[i]) > fabs(grad[best])) {
            best = i;
        }
    }
    idx[best] = 0;
    idx[0] = best;
    for (int64_t i = 1; i < count; i++) {
        int64_t j = i + (int64_t)fnn_rng_below(rng, (uint64_t)(size - i));
        int64_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
    memcpy(pick, idx, (size_t)count * sizeof *pick);
    qsort(pick, (size_t)count, sizeof *pick, compare_index);
}

static fnn_status run_per_block(checker *ck) {
    fnn_gradcheck_report *r = ck->r;
    fnn_rng rng;
    fnn_rng_seed(&rng, ck->o->seed);
    int64_t largest = 1;
    for (int b = 0; b < r->n_blocks; b++) {
        int64_t size = r->blocks[b].rows * r->blocks[b].cols;
        largest = size > largest ? size : largest;
    }
    int64_t *idx = malloc((size_t)largest * sizeof *idx);
    int64_t *pick = malloc((size_t)largest * sizeof *pick);
    fnn_status s = idx && pick ? FNN_OK : FNN_ERR_NOMEM;
    for (int b = 0; s == FNN_OK && b < r->n_blocks; b++) {
        const fnn_gradcheck_block *blk = &r->blocks[b];
        int64_t size = blk->rows * blk->cols;
        int64_t count = size < ck->o->per_block ? size : ck->o->per_block;
        if (count == 0) {
            continue;
        }
        choose_coords(ck->t->grad + blk->offset, size, count, &rng, idx,
                      pick);
        for (int64_t i = 0; i < count; i++) {
            pick[i] += blk->offset;
        }
        for (int64_t i = 0; s == FNN_OK && i < count; i += CHUNK) {
            int n = count - i < CHUNK ? (int)(count - i) : CHUNK;
            s = check_coords(ck, b, pick + i, n);
        }
    }
    free(idx);
    free(pick);
    return s;
}

// Fills u [n] with a uniformly random unit vector (normalized Gaussian).
static void random_direction(fnn_rng *rng, double *u, int64_t n) {
    double norm = 0;
    for (int64_t i = 0; i < n; i++) {
        u[i] = fnn_rng_normal(rng);
        norm += u[i] * u[i];
    }
    norm = sqrt(norm);
    for (int64_t i = 0; i < n; i++) {
        u[i] /= norm;
    }
}

// Steps eps sqrt(n) along each unit direction, so that each of the n
// parameters moves by about eps (in root mean square), as one coordinate
// does in the other modes. A step of eps along a unit vector would move
// each parameter by eps / sqrt(n), 4e-10 for 50890 parameters at 1e-7, and
// the difference of the two costs would drown in their rounding.
static fnn_status run_directions(checker *ck) {
    const gc_target *t = ck->t;
    double eps = ck->o->epsilon * sqrt((double)t->n);
    double *u = malloc((size_t)t->n * sizeof *u);
    if (!u) {
        return FNN_ERR_NOMEM;
    }
    fnn_rng rng;
    fnn_rng_seed(&rng, ck->o->seed);
    fnn_status s = FNN_OK;
    for (int i = 0; s == FNN_OK && i < ck->o->directions; i++) {
        random_direction(&rng, u, t->n);
        double dot = 0;
        for (int64_t k = 0; k < t->n; k++) {
            dot += t->grad[k] * u[k];
        }
        double dj_plus, dj_minus;
        int kink = 0;
        s = t->direction(t->ctx, u, eps, &dj_plus, &kink);
        if (s == FNN_OK) {
            s = t->direction(t->ctx, u, -eps, &dj_minus, &kink);
        }
        if (s == FNN_OK) {
            fnn_gradcheck_coord c = {.index = i, .block = -1, .layer = -1,
                                     .row = -1, .col = -1, .analytic = dot,
                                     .kink = kink};
            judge_value(&c, dj_plus, eps, dj_minus, eps);
            record(ck, &c);
        }
    }
    free(u);
    return s;
}

static void finish_report(checker *ck) {
    fnn_gradcheck_report *r = ck->r;
    const fnn_gradcheck_options *o = ck->o;
    const sums *t = &ck->total;
    r->relative_difference = relative(t->diff, t->analytic, t->numerical);
    r->central_relative_difference = relative(t->cdiff, t->analytic,
                                              t->central);
    r->verdict = judge(r->relative_difference, o);
    r->parameters_checked = t->checked;
    r->kinks = t->kinks;
    for (int b = 0; b < r->n_blocks; b++) {
        fnn_gradcheck_block *blk = &r->blocks[b];
        const sums *s = &ck->block_sums[b];
        blk->checked = s->checked;
        blk->kinks = s->kinks;
        if (r->mode == FNN_GRADCHECK_DIRECTIONS) {
            blk->relative_difference = NAN;
            blk->verdict = FNN_GRADCHECK_NOT_CHECKED;
            continue;
        }
        blk->relative_difference = relative(s->diff, s->analytic,
                                            s->numerical);
        blk->verdict = judge(blk->relative_difference, o);
        if (blk->verdict != FNN_GRADCHECK_FAIL) {
            continue;
        }
        int f = r->first_failure;
        if (f < 0 || blk->layer > r->blocks[f].layer ||
            (blk->layer == r->blocks[f].layer &&
             !(blk->relative_difference <=
               r->blocks[f].relative_difference))) {
            r->first_failure = b;
        }
    }
}

fnn_status gc_check(const gc_target *t, const fnn_gradcheck_options *o,
                    fnn_gradcheck_report *r, fnn_error *err) {
    FNN_ASSERT(o->mode != FNN_GRADCHECK_AUTO);
    double start = gc_now_seconds();
    checker ck = {.t = t, .o = o, .r = r};
    ck.block_sums = calloc((size_t)r->n_blocks, sizeof *ck.block_sums);
    if (!ck.block_sums) {
        return fnn_fail(err, FNN_ERR_NOMEM, "out of memory for the check");
    }
    r->mode = o->mode;
    fnn_status s;
    if (o->mode == FNN_GRADCHECK_FULL) {
        s = run_full(&ck);
    } else if (o->mode == FNN_GRADCHECK_PER_BLOCK) {
        s = run_per_block(&ck);
    } else {
        s = run_directions(&ck);
    }
    if (s == FNN_OK) {
        finish_report(&ck);
    }
    free(ck.block_sums);
    r->seconds = gc_now_seconds() - start;
    if (s == FNN_ERR_NOMEM) {
        return fnn_fail(err, s, "out of memory for the check");
    }
    if (s == FNN_ERR_INTERRUPTED) {
        return fnn_fail(err, s, "the cost function returned an error");
    }
    if (s != FNN_OK) {
        return fnn_fail(err, s, "the cost evaluation failed: %s",
                        fnn_status_str(s));
    }
    return FNN_OK;
}

// ---------------------------------------------------------------------------
// A user's cost function

typedef struct function_ctx {
    fnn_cost_fn cost;
    void *user;
    const double *theta; // the caller's vector, never written
    double *work;        // copy that is perturbed and restored
    int64_t n;
    double j0;
} function_ctx;

static fnn_status function_eval(function_ctx *f, double *dj) {
    double j;
    if (f->cost(f->user, f->work, &j, NULL) != 0) {
        return FNN_ERR_INTERRUPTED;
    }
    *dj = j - f->j0;
    return FNN_OK;
}

static fnn_status function_coords(void *ctx, int n, const int64_t *k,
                                  const double *h, double *dj, double *step,
                                  int *kink) {
    (void)kink;
    function_ctx *f = ctx;
    fnn_status s = FNN_OK;
    for (int e = 0; s == FNN_OK && e < n; e++) {
        double saved = f->work[k[e]];
        f->work[k[e]] = saved + h[e];
        step[e] = f->work[k[e]] - saved;
        s = function_eval(f, &dj[e]);
        f->work[k[e]] = saved;
    }
    return s;
}

static fnn_status function_direction(void *ctx, const double *u, double h,
                                     double *dj, int *kink) {
    (void)kink;
    function_ctx *f = ctx;
    for (int64_t i = 0; i < f->n; i++) {
        f->work[i] = f->theta[i] + h * u[i];
    }
    fnn_status s = function_eval(f, dj);
    memcpy(f->work, f->theta, (size_t)f->n * sizeof *f->work);
    return s;
}

static fnn_status function_blocks(fnn_gradcheck_report *r, int64_t n,
                                  const fnn_gradcheck_block_spec *blocks,
                                  fnn_error *err) {
    int64_t offset = 0;
    for (int b = 0; b < r->n_blocks; b++) {
        fnn_gradcheck_block *blk = &r->blocks[b];
        const fnn_gradcheck_block_spec *spec = blocks ? &blocks[b] : NULL;
        int64_t rows = spec ? spec->rows : n;
        int64_t cols = spec ? spec->cols : 1;
        int64_t size;
        if (rows < 1 || cols < 1 || !fnn_mul_size(rows, cols, &size) ||
            size > n - offset) {
            return fnn_fail(err, FNN_ERR_INVALID,
                            "block %d [%lld, %lld] does not fit in the %lld "
                            "parameters after offset %lld",
                            b, (long long)rows, (long long)cols, (long long)n,
                            (long long)offset);
        }
        snprintf(blk->name, sizeof blk->name, "%s",
                 spec && spec->name ? spec->name : "theta");
        blk->layer = b;
        blk->offset = offset;
        blk->rows = rows;
        blk->cols = cols;
        offset += size;
    }
    if (offset != n) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "the blocks cover %lld of the %lld parameters",
                        (long long)offset, (long long)n);
    }
    return FNN_OK;
}

static fnn_status function_setup(function_ctx *f, double *grad,
                                 fnn_error *err) {
    memcpy(f->work, f->theta, (size_t)f->n * sizeof *f->work);
    if (f->cost(f->user, f->work, &f->j0, grad) != 0) {
        return fnn_fail(err, FNN_ERR_INTERRUPTED,
                        "the cost function returned an error at theta");
    }
    if (!isfinite(f->j0)) {
        return fnn_fail(err, FNN_ERR_NONFINITE,
                        "the cost at theta is %g: the check needs a finite "
                        "cost",
                        f->j0);
    }
    memcpy(f->work, f->theta, (size_t)f->n * sizeof *f->work);
    return FNN_OK;
}

fnn_status fnn_gradcheck_function(fnn_cost_fn cost, void *user,
                                  const double *theta, int64_t n,
                                  const fnn_gradcheck_block_spec *blocks,
                                  int n_blocks,
                                  const fnn_gradcheck_options *opts,
                                  fnn_gradcheck_report *report,
                                  fnn_error *err) {
    fnn_gradcheck_options o = opts ? *opts : fnn_gradcheck_options_default();
    if (!cost || !theta || n < 1 || !report || (blocks && n_blocks < 1)) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "missing cost function, parameters or report");
    }
    fnn_status s = gc_check_options(&o, err);
    if (s != FNN_OK) {
        return s;
    }
    if (o.mode == FNN_GRADCHECK_AUTO) {
        o.mode = n <= o.max_full_params ? FNN_GRADCHECK_FULL
                                        : FNN_GRADCHECK_PER_BLOCK;
    }
    if (gc_report_init(report, blocks ? n_blocks : 1, &o, n) != FNN_OK) {
        return fnn_fail(err, FNN_ERR_NOMEM, "out of memory for the report");
    }
    function_ctx f = {.cost = cost, .user = user, .theta = theta, .n = n};
    f.work = malloc((size_t)n * sizeof *f.work);
    double *grad = malloc((size_t)n * sizeof *grad);
    s = f.work && grad ? FNN_OK
                       : fnn_fail(err, FNN_ERR_NOMEM,
                                  "out of memory for %lld parameters",
                                  (long long)n);
    if (s == FNN_OK) {
        s = function_blocks(report, n, blocks, err);
    }
    if (s == FNN_OK) {
        s = function_setup(&f, grad, err);
    }
    if (s == FNN_OK) {
        gc_target t = {.n = n, .grad = grad, .coords = function_coords,
                       .direction = function_direction, .ctx = &f};
        s = gc_check(&t, &o, report, err);
    }
    free(f.work);
    free(grad);
    if (s != FNN_OK) {
        fnn_gradcheck_report_free(report);
    }
    return s;
}
