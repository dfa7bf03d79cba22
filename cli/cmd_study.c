// fastnn study: measures how input normalization and weight initialization
// change training, by training the same network under each condition.
#include "cli.h"
#include "commands.h"
#include "plot.h"
#include "progress.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_INIT FNN_INIT_HE
#define N_INITS (FNN_INIT_ZEROS - FNN_INIT_HE + 1)
#define MAX_RATES 64
// The default of --inits, every initialization but auto.
#define ALL_INITS "he,he-uniform,xavier,xavier-uniform,lecun,small,normal,zeros"

typedef struct study_args {
    cli_net_flags net;
    const char *optimizer;
    double momentum;
    int batch_size;
    int steps;
    int window;
    int json;
    const char *plot;
    // normalization
    double lr_min;
    double lr_max;
    int lr_points;
    double target_loss;
    // init
    double learning_rate;
    const char *inits;
    int record_every;
} study_args;

// One training run: the loss of every step and, for the init study, the
// per-layer gradient norms every record_every steps.
typedef struct study_run {
    double learning_rate;
    fnn_init init;
    int max_steps;
    int window;
    double target;   // stop when the smoothed loss reaches it; NaN: never
    int steps;       // steps completed
    double *losses;  // [max_steps] loss of each mini-batch
    int diverged;    // the loss turned non-finite at step steps + 1
    int blown;       // first step whose smoothed loss exceeded
                     // DIVERGED_RISE times the first mini-batch's, or 0
    int reached;     // step at which the smoothed loss reached target, or 0
    fnn_net *net;    // while training, for the gradient norms
    int record_every;
    int n_layers;
    int n_records;
    int *record_step;    // [n_records]
    double *grad_norms;  // [n_records, n_layers]
} study_run;

// Mean of the last min(step, window) losses up to `step` (1-based).
static double smoothed(const study_run *r, int step) {
    int first = step > r->window ? step - r->window : 0;
    double sum = 0;
    for (int i = first; i < step; i++) {
        sum += r->losses[i];
    }
    return sum / (step - first);
}

static void record_gradients(study_run *r) {
    const fnn_net_options *o = fnn_net_get_options(r->net);
    int f64 = o->dtype == FNN_F64;
    const char *grads = fnn_net_grads(r->net);
    double *out = r->grad_norms + (size_t)r->n_records * r->n_layers;
    for (int l = 0; l < o->n_layers; l++) {
        int64_t n = (int64_t)o->sizes[l] * o->sizes[l + 1];
        size_t off = (size_t)fnn_net_weight_offset(r->net, l);
        double sq = 0;
        for (int64_t i = 0; i < n; i++) {
            double g = f64 ? ((const double *)grads)[off + i]
                           : ((const float *)grads)[off + i];
            sq += g * g;
        }
        out[l] = sqrt(sq);
    }
    r->record_step[r->n_records++] = r->steps;
}

// A run diverged when its smoothed loss exceeds this factor times its first
// mini-batch's loss, even if it recovers later. A normalization run stops
// there.
#define DIVERGED_RISE 10.0

// on_batch callback: the gradient vector still contains this step's gradient.
static int on_batch(void *user, int epoch, int64_t batch, int64_t n_batches,
                    double loss) {
    (void)epoch;
    (void)batch;
    (void)n_batches;
    study_run *r = user;
    r->losses[r->steps++] = loss;
    if (r->grad_norms &&
        (r->steps == 1 || r->steps % r->record_every == 0 ||
         r->steps == r->max_steps)) {
        record_gradients(r);
    }
    if (!r->blown && (!isfinite(loss) || smoothed(r, r->steps) >
                                             DIVERGED_RISE * r->losses[0])) {
        r->blown = r->steps;
        // The init study keeps training to record the gradients.
        if (!r->grad_norms) {
            return 1;
        }
    }
    if (!r->reached && smoothed(r, r->steps) <= r->target) {
        r->reached = r->steps;
        return 1;
    }
    return r->steps >= r->max_steps;
}

static void run_free(study_run *r) {
    free(r->losses);
    free(r->record_step);
    free(r->grad_norms);
}

static int run_alloc(study_run *r, int n_layers, int record) {
    r->losses = calloc((size_t)r->max_steps, sizeof(double));
    if (record) {
        int n = r->max_steps / r->record_every + 2;
        r->n_layers = n_layers;
        r->record_step = calloc((size_t)n, sizeof(int));
        r->grad_norms = calloc((size_t)n * n_layers, sizeof(double));
    }
    return r->losses && (!record || (r->record_step && r->grad_norms)) ? 0
                                                                      : -1;
}

