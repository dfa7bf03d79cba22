// fastnn diagnose: per-layer activation and gradient statistics of one
// forward and backward pass on a real batch, with a verdict. Also holds the
// network and data set-up that diagnose and study share.
#include "cli.h"
#include "cli_data.h"
#include "commands.h"
#include "plot.h"
#include "progress.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

// The initializations that --all-inits compares, in the enum's order.
#define FIRST_INIT FNN_INIT_HE
#define LAST_INIT FNN_INIT_ZEROS
#define N_INITS (LAST_INIT - FIRST_INIT + 1)

void cli_net_flags_default(cli_net_flags *f) {
    *f = (cli_net_flags){
        .layers = "256,128",
        .activation = "relu",
        .init = "auto",
        .loss = "auto",
        .seed = 42,
    };
}

static int parse_names(const cli_net_flags *f, fnn_net_options *o) {
    *o = fnn_net_options_default();
    if (fnn_activation_parse(f->activation, &o->activation) != FNN_OK) {
        return cli_bad_choice("activation", f->activation,
                              "relu, leaky_relu, tanh, sigmoid, identity");
    }
    if (fnn_init_parse(f->init, &o->init) != FNN_OK) {
        return cli_bad_choice("init", f->init,
                              "auto, he, he-uniform, xavier, xavier-uniform, "
                              "lecun, small, normal, zeros");
    }
    if (fnn_loss_parse(f->loss, &o->loss) != FNN_OK) {
        return cli_bad_choice("loss", f->loss, "auto, softmax, sigmoid, mse");
    }
    int n_hidden = 0;
    if (cli_parse_layers(f->layers, o->sizes + 1, FNN_MAX_LAYERS - 1,
                         &n_hidden) != 0) {
        cli_error("invalid value \"%s\" for --layers: expected sizes such as "
                  "\"256,128\" or \"256x50\", each from 1 to %d, at most %d "
                  "layers",
                  f->layers, 1 << 24, FNN_MAX_LAYERS - 1);
        return CLI_EXIT_USAGE;
    }
    o->n_layers = n_hidden + 1;
    if (f->seed < 0 || f->limit < 0) {
        cli_error("invalid value %lld for --%s: expected >= 0",
                  (long long)(f->seed < 0 ? f->seed : f->limit),
                  f->seed < 0 ? "seed" : "limit");
        return CLI_EXIT_USAGE;
    }
    o->seed = (uint64_t)f->seed;
    return -1;
}

// Chooses the loss from the labels as train does, and the output width.
static int choose_loss(const fnn_dataset *ds, fnn_net_options *o) {
    if (o->loss == FNN_LOSS_AUTO) {
        o->loss = !ds->labels_integer  ? FNN_LOSS_MSE
                  : ds->n_classes <= 2 ? FNN_LOSS_SIGMOID_BCE
                                       : FNN_LOSS_SOFTMAX_CE;
    }
    if (o->loss == FNN_LOSS_SOFTMAX_CE && !ds->labels_integer) {
        cli_error("%s: labels are not class indices (non-negative integers), "
                  "so softmax cannot fit them: use --loss mse",
                  ds->source);
        return CLI_EXIT_USAGE;
    }
    int k = ds->n_classes < 2 ? 2 : ds->n_classes;
    o->sizes[o->n_layers] = o->loss == FNN_LOSS_SOFTMAX_CE ? k : 1;
    o->sizes[0] = ds->n_features;
    return -1;
}

fnn_dataset *cli_net_load(const cli_net_flags *f) {
    const char *path = f->train ? f->train : CLI_FASHION_MNIST_DIR;
    if (!f->train) {
        fprintf(stderr, "fastnn: no --train given: using Fashion-MNIST in %s\n",
                path);
    }
    size_t n = strlen(path);
    if (!f->train_labels && n >= 4 && strcasecmp(path + n - 4, ".npy") == 0) {
        // cli_data_load's message names the options of train and eval.
        cli_error("%s: no labels file given for a NumPy features file: pass "
                  "the labels .npy with --train-labels FILE",
                  path);
        return NULL;
    }
    fnn_error err = {{0}};
    fnn_status s;
    fnn_csv_options csv = cli_csv_options(f->header, f->label_column,
                                          f->skip_rows);
    fnn_dataset *ds = cli_data_load(path, f->train_labels, 1, &csv, &err, &s);
    if (!ds) {
        cli_error("%s", err.message);
    }
    return ds;
}