// Trains a fresh network built from `o` for r->max_steps steps at most.
static int train_run(const study_args *a, fnn_net_options o,
                     const fnn_norm *norm, const fnn_dataset *ds,
                     study_run *r) {
    fnn_status s;
    o.init = r->init;
    r->net = fnn_net_create(&o, &s);
    if (!r->net) {
        cli_error("cannot create the network: %s", fnn_status_str(s));
        return CLI_EXIT_USAGE;
    }
    s = norm ? fnn_net_set_normalization(r->net, norm->mean, norm->std)
             : FNN_OK;
    fnn_train_options t = fnn_train_options_default();
    t.batch_size = a->batch_size;
    int64_t n_batches = (ds->n_rows + a->batch_size - 1) / a->batch_size;
    t.epochs = (int)((r->max_steps + n_batches - 1) / n_batches);
    t.schedule = FNN_SCHEDULE_CONSTANT;
    fnn_optimizer_parse(a->optimizer, &t.optim.kind);
    t.optim.learning_rate = r->learning_rate;
    t.optim.momentum = a->momentum;
    t.on_batch = on_batch;
    t.user = r;
    fnn_error err = {{0}};
    if (s == FNN_OK) {
        s = fnn_train(r->net, ds, NULL, &t, &err);
    }
    fnn_net_free(r->net);
    r->net = NULL;
    r->diverged = s == FNN_ERR_NONFINITE;
    if (s != FNN_OK && s != FNN_ERR_NONFINITE && s != FNN_ERR_INTERRUPTED) {
        cli_error("%s", err.message);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

// A run that did not reach the target also diverged when its smoothed loss
// at the end exceeds the smoothed loss of its first window by more than
// this factor. The margin keeps a run at a tiny rate, whose loss only
// jitters, from counting as diverged.
#define DIVERGED_GROWTH 1.1

static int run_diverged(const study_run *r) {
    if (r->diverged || r->blown || r->steps == 0) {
        return 1;
    }
    int first = r->steps < r->window ? r->steps : r->window;
    return !r->reached &&
           smoothed(r, r->steps) > DIVERGED_GROWTH * smoothed(r, first);
}

// First step of divergence, NaN for a run that did not diverge that way.
static double diverged_step(const study_run *r) {
    if (r->blown) {
        return r->blown;
    }
    return r->diverged ? r->steps + 1 : NAN;
}

static const char *outcome(const study_run *r) {
    if (run_diverged(r)) {
        return "diverged";
    }
    return r->reached ? "reached" : "stalled";
}

static void add_number(cJSON *obj, const char *key, double v) {
    if (isfinite(v)) {
        cJSON_AddNumberToObject(obj, key, v);
    } else {
        cJSON_AddNullToObject(obj, key);
    }
}

static cJSON *numbers(const double *v, int n) {
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON_AddItemToArray(list, isfinite(v[i]) ? cJSON_CreateNumber(v[i])
                                                  : cJSON_CreateNull());
    }
    return list;
}

// Per-step smoothed losses of a run, for the plots.
static double *smoothed_curve(const study_run *r, double *x) {
    double *y = malloc(((size_t)r->steps + 1) * sizeof(double));
    for (int i = 0; y && i < r->steps; i++) {
        x[i] = i + 1;
        y[i] = smoothed(r, i + 1);
    }
    return y;
}

// ---------------------------------------------------------------------------
// study normalization

// The runs of one side (raw or normalized inputs) over the rate grid.
typedef struct side {
    const char *name;
    study_run runs[MAX_RATES];
    int best;    // run with the fewest steps to target, or -1
    int stable;  // largest rate that did not diverge, or -1
} side;

static void summarize(side *s, int n_rates) {
    s->best = -1;
    s->stable = -1;
    for (int i = 0; i < n_rates; i++) {
        const study_run *r = &s->runs[i];
        if (!run_diverged(r)) {
            s->stable = i;
        }
        // Ties go to the larger rate.
        if (r->reached && !run_diverged(r) &&
            (s->best < 0 || r->reached <= s->runs[s->best].reached)) {
            s->best = i;
        }
    }
}

// The run shown for a side: the best one, else the run that did not
// diverge with the lowest final smoothed loss.
static const study_run *shown_run(const side *s, int n_rates) {
    if (s->best >= 0) {
        return &s->runs[s->best];
    }
    const study_run *shown = NULL;
    for (int i = 0; i < n_rates; i++) {
        const study_run *r = &s->runs[i];
        if (!run_diverged(r) &&
            (!shown ||
             smoothed(r, r->steps) < smoothed(shown, shown->steps))) {
            shown = r;
        }
    }
    return shown;
}

static void print_side(FILE *out, const side *s, int n_rates,
                       const study_args *a) {
    fprintf(out, "%s inputs\n%14s %-9s %10s %12s\n", s->name,
            "learning rate", "outcome", "steps", "final loss");
    for (int i = 0; i < n_rates; i++) {
        const study_run *r = &s->runs[i];
        double final = r->steps ? smoothed(r, r->steps) : NAN;
        fprintf(out, "%14.3g %-9s %10d %12.4g\n", r->learning_rate,
                outcome(r), r->diverged ? r->steps + 1 : r->steps, final);
    }
    if (s->stable >= 0) {
        fprintf(out, "largest rate that did not diverge: %g\n",
                s->runs[s->stable].learning_rate);
    } else {
        fprintf(out, "every rate diverged\n");
    }
    if (s->best >= 0) {
        fprintf(out, "best rate: %g, reaching loss %g in %d steps\n\n",
                s->runs[s->best].learning_rate, a->target_loss,
                s->runs[s->best].reached);
    } else {
        fprintf(out, "no rate reached loss %g within %d steps", a->target_loss,
                a->steps);
        const study_run *r = shown_run(s, n_rates);
        if (r) {
            fprintf(out, "; lowest final loss %.4g at rate %g",
                    smoothed(r, r->steps), r->learning_rate);
        }
        fprintf(out, "\n\n");
    }
}

// Prints and stores the comparison: steps raw / steps normalized.
static void compare_sides(FILE *out, const side *raw, const side *norm,
                          const study_args *a, cJSON *obj) {
    if (raw->best >= 0 && norm->best >= 0) {
        double ratio = (double)raw->runs[raw->best].reached /
                       norm->runs[norm->best].reached;
        fprintf(out, "steps to loss %g: raw %d, normalized %d, ratio %.3g\n",
                a->target_loss, raw->runs[raw->best].reached,
                norm->runs[norm->best].reached, ratio);
        add_number(obj, "ratio", ratio);
    } else if (norm->best >= 0) {
        double bound = (double)a->steps / norm->runs[norm->best].reached;
        fprintf(out, "steps to loss %g: raw not reached in %d, normalized %d, "
                     "ratio > %.3g\n",
                a->target_loss, a->steps, norm->runs[norm->best].reached,
                bound);
        add_number(obj, "ratio_lower_bound", bound);
    } else {
        fprintf(out, "steps to loss %g: normalized inputs did not reach it, "
                     "so there is no ratio\n",
                a->target_loss);
    }
}

static cJSON *side_json(const side *s, int n_rates) {
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "inputs", s->name);
    cJSON *runs = cJSON_AddArrayToObject(obj, "runs");
    for (int i = 0; i < n_rates; i++) {
        const study_run *r = &s->runs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "learning_rate", r->learning_rate);
        cJSON_AddStringToObject(o, "outcome", outcome(r));
        cJSON_AddNumberToObject(o, "steps_run", r->steps);
        add_number(o, "steps_to_target", r->reached ? r->reached : NAN);
        add_number(o, "diverged_step", diverged_step(r));
        add_number(o, "final_loss", r->steps ? smoothed(r, r->steps) : NAN);
        cJSON_AddItemToArray(runs, o);
    }
    add_number(obj, "largest_stable_rate",
               s->stable >= 0 ? s->runs[s->stable].learning_rate : NAN);
    add_number(obj, "best_rate",
               s->best >= 0 ? s->runs[s->best].learning_rate : NAN);
    add_number(obj, "steps_to_target",
               s->best >= 0 ? s->runs[s->best].reached : NAN);
    const study_run *shown = shown_run(s, n_rates);
    if (shown) {
        cJSON_AddNumberToObject(obj, "shown_rate", shown->learning_rate);
        cJSON_AddItemToObject(obj, "losses",
                              numbers(shown->losses, shown->steps));
    }
    return obj;
}