int cli_net_setup(const cli_net_flags *f, fnn_dataset **ds,
                  fnn_net_options *net, fnn_norm **norm) {
    *ds = NULL;
    *norm = NULL;
    int rc = parse_names(f, net);
    if (rc >= 0) {
        return rc;
    }
    *ds = cli_net_load(f);
    if (!*ds) {
        return CLI_EXIT_USAGE;
    }
    if (f->limit > 0 && f->limit < (*ds)->n_rows) {
        (*ds)->n_rows = f->limit;
    }
    rc = choose_loss(*ds, net);
    if (rc >= 0 || f->no_normalize) {
        return rc;
    }
    fnn_status s;
    *norm = fnn_norm_fit(*ds, &s);
    if (!*norm) {
        cli_error("cannot compute normalization statistics of %s: %s",
                  (*ds)->source, fnn_status_str(s));
        return CLI_EXIT_USAGE;
    }
    if ((*norm)->n_zero_variance > 0) {
        cli_warn("%d feature(s) of %s have zero variance and are only "
                 "centered",
                 (*norm)->n_zero_variance, (*ds)->source);
    }
    return -1;
}

typedef struct diag_args {
    cli_net_flags net;
    int samples;
    int all_inits;
    int json;
    const char *plot;
} diag_args;

// One diagnosed network.
typedef struct diag_run {
    fnn_init init; // as requested; FNN_INIT_AUTO resolves per layer
    fnn_init layer_init[FNN_MAX_LAYERS];
    fnn_diagnosis d;
} diag_run;

static const char USAGE[] =
    "fastnn diagnose [--train PATH [--train-labels FILE]] [--layers 256,128] "
    "[--activation relu] [--init auto | --all-inits] [--samples 256] "
    "[--json] [--plot FILE.png]";

static const char DESCRIPTION[] =
    "Runs one forward and one backward pass on the first N samples and\n"
    "prints, per layer, the mean and std of the pre-activations z and\n"
    "activations a, the norm of dW, their ratios to layers.0, and the\n"
    "per-layer growth factor of std(z) beside the one the initialization\n"
    "predicts. The verdict is vanishing when the activation std falls below\n"
    "1e-3 of layers.0's or ||dW|| below 1e-3 of the output layer's, and\n"
    "exploding when either grows past 1e3 or turns non-finite. Exit status:\n"
    "0 ok, 1 vanishing or exploding, 2 bad input.";