static int draw_sides(const char *path, const side *sides,
                      const study_args *a) {
    plot_series series[2];
    double *bufs[4] = {0};
    char titles[2][96];
    int n = 0;
    for (int i = 0; i < 2; i++) {
        const study_run *r = shown_run(&sides[i], a->lr_points);
        if (!r || r->steps == 0) {
            continue;
        }
        bufs[2 * i] = malloc(((size_t)r->steps + 1) * sizeof(double));
        bufs[2 * i + 1] = bufs[2 * i] ? smoothed_curve(r, bufs[2 * i]) : NULL;
        snprintf(titles[i], sizeof titles[i], "%s inputs, rate %.3g",
                 sides[i].name, r->learning_rate);
        series[n++] = (plot_series){.title = titles[i], .x = bufs[2 * i],
                                    .y = bufs[2 * i + 1], .n = r->steps};
    }
    int rc = CLI_EXIT_USAGE;
    if (!bufs[1] && !bufs[3] && n > 0) {
        cli_error("out of memory for the plot");
    } else {
        char ylabel[96];
        snprintf(ylabel, sizeof ylabel, "training loss, mean of last %d "
                                        "batches (nats)",
                 a->window);
        plot_panel panel = {
            .title = "raw vs normalized inputs (dashed: target loss)",
            .xlabel = "training step (mini-batches, log scale)",
            .ylabel = ylabel, .log_x = 1, .log_y = 1, .integer_x = 1,
            .hlines = {a->target_loss},
            .n_hlines = 1, .series = series, .n_series = n};
        rc = plot_draw(path, "fastnn study normalization", &panel, 1);
    }
    for (int i = 0; i < 4; i++) {
        free(bufs[i]);
    }
    return rc;
}

static int run_side(const study_args *a, const fnn_net_options *o,
                    const fnn_norm *norm, const fnn_dataset *ds, side *s) {
    double step = a->lr_points > 1
                      ? log(a->lr_max / a->lr_min) / (a->lr_points - 1)
                      : 0;
    for (int i = 0; i < a->lr_points; i++) {
        study_run *r = &s->runs[i];
        *r = (study_run){.learning_rate = a->lr_min * exp(step * i),
                         .init = o->init, .max_steps = a->steps,
                         .window = a->window, .target = a->target_loss};
        if (run_alloc(r, o->n_layers, 0) != 0) {
            cli_error("out of memory for %d steps", a->steps);
            return CLI_EXIT_USAGE;
        }
        int rc = train_run(a, *o, norm, ds, r);
        if (rc >= 0) {
            return rc;
        }
        fprintf(stderr, "fastnn: %s inputs, rate %g: %s, %d steps\n",
                s->name, r->learning_rate, outcome(r),
                r->diverged ? r->steps + 1 : r->steps);
    }
    summarize(s, a->lr_points);
    return -1;
}

static int study_normalization(const study_args *a, const fnn_dataset *ds,
                               const fnn_net_options *o, const fnn_norm *norm) {
    side *sides = calloc(2, sizeof *sides);
    if (!sides) {
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    sides[0].name = "raw";
    sides[1].name = "normalized";
    int rc = run_side(a, o, NULL, ds, &sides[0]);
    if (rc < 0) {
        rc = run_side(a, o, norm, ds, &sides[1]);
    }
    if (rc < 0) {
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "study", "normalization");
        cJSON_AddNumberToObject(obj, "target_loss", a->target_loss);
        cJSON_AddNumberToObject(obj, "window", a->window);
        cJSON_AddNumberToObject(obj, "max_steps", a->steps);
        cJSON_AddStringToObject(obj, "optimizer", a->optimizer);
        cJSON_AddNumberToObject(obj, "batch_size", a->batch_size);
        // With --json the table goes to stderr, so stdout contains only JSON.
        FILE *out = a->json ? stderr : stdout;
        print_side(out, &sides[0], a->lr_points, a);
        print_side(out, &sides[1], a->lr_points, a);
        compare_sides(out, &sides[0], &sides[1], a, obj);
        cJSON *list = cJSON_AddArrayToObject(obj, "sides");
        cJSON_AddItemToArray(list, side_json(&sides[0], a->lr_points));
        cJSON_AddItemToArray(list, side_json(&sides[1], a->lr_points));
        if (a->json) {
            progress_print_json(obj);
        } else {
            cJSON_Delete(obj);
        }
        rc = a->plot ? draw_sides(a->plot, sides, a) : CLI_EXIT_OK;
    }
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < MAX_RATES; k++) {
            run_free(&sides[i].runs[k]);
        }
    }
    free(sides);
    return rc;
}

// ---------------------------------------------------------------------------
// study init

// "trained" when the smoothed loss fell below 1 / DIVERGED_GROWTH of its
// first window's, the same 10% margin that marks divergence.
static const char *init_outcome(const study_run *r) {
    if (r->diverged || r->blown || r->steps == 0) {
        return "diverged";
    }
    int first = r->steps < r->window ? r->steps : r->window;
    double start = smoothed(r, first);
    double end = smoothed(r, r->steps);
    if (end > DIVERGED_GROWTH * start) {
        return "diverged";
    }
    return end * DIVERGED_GROWTH < start ? "trained" : "stalled";
}