static int parse_args(diag_args *a, int argc, char **argv) {
    cli_net_flags_default(&a->net);
    a->samples = 256;
    const cli_opt opts[] = {
        CLI_NET_FLAG_OPTIONS(a->net),
        {"samples", CLI_INT, &a->samples, "N",
         "batch size: the first N samples"},
        {"all-inits", CLI_FLAG, &a->all_inits, NULL,
         "diagnose every initialization side by side "
         "(ignores --init)"},
        {"json", CLI_FLAG, &a->json, NULL,
         "print the statistics and verdict as one JSON "
         "object on stdout"},
        {"plot", CLI_STRING, &a->plot, "FILE",
         "draw the per-layer spread to FILE (.png or .svg)"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, USAGE, DESCRIPTION);
    if (rc >= 0) {
        return rc;
    }
    if (a->samples < 1) {
        cli_error("invalid value %d for --samples: expected >= 1", a->samples);
        return CLI_EXIT_USAGE;
    }
    if (a->plot && !plot_check_path(a->plot, "plot")) {
        return CLI_EXIT_USAGE;
    }
    return -1;
}

static int diagnose_one(fnn_net_options o, const fnn_norm *norm,
                        const float *x, const float *y, int samples,
                        diag_run *run) {
    fnn_status s;
    o.init = run->init;
    fnn_net *net = fnn_net_create(&o, &s);
    if (!net) {
        cli_error("cannot create the network: %s", fnn_status_str(s));
        return CLI_EXIT_USAGE;
    }
    s = norm ? fnn_net_set_normalization(net, norm->mean, norm->std) : FNN_OK;
    if (s == FNN_OK) {
        s = fnn_diagnose(net, x, y, samples, &run->d);
    }
    for (int l = 0; l < o.n_layers; l++) {
        run->layer_init[l] = fnn_net_layer_init(net, l);
    }
    fnn_net_free(net);
    if (s != FNN_OK) {
        cli_error("diagnosis with --init %s failed: %s",
                  fnn_init_name(run->init), fnn_status_str(s));
        return CLI_EXIT_USAGE;
    }
    return -1;
}

// Returns v, with a NaN of either sign replaced by NAN, so that printf
// shows "nan" and never "-nan".
static double unsigned_nan(double v) {
    return isnan(v) ? NAN : v;
}

// Ratio of two statistics, NaN when it is undefined.
static double ratio(double value, double ref) {
    return ref != 0 && isfinite(ref) ? unsigned_nan(value / ref) : NAN;
}

// std(z[l]) / std(z[l-1]), NaN for layer 0.
static double measured_factor(const fnn_diagnosis *d, int l) {
    return l == 0 ? NAN
                  : ratio(d->layers[l].preactivation_std,
                          d->layers[l - 1].preactivation_std);
}

// Geometric means of the measured and expected factors over the layers
// where both are finite and positive; returns how many layers that is.
static int mean_factors(const fnn_diagnosis *d, double *measured,
                        double *expected) {
    double sum_m = 0;
    double sum_e = 0;
    int n = 0;
    for (int l = 1; l < d->n_layers; l++) {
        double m = measured_factor(d, l);
        double e = d->layers[l].expected_factor;
        if (m > 0 && isfinite(m) && e > 0 && isfinite(e)) {
            sum_m += log(m);
            sum_e += log(e);
            n++;
        }
    }
    *measured = n ? exp(sum_m / n) : NAN;
    *expected = n ? exp(sum_e / n) : NAN;
    return n;
}

static void verdict_text(const fnn_diagnosis *d, char *buf, size_t size) {
    int l = d->verdict_layer;
    int last = d->n_layers - 1;
    const char *v = fnn_verdict_name(d->verdict);
    switch (d->cause) {
    case FNN_CAUSE_NONE:
        snprintf(buf, size, "ok: activation std and ||dW|| stay within a "
                            "factor of %g of their references",
                 FNN_DIAGNOSE_RATIO);
        return;
    case FNN_CAUSE_ACTIVATION_STD:
        if (l == 0) {
            snprintf(buf, size, "%s: the activation std of layers.0 is 0, "
                                "so no signal reaches the later layers",
                     v);
            return;
        }
        snprintf(buf, size, "%s: the activation std of layers.%d is %.3g "
                            "times that of layers.0",
                 v, l, d->verdict_ratio);
        return;
    case FNN_CAUSE_GRADIENT_NORM:
        if (l == last) {
            snprintf(buf, size, "%s: ||dW|| of the output layer layers.%d is "
                                "0",
                     v, l);
            return;
        }
        snprintf(buf, size, "%s: ||dW|| of layers.%d is %.3g times that of "
                            "the output layer layers.%d",
                 v, l, d->verdict_ratio, last);
        return;
    case FNN_CAUSE_NONFINITE:
        if (d->first_nonfinite == l) {
            snprintf(buf, size, "%s: layers.%d has non-finite activations",
                     v, l);
        } else if (!d->backward_ran) {
            snprintf(buf, size, "%s: the cost is not finite, so no gradient "
                                "was computed",
                     v);
        } else {
            snprintf(buf, size, "%s: ||dW|| of layers.%d is not finite", v, l);
        }
        return;
    }
}

static void print_header(const fnn_dataset *ds, const fnn_net_options *o,
                         int samples, int normalized) {
    fprintf(stderr, "fastnn: diagnose %s: first %d of %lld samples, network",
            ds->source, samples, (long long)ds->n_rows);
    // Runs of equal sizes print as "256x50", as --layers spells them.
    for (int l = 0; l <= o->n_layers;) {
        int run = 1;
        while (l > 0 && l + run < o->n_layers &&
               o->sizes[l + run] == o->sizes[l]) {
            run++;
        }
        fprintf(stderr, "%s%d", l ? "-" : " ", o->sizes[l]);
        if (run > 1) {
            fprintf(stderr, "x%d", run);
        }
        l += run;
    }
    fprintf(stderr, ", %s hidden, loss %s, inputs %s, seed %llu\n",
            fnn_activation_name(o->activation), fnn_loss_name(o->loss),
            normalized ? "normalized (z-score)" : "raw",
            (unsigned long long)o->seed);
}

// Prints v right-aligned in `width` columns with %.{prec}g, or "-" when it
// is undefined (NaN: a ratio to a zero or non-finite reference, the factor
// of layers.0).
static void print_cell(int width, int prec, double v) {
    if (isnan(v)) {
        printf(" %*s", width, "-");
    } else {
        printf(" %*.*g", width, prec, v);
    }
}

static void print_table(const diag_run *run) {
    const fnn_diagnosis *d = &run->d;
    const fnn_layer_stats *s0 = &d->layers[0];
    int last = d->n_layers - 1;
    printf("init %s: %s for the hidden layers, %s for the output layer "
           "layers.%d\n",
           fnn_init_name(run->init), fnn_init_name(run->layer_init[0]),
           fnn_init_name(run->layer_init[last]), last);
    printf("z: pre-activations, a: activations (the logits at layers.%d); "
           "ratios are to layers.0;\nfactor: std(z[l]) / std(z[l-1]), "
           "expected: the factor the init std predicts\n",
           last);
    printf("%5s %9s %9s %9s %9s %9s %9s %9s %9s %8s %8s\n", "layer",
           "z mean", "z std", "ratio", "a mean", "a std", "ratio", "|dW|",
           "ratio", "factor", "expected");
    for (int l = 0; l < d->n_layers; l++) {
        const fnn_layer_stats *s = &d->layers[l];
        printf("%5d %9.3g %9.3g", l, unsigned_nan(s->preactivation_mean),
               unsigned_nan(s->preactivation_std));
        print_cell(9, 3, ratio(s->preactivation_std, s0->preactivation_std));
        printf(" %9.3g %9.3g", unsigned_nan(s->activation_mean),
               unsigned_nan(s->activation_std));
        print_cell(9, 3, ratio(s->activation_std, s0->activation_std));
        printf(" %9.3g", unsigned_nan(s->gradient_norm));
        print_cell(9, 3, ratio(s->gradient_norm, s0->gradient_norm));
        print_cell(8, 4, measured_factor(d, l));
        print_cell(8, 4, s->expected_factor);
        printf("\n");
    }
}

static void print_summary(const diag_run *run) {
    const fnn_diagnosis *d = &run->d;
    double m, e;
    int n = mean_factors(d, &m, &e);
    if (n > 0) {
        printf("factor per layer, geometric mean over %d layers: measured "
               "%.4g, expected %.4g\n",
               n, m, e);
    }
    if (d->first_nonfinite >= 0) {
        printf("first non-finite value: layers.%d\n", d->first_nonfinite);
    }
    if (!d->backward_ran) {
        printf("cost is not finite: no backward pass, |dW| is nan\n");
    }
    char text[256];
    verdict_text(d, text, sizeof text);
    printf("verdict: %s\n", text);
}

// Prints one column per initialization of `value(run, layer)`.
static void print_side_by_side(const diag_run *runs, int n_runs,
                               const char *title,
                               double (*value)(const diag_run *, int)) {
    printf("%s\n%5s", title, "layer");
    for (int i = 0; i < n_runs; i++) {
        printf(" %14s", fnn_init_name(runs[i].init));
    }
    printf("\n");
    for (int l = 0; l < runs[0].d.n_layers; l++) {
        printf("%5d", l);
        for (int i = 0; i < n_runs; i++) {
            print_cell(14, 4, value(&runs[i], l));
        }
        printf("\n");
    }
    printf("\n");
}

static double activation_ratio(const diag_run *r, int l) {
    return ratio(r->d.layers[l].activation_std,
                 r->d.layers[0].activation_std);
}

static double gradient_ratio(const diag_run *r, int l) {
    return ratio(r->d.layers[l].gradient_norm, r->d.layers[0].gradient_norm);
}

static void print_all(const diag_run *runs, int n_runs) {
    print_side_by_side(runs, n_runs, "activation std / layers.0's",
                       activation_ratio);
    print_side_by_side(runs, n_runs, "|dW| / layers.0's", gradient_ratio);
    printf("%-14s %9s %9s  %s\n", "init", "factor", "expected", "verdict");
    for (int i = 0; i < n_runs; i++) {
        double m, e;
        mean_factors(&runs[i].d, &m, &e);
        char text[256];
        verdict_text(&runs[i].d, text, sizeof text);
        printf("%-14s", fnn_init_name(runs[i].init));
        print_cell(9, 4, m);
        print_cell(9, 4, e);
        printf("  %s\n", text);
    }
}

static void add_number(cJSON *obj, const char *key, double v) {
    if (isfinite(v)) {
        cJSON_AddNumberToObject(obj, key, v);
    } else {
        cJSON_AddNullToObject(obj, key);
    }
}

// Stores a layer index, or null when there is none (-1).
static void add_layer(cJSON *obj, const char *key, int layer) {
    if (layer >= 0) {
        cJSON_AddNumberToObject(obj, key, layer);
    } else {
        cJSON_AddNullToObject(obj, key);
    }
}

static cJSON *layer_json(const diag_run *run, int l, int width) {
    const fnn_layer_stats *s = &run->d.layers[l];
    const fnn_layer_stats *s0 = &run->d.layers[0];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", l);
    cJSON_AddNumberToObject(o, "width", width);
    cJSON_AddStringToObject(o, "init", fnn_init_name(run->layer_init[l]));
    add_number(o, "preactivation_mean", s->preactivation_mean);
    add_number(o, "preactivation_std", s->preactivation_std);
    add_number(o, "activation_mean", s->activation_mean);
    add_number(o, "activation_std", s->activation_std);
    add_number(o, "gradient_norm", s->gradient_norm);
    cJSON_AddNumberToObject(o, "nonfinite", (double)s->nonfinite);
    add_number(o, "preactivation_std_ratio",
               ratio(s->preactivation_std, s0->preactivation_std));
    add_number(o, "activation_std_ratio",
               ratio(s->activation_std, s0->activation_std));
    add_number(o, "gradient_norm_ratio",
               ratio(s->gradient_norm, s0->gradient_norm));
    add_number(o, "factor", measured_factor(&run->d, l));
    add_number(o, "expected_factor", s->expected_factor);
    return o;
}

static cJSON *run_json(const diag_run *run, const fnn_net_options *o) {
    const fnn_diagnosis *d = &run->d;
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "init", fnn_init_name(run->init));
    cJSON_AddStringToObject(obj, "activation",
                            fnn_activation_name(o->activation));
    cJSON_AddNumberToObject(obj, "samples", d->batch_size);
    add_number(obj, "cost", d->cost);
    cJSON_AddBoolToObject(obj, "backward", d->backward_ran);
    cJSON_AddStringToObject(obj, "verdict", fnn_verdict_name(d->verdict));
    add_layer(obj, "verdict_layer", d->verdict_layer);
    cJSON_AddStringToObject(obj, "verdict_cause",
                            fnn_verdict_cause_name(d->cause));
    add_number(obj, "verdict_ratio", d->verdict_ratio);
    char text[256];
    verdict_text(d, text, sizeof text);
    cJSON_AddStringToObject(obj, "message", text);
    add_layer(obj, "first_nonfinite_layer", d->first_nonfinite);
    double m, e;
    mean_factors(d, &m, &e);
    add_number(obj, "factor_measured", m);
    add_number(obj, "factor_expected", e);
    cJSON *layers = cJSON_AddArrayToObject(obj, "layers");
    for (int l = 0; l < d->n_layers; l++) {
        cJSON_AddItemToArray(layers, layer_json(run, l, o->sizes[l + 1]));
    }
    return obj;
}

static void print_json(const diag_run *runs, int n_runs, int all,
                       const fnn_net_options *o) {
    if (!all) {
        progress_print_json(run_json(&runs[0], o));
        return;
    }
    cJSON *top = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(top, "inits");
    for (int i = 0; i < n_runs; i++) {
        cJSON_AddItemToArray(list, run_json(&runs[i], o));
    }
    progress_print_json(top);
}

// Draws activation std / layers.0's and ||dW|| per layer, one line per run.
static int draw(const char *path, const diag_run *runs, int n_runs,
                const fnn_net_options *o) {
    int n = runs[0].d.n_layers;
    double *buf = malloc(sizeof(double) * (size_t)n * (2 * n_runs + 1));
    plot_series *series = calloc(2 * (size_t)n_runs, sizeof *series);
    if (!buf || !series) {
        free(buf);
        free(series);
        cli_error("out of memory for the plot");
        return CLI_EXIT_USAGE;
    }
    double *x = buf + (size_t)n * 2 * n_runs;
    for (int l = 0; l < n; l++) {
        x[l] = l;
    }
    for (int i = 0; i < n_runs; i++) {
        double *act = buf + (size_t)n * 2 * i;
        double *grad = act + n;
        for (int l = 0; l < n; l++) {
            act[l] = activation_ratio(&runs[i], l);
            grad[l] = runs[i].d.layers[l].gradient_norm;
        }
        const char *name = fnn_init_name(runs[i].init);
        series[i] = (plot_series){.title = name, .x = x, .y = act, .n = n};
        series[n_runs + i] =
            (plot_series){.title = name, .x = x, .y = grad, .n = n};
    }
    plot_panel panels[2] = {
        {.title = "activation spread (dashed: 1e-3 and 1e3)",
         .xlabel = "layer index (layers.l)",
         .ylabel = "activation std / std at layers.0 (ratio)",
         .log_y = 1, .integer_x = 1, .hlines = {1e-3, 1e3}, .n_hlines = 2,
         .key = PLOT_KEY_BELOW, .series = series, .n_series = n_runs},
        {.title = "gradient norm", .xlabel = "layer index (layers.l)",
         .ylabel = "||dW[l]||_F (Frobenius norm of dJ/dW)", .log_y = 1,
         .integer_x = 1, .key = PLOT_KEY_NONE, .series = series + n_runs,
         .n_series = n_runs},
    };
    char title[160];
    snprintf(title, sizeof title,
             "fastnn diagnose: %d hidden layers, %s, %d samples", n - 1,
             fnn_activation_name(o->activation), runs[0].d.batch_size);
    int rc = plot_draw(path, title, panels, 2);
    free(buf);
    free(series);
    return rc;
}