static int parse_inits(const char *text, fnn_init *inits, int *n) {
    *n = 0;
    char *copy = strdup(text);
    if (!copy) {
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    char *save = NULL;
    int rc = -1;
    for (char *name = strtok_r(copy, ",", &save); name && rc < 0;
         name = strtok_r(NULL, ",", &save)) {
        fnn_init init;
        if (fnn_init_parse(name, &init) != FNN_OK || init == FNN_INIT_AUTO ||
            *n >= N_INITS) {
            rc = cli_bad_choice("inits", name,
                                "at most 8 of he, he-uniform, xavier, "
                                "xavier-uniform, lecun, small, normal, zeros");
        } else {
            inits[(*n)++] = init;
        }
    }
    free(copy);
    if (rc < 0 && *n == 0) {
        rc = cli_bad_choice("inits", text, "a comma-separated list of inits");
    }
    return rc;
}

// Prints the gradient norms of a run at up to five recorded steps.
static void print_gradients(FILE *out, const study_run *r) {
    int picks[5];
    int n = r->n_records < 5 ? r->n_records : 5;
    for (int k = 0; k < n; k++) {
        picks[k] = n > 1 ? (int)lround((double)k * (r->n_records - 1) /
                                       (n - 1))
                         : 0;
    }
    fprintf(out, "||dW[l]|| with init %s\n%5s", fnn_init_name(r->init),
            "layer");
    for (int k = 0; k < n; k++) {
        char head[24];
        snprintf(head, sizeof head, "step %d", r->record_step[picks[k]]);
        fprintf(out, " %12s", head);
    }
    fprintf(out, "\n");
    for (int l = 0; l < r->n_layers; l++) {
        fprintf(out, "%5d", l);
        for (int k = 0; k < n; k++) {
            fprintf(out, " %12.4g",
                    r->grad_norms[(size_t)picks[k] * r->n_layers + l]);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
}

static void print_inits(FILE *out, const study_run *runs, int n) {
    fprintf(out, "%-14s %-9s %6s %12s %12s\n", "init", "outcome", "steps",
            "first loss", "final loss");
    for (int i = 0; i < n; i++) {
        const study_run *r = &runs[i];
        int first = r->steps < r->window ? r->steps : r->window;
        fprintf(out, "%-14s %-9s %6d %12.4g %12.4g\n",
                fnn_init_name(r->init), init_outcome(r),
                r->diverged ? r->steps + 1 : r->steps,
                r->steps ? smoothed(r, first) : NAN,
                r->steps ? smoothed(r, r->steps) : NAN);
    }
    fprintf(out, "(losses are means of the last %d mini-batches; a diverged "
                 "run's steps count the step whose loss was not finite)\n\n",
            runs[0].window);
    for (int i = 0; i < n; i++) {
        if (runs[i].n_records > 0) {
            print_gradients(out, &runs[i]);
        }
    }
}

static cJSON *init_json(const study_run *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "init", fnn_init_name(r->init));
    cJSON_AddStringToObject(o, "outcome", init_outcome(r));
    cJSON_AddNumberToObject(o, "steps_run", r->steps);
    add_number(o, "diverged_step", diverged_step(r));
    add_number(o, "final_loss", r->steps ? smoothed(r, r->steps) : NAN);
    cJSON_AddItemToObject(o, "losses", numbers(r->losses, r->steps));
    cJSON *grads = cJSON_AddArrayToObject(o, "gradient_norms");
    for (int k = 0; k < r->n_records; k++) {
        cJSON *g = cJSON_CreateObject();
        cJSON_AddNumberToObject(g, "step", r->record_step[k]);
        cJSON_AddItemToObject(g, "norms",
                              numbers(r->grad_norms +
                                          (size_t)k * r->n_layers,
                                      r->n_layers));
        cJSON_AddItemToArray(grads, g);
    }
    return o;
}

// Loss curves and the first layer's gradient norm over time, per init.
static int draw_inits(const char *path, const study_run *runs, int n,
                      const study_args *a) {
    plot_series loss[N_INITS];
    plot_series grad[N_INITS];
    char titles[N_INITS][48];
    double *bufs[4 * N_INITS] = {0};
    int ok = 1;
    for (int i = 0; i < n; i++) {
        const study_run *r = &runs[i];
        double **b = bufs + 4 * i;
        b[0] = malloc(((size_t)r->steps + 1) * sizeof(double));
        b[1] = b[0] ? smoothed_curve(r, b[0]) : NULL;
        b[2] = malloc(((size_t)r->n_records + 1) * sizeof(double));
        b[3] = malloc(((size_t)r->n_records + 1) * sizeof(double));
        ok = ok && b[1] && b[2] && b[3];
        for (int k = 0; ok && k < r->n_records; k++) {
            b[2][k] = r->record_step[k];
            b[3][k] = r->grad_norms[(size_t)k * r->n_layers];
        }
        const char *name = fnn_init_name(r->init);
        int diverged = strcmp(init_outcome(r), "diverged") == 0;
        snprintf(titles[i], sizeof titles[i], "%s%s", name,
                 diverged ? " (diverged)" : "");
        loss[i] = (plot_series){.title = titles[i], .x = b[0], .y = b[1],
                                .n = r->steps};
        grad[i] = (plot_series){.title = name, .x = b[2], .y = b[3],
                                .n = r->n_records};
    }
    int rc = CLI_EXIT_USAGE;
    if (!ok) {
        cli_error("out of memory for the plot");
    } else {
        char ylabel[96];
        snprintf(ylabel, sizeof ylabel,
                 "training loss, mean of last %d batches (nats)", a->window);
        // A run that starts at a huge loss, or diverges, would flatten
        // every other curve, so the axis stops at 10 times the largest
        // final loss of the runs that did not diverge.
        double top = 0;
        for (int i = 0; i < n; i++) {
            double end = runs[i].steps ? smoothed(&runs[i], runs[i].steps)
                                       : NAN;
            if (strcmp(init_outcome(&runs[i]), "diverged") != 0 &&
                isfinite(end)) {
                top = fmax(top, 10 * end);
            }
        }
        plot_panel panels[2] = {
            {.title = "loss (axis cut at 10x the largest final loss\n"
                      "of the runs that did not diverge)",
             .xlabel = "training step (mini-batches)", .ylabel = ylabel,
             .log_y = 1, .integer_x = 1, .y_max = isfinite(top) ? top : 0,
             .key = PLOT_KEY_BELOW, .series = loss, .n_series = n},
            {.title = "gradient norm of layers.0 (input side)",
             .xlabel = "training step (mini-batches)",
             .ylabel = "||dW[0]||_F", .log_y = 1, .integer_x = 1,
             .key = PLOT_KEY_NONE, .series = grad, .n_series = n},
        };
        char title[128];
        snprintf(title, sizeof title,
                 "fastnn study init: %s, learning rate %g", a->optimizer,
                 a->learning_rate);
        rc = plot_draw(path, title, panels, 2);
    }
    for (int i = 0; i < 4 * n; i++) {
        free(bufs[i]);
    }
    return rc;
}

static int study_init(const study_args *a, const fnn_dataset *ds,
                      const fnn_net_options *o, const fnn_norm *norm) {
    fnn_init inits[N_INITS];
    int n = 0;
    int rc = parse_inits(a->inits ? a->inits : ALL_INITS, inits, &n);
    study_run runs[N_INITS];
    memset(runs, 0, sizeof runs);
    for (int i = 0; i < n && rc < 0; i++) {
        study_run *r = &runs[i];
        *r = (study_run){.learning_rate = a->learning_rate, .init = inits[i],
                         .max_steps = a->steps, .window = a->window,
                         .target = NAN, .record_every = a->record_every};
        if (run_alloc(r, o->n_layers, 1) != 0) {
            cli_error("out of memory for %d steps", a->steps);
            rc = CLI_EXIT_USAGE;
        } else {
            rc = train_run(a, *o, norm, ds, r);
            fprintf(stderr, "fastnn: init %s: %s, %d steps\n",
                    fnn_init_name(r->init), init_outcome(r),
                    r->diverged ? r->steps + 1 : r->steps);
        }
    }
    if (rc < 0) {
        print_inits(a->json ? stderr : stdout, runs, n);
        if (a->json) {
            cJSON *obj = cJSON_CreateObject();
            cJSON_AddStringToObject(obj, "study", "init");
            cJSON_AddStringToObject(obj, "optimizer", a->optimizer);
            cJSON_AddNumberToObject(obj, "learning_rate", a->learning_rate);
            cJSON_AddNumberToObject(obj, "max_steps", a->steps);
            cJSON_AddNumberToObject(obj, "window", a->window);
            cJSON *list = cJSON_AddArrayToObject(obj, "inits");
            for (int i = 0; i < n; i++) {
                cJSON_AddItemToArray(list, init_json(&runs[i]));
            }
            progress_print_json(obj);
        }
        rc = a->plot ? draw_inits(a->plot, runs, n, a) : CLI_EXIT_OK;
    }
    for (int i = 0; i < N_INITS; i++) {
        run_free(&runs[i]);
    }
    return rc;
}

// ---------------------------------------------------------------------------
// Command line

static const char USAGE_NORMALIZATION[] =
    "fastnn study normalization [--train PATH [--train-labels FILE]] "
    "[--layers 256,128] [--optimizer sgd] [--batch-size 64] "
    "[--steps 1000] [--lr-min 1e-06] [--lr-max 1] [--lr-points 13] "
    "[--target-loss 0.5] [--limit N] [--json] [--plot FILE.png]";

static const char USAGE_INIT[] =
    "fastnn study init [--train PATH [--train-labels FILE]] "
    "[--layers 256x10] [--optimizer sgd] [--batch-size 64] "
    "[--steps 300] [--learning-rate 0.01] [--inits LIST] "
    "[--record-every 10] [--limit N] [--json] [--plot FILE.png]";

static const char DESCRIPTION_NORMALIZATION[] =
    "Trains the same network, seed and optimizer on raw and on normalized\n"
    "inputs at each learning rate of a log grid from --lr-min to --lr-max,\n"
    "for at most --steps steps. The smoothed loss is the mean of the last\n"
    "--window mini-batch losses. A run reaches the target, and stops, at the\n"
    "first step whose smoothed loss is at most --target-loss. It diverges,\n"
    "and stops, when a loss is not finite or the smoothed loss exceeds 10\n"
    "times the first mini-batch's loss, even if it would recover later. A\n"
    "run that ends without reaching the target also diverged when its final\n"
    "smoothed loss is more than 10% above that of its first window, and\n"
    "stalled otherwise. For each side the study reports the largest rate\n"
    "that did not diverge and the best rate: the one that reached the target\n"
    "in the fewest steps without diverging (ties go to the larger rate),\n"
    "that count, and the ratio of the raw count to the normalized one.";

static const char DESCRIPTION_INIT[] =
    "Trains the network for --steps steps with each initialization in\n"
    "--inits, the same seed, data and learning rate, and reports the loss\n"
    "reached and ||dW[l]|| per layer every --record-every steps. A run\n"
    "diverged when a loss is not finite or the smoothed loss (mean of the\n"
    "last --window mini-batch losses) exceeds 10 times the first\n"
    "mini-batch's loss at any step, even if it recovers later (it keeps\n"
    "training), or when its final smoothed loss is more than 10% above that\n"
    "of its first window. It trained when the\n"
    "final smoothed loss is more than 10% below that of its first window,\n"
    "and stalled otherwise.";

static void args_default(study_args *a, int init_study) {
    cli_net_flags_default(&a->net);
    a->optimizer = "sgd";
    a->momentum = 0.9;
    a->batch_size = 64;
    a->steps = init_study ? 300 : 1000;
    a->window = 20;
    a->lr_min = 1e-6;
    a->lr_max = 1;
    a->lr_points = 13;
    a->target_loss = 0.5;
    a->learning_rate = 0.01;
    a->inits = NULL; // ALL_INITS
    a->record_every = 10;
    if (init_study) {
        a->net.layers = "256x10";
    }
}

static int check_args(const study_args *a, int init_study) {
    fnn_optimizer kind;
    if (fnn_optimizer_parse(a->optimizer, &kind) != FNN_OK) {
        return cli_bad_choice("optimizer", a->optimizer,
                              "sgd, momentum, adam");
    }
    const char *bad = NULL;
    if (a->batch_size < 1 || a->steps < 1 || a->window < 1 ||
        a->record_every < 1) {
        bad = "--batch-size, --steps, --window and --record-every must be "
              ">= 1";
    } else if (!(a->momentum >= 0 && a->momentum < 1)) {
        bad = "--momentum must be in [0, 1)";
    } else if (!(a->lr_min > 0) || !(a->lr_max >= a->lr_min) ||
               a->lr_points < 1 || a->lr_points > MAX_RATES) {
        bad = "expected 0 < --lr-min <= --lr-max and 1 <= --lr-points <= 64";
    } else if (!(a->target_loss > 0) || !(a->learning_rate > 0)) {
        bad = "--target-loss and --learning-rate must be > 0";
    }
    if (bad) {
        cli_error("invalid options for fastnn study %s: %s",
                  init_study ? "init" : "normalization", bad);
        return CLI_EXIT_USAGE;
    }
    if (a->plot && !plot_check_path(a->plot, "plot")) {
        return CLI_EXIT_USAGE;
    }
    return -1;
}

// Options of one kind only. The normalization study trains both raw and
// normalized inputs, and the init study takes its initializations from
// --inits.
static const char *const ONLY_NORMALIZATION[] = {
    "lr-min", "lr-max", "lr-points", "target-loss", "init", NULL};
static const char *const ONLY_INIT[] = {
    "no-normalize", "learning-rate", "inits", "record-every", NULL};

static int listed(const char *name, const char *const *names) {
    for (; *names; names++) {
        if (strcmp(name, *names) == 0) {
            return 1;
        }
    }
    return 0;
}

static int parse_args(study_args *a, int init_study, int argc, char **argv) {
    args_default(a, init_study);
    const cli_opt all[] = {
        CLI_NET_FLAG_OPTIONS(a->net),
        {"optimizer", CLI_STRING, &a->optimizer, "NAME",
         "sgd, momentum, adam (the same for every "
         "run)"},
        {"momentum", CLI_DOUBLE, &a->momentum, "F",
         "momentum coefficient of --optimizer "
         "momentum"},
        {"batch-size", CLI_INT, &a->batch_size, "N", "mini-batch size"},
        {"steps", CLI_INT, &a->steps, "N", "most training steps per run"},
        {"window", CLI_INT, &a->window, "N",
         "mini-batch losses averaged into the smoothed "
         "loss"},
        {"lr-min", CLI_DOUBLE, &a->lr_min, "F",
         "smallest learning rate of the grid"},
        {"lr-max", CLI_DOUBLE, &a->lr_max, "F",
         "largest learning rate of the grid"},
        {"lr-points", CLI_INT, &a->lr_points, "N",
         "rates on the log grid"},
        {"target-loss", CLI_DOUBLE, &a->target_loss, "F",
         "smoothed training loss to reach"},
        {"learning-rate", CLI_DOUBLE, &a->learning_rate, "F",
         "learning rate of every run"},
        {"inits", CLI_STRING, &a->inits, "LIST",
         "initializations to compare, comma-separated "
         "(default: all of he, he-uniform, xavier, "
         "xavier-uniform, lecun, small, normal, zeros)"},
        {"record-every", CLI_INT, &a->record_every, "N",
         "steps between gradient-norm records"},
        {"json", CLI_FLAG, &a->json, NULL,
         "print the numbers as one JSON object on stdout "
         "(the table goes to stderr)"},
        {"plot", CLI_STRING, &a->plot, "FILE",
         "draw the loss curves to FILE (.png or .svg)"},
    };
    const char *const *skip = init_study ? ONLY_NORMALIZATION : ONLY_INIT;
    cli_opt opts[sizeof all / sizeof all[0] + 1];
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!listed(all[i].name, skip)) {
            opts[n++] = all[i];
        }
    }
    opts[n] = (cli_opt){0};
    int rc = cli_parse(argc, argv, opts,
                       init_study ? USAGE_INIT : USAGE_NORMALIZATION,
                       init_study ? DESCRIPTION_INIT
                                  : DESCRIPTION_NORMALIZATION);
    return rc >= 0 ? rc : check_args(a, init_study);
}