static int run_all(const diag_args *a, const fnn_dataset *ds,
                   const fnn_net_options *o, const fnn_norm *norm,
                   diag_run *runs, int n_runs) {
    size_t n_in = (size_t)ds->n_features;
    float *x = malloc((size_t)a->samples * n_in * sizeof(float));
    if (!x) {
        cli_error("out of memory for %d samples", a->samples);
        return CLI_EXIT_USAGE;
    }
    fnn_dataset_get_rows(ds, 0, a->samples, x);
    int rc = -1;
    for (int i = 0; i < n_runs && rc < 0; i++) {
        rc = diagnose_one(*o, norm, x, ds->labels, a->samples, &runs[i]);
    }
    free(x);
    return rc;
}

// Checks that the labels of the diagnosed rows fit the network's loss.
static int check_labels(const fnn_dataset *ds, const fnn_net_options *o,
                        int samples) {
    fnn_status s;
    fnn_net_options small = *o;
    small.init = FNN_INIT_ZEROS;
    fnn_net *net = fnn_net_create(&small, &s);
    if (!net) {
        cli_error("cannot create the network: %s", fnn_status_str(s));
        return CLI_EXIT_USAGE;
    }
    fnn_dataset head = *ds;
    head.n_rows = samples;
    fnn_error err = {{0}};
    s = fnn_check_dataset(net, &head, &err);
    fnn_net_free(net);
    if (s != FNN_OK) {
        cli_error("%s", err.message);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

static int report(const diag_args *a, const fnn_net_options *o,
                  const diag_run *runs, int n_runs) {
    if (a->json) {
        print_json(runs, n_runs, a->all_inits, o);
    } else if (a->all_inits) {
        print_all(runs, n_runs);
    } else {
        print_table(&runs[0]);
        print_summary(&runs[0]);
    }
    if (a->plot) {
        int rc = draw(a->plot, runs, n_runs, o);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
        fprintf(stderr, "fastnn: plot written to %s\n", a->plot);
    }
    for (int i = 0; i < n_runs; i++) {
        if (runs[i].d.verdict != FNN_VERDICT_OK) {
            return CLI_EXIT_FAILED;
        }
    }
    return CLI_EXIT_OK;
}

int cmd_diagnose(int argc, char **argv) {
    diag_args a = {0};
    int rc = parse_args(&a, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    fnn_dataset *ds = NULL;
    fnn_norm *norm = NULL;
    fnn_net_options o;
    rc = cli_net_setup(&a.net, &ds, &o, &norm);
    if (rc < 0 && a.samples > ds->n_rows) {
        cli_error("invalid value %d for --samples: %s has only %lld samples",
                  a.samples, ds->source, (long long)ds->n_rows);
        rc = CLI_EXIT_USAGE;
    }
    if (rc < 0) {
        rc = check_labels(ds, &o, a.samples);
    }
    diag_run *runs = calloc(N_INITS, sizeof *runs);
    int n_runs = a.all_inits ? N_INITS : 1;
    if (rc < 0 && !runs) {
        cli_error("out of memory");
        rc = CLI_EXIT_USAGE;
    }
    if (rc < 0) {
        for (int i = 0; i < n_runs; i++) {
            runs[i].init = a.all_inits ? (fnn_init)(FIRST_INIT + i) : o.init;
        }
        print_header(ds, &o, a.samples, norm != NULL);
        rc = run_all(&a, ds, &o, norm, runs, n_runs);
    }
    if (rc < 0) {
        rc = report(&a, &o, runs, n_runs);
    }
    free(runs);
    fnn_norm_free(norm);
    fnn_dataset_free(ds);
    return rc;
}