static void print_kinds_help(void) {
    printf("usage: fastnn study normalization|init [options]\n\n"
           "fastnn study normalization:\n");
    cli_print_usage(USAGE_NORMALIZATION);
    printf("\n%s\n\nfastnn study init:\n", DESCRIPTION_NORMALIZATION);
    cli_print_usage(USAGE_INIT);
    printf("\n%s\n\n'fastnn study normalization --help' and 'fastnn study "
           "init --help'\nlist the options of each.\n",
           DESCRIPTION_INIT);
}

int cmd_study(int argc, char **argv) {
    const char *kind = argc > 1 ? argv[1] : "";
    int init_study = strcmp(kind, "init") == 0;
    if (!init_study && strcmp(kind, "normalization") != 0) {
        if (strcmp(kind, "--help") == 0 || strcmp(kind, "-h") == 0) {
            print_kinds_help();
            return CLI_EXIT_OK;
        }
        if (!*kind || kind[0] == '-') {
            cli_error("missing the kind of study: fastnn study normalization "
                      "or fastnn study init (fastnn study --help describes "
                      "both)");
        } else {
            cli_error("unknown kind of study \"%s\": expected normalization "
                      "or init (fastnn study --help describes both)",
                      kind);
        }
        return CLI_EXIT_USAGE;
    }
    // "study init" replaces the command name in cli_parse's messages.
    char name[32];
    snprintf(name, sizeof name, "study %s", kind);
    argv[1] = name;
    study_args a = {0};
    int rc = parse_args(&a, init_study, argc - 1, argv + 1);
    if (rc >= 0) {
        return rc;
    }
    fnn_dataset *ds = NULL;
    fnn_norm *norm = NULL;
    fnn_net_options o;
    rc = cli_net_setup(&a.net, &ds, &o, &norm);
    if (rc < 0) {
        fprintf(stderr, "fastnn: study %s on %s (%lld samples), %s, batch "
                        "size %d, seed %llu\n",
                kind, ds->source, (long long)ds->n_rows, a.optimizer,
                a.batch_size, (unsigned long long)o.seed);
        rc = init_study ? study_init(&a, ds, &o, norm)
                        : study_normalization(&a, ds, &o, norm);
    }
    fnn_norm_free(norm);
    fnn_dataset_free(ds);
    return rc;
}
