// fastnn gradcheck: compare backprop's gradient with central differences on
// a batch, for a new network or a saved model, and the check that
// `fastnn train --gradcheck` runs.
#include "cli.h"
#include "cli_data.h"
#include "commands.h"
#include "progress.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gradcheck_args {
    cli_net_flags net;
    const char *model;
    const char *mode;
    int samples;
    double l2;
    double keep_prob;
    int with_dropout;
    int per_block;
    int directions;
    int worst;
    int64_t max_full;
    double epsilon;
    double pass_threshold;
    double fail_threshold;
    int json;
} gradcheck_args;

static const char USAGE[] =
    "fastnn gradcheck [--model FILE | --layers 256,128 --activation relu "
    "--init auto --loss auto --seed 42] [--train PATH] [--train-labels FILE] "
    "[--samples 32] [--l2 F] "
    "[--keep-prob F] [--with-dropout] [--mode auto|full|per-block|directions] "
    "[--per-block K] [--directions K] [--epsilon F] [--json]";

static const char DESCRIPTION[] =
    "Checks backprop's gradient of the cost J (mean loss plus the L2 term) on\n"
    "the first --samples rows of the training data against central\n"
    "differences (J(theta + eps) - J(theta - eps)) / 2eps, in float64 on the\n"
    "layer code that trains. Without --model it checks a freshly initialized\n"
    "network built from train's flags. Prints the relative difference\n"
    "||numerical - analytic|| / (||numerical|| + ||analytic||), its verdict\n"
    "and one row per parameter block. Exit status 0 for pass or warn, 1 for\n"
    "fail, 2 for bad usage or input.";

static void args_default(gradcheck_args *a) {
    fnn_gradcheck_options o = fnn_gradcheck_options_default();
    cli_net_flags_default(&a->net);
    a->model = NULL;
    a->mode = "auto";
    a->samples = 32;
    a->l2 = -1;
    a->keep_prob = -1;
    a->with_dropout = 0;
    a->per_block = o.per_block;
    a->directions = o.directions;
    a->worst = o.worst;
    a->max_full = o.max_full_params;
    a->epsilon = o.epsilon;
    a->pass_threshold = o.pass_threshold;
    a->fail_threshold = o.fail_threshold;
    a->json = 0;
}

static int parse_args(gradcheck_args *a, int argc, char **argv) {
    args_default(a);
    const cli_opt opts[] = {
        CLI_NET_FLAG_OPTIONS(a->net),
        {"model", CLI_STRING, &a->model, "FILE",
         "check this saved model instead of a new network (ignores "
         "--layers, --activation, --init, --loss, --seed)"},
        {"samples", CLI_INT, &a->samples, "N",
         "batch for J: the first N rows of the data"},
        {"l2", CLI_DOUBLE, &a->l2, "F",
         "L2 strength lambda; -1: 0 for a new network, the model's value "
         "with --model"},
        {"keep-prob", CLI_DOUBLE, &a->keep_prob, "F",
         "dropout keep probability; -1: 1, or the model's value"},
        {"with-dropout", CLI_FLAG, &a->with_dropout, NULL,
         "check with dropout on, one mask fixed for every evaluation of J"},
        {"mode", CLI_STRING, &a->mode, "NAME",
         "auto (full up to --max-full parameters, else per-block), full, "
         "per-block, directions"},
        {"max-full", CLI_INT64, &a->max_full, "N",
         "largest parameter count that auto checks in full"},
        {"per-block", CLI_INT, &a->per_block, "K",
         "coordinates per block in per-block mode (the largest gradient is "
         "always one)"},
        {"directions", CLI_INT, &a->directions, "K",
         "random unit directions in directions mode (2K evaluations of J)"},
        {"epsilon", CLI_DOUBLE, &a->epsilon, "F",
         "step of the central difference per parameter (directions mode "
         "steps F sqrt(n) along a unit vector)"},
        {"pass-threshold", CLI_DOUBLE, &a->pass_threshold, "F",
         "pass below this relative difference"},
        {"fail-threshold", CLI_DOUBLE, &a->fail_threshold, "F",
         "fail at or above this relative difference (warn between)"},
        {"worst", CLI_INT, &a->worst, "K",
         "worst coordinates listed, per block and overall (1 to 32)"},
        {"json", CLI_FLAG, &a->json, NULL,
         "print the report as one JSON object on stdout"},
        {0},
    };
    return cli_parse(argc, argv, opts, USAGE, DESCRIPTION);
}

// Fills check options from the flags. Returns -1 or an exit status.
static int check_flags(const gradcheck_args *a, fnn_gradcheck_options *o) {
    *o = fnn_gradcheck_options_default();
    if (fnn_gradcheck_mode_parse(a->mode, &o->mode) != FNN_OK) {
        return cli_bad_choice("mode", a->mode,
                              "auto, full, per-block, directions");
    }
    o->epsilon = a->epsilon;
    o->pass_threshold = a->pass_threshold;
    o->fail_threshold = a->fail_threshold;
    o->max_full_params = a->max_full;
    o->per_block = a->per_block;
    o->directions = a->directions;
    o->worst = a->worst;
    o->with_dropout = a->with_dropout;
    o->seed = (uint64_t)(a->net.seed < 0 ? 0 : a->net.seed);
    if (a->samples < 1) {
        cli_error("invalid value %d for --samples: expected >= 1",
                  a->samples);
    } else if (!(a->l2 >= 0 || a->l2 == -1)) {
        cli_error("invalid value %g for --l2: expected >= 0", a->l2);
    } else if (!((a->keep_prob > 0 && a->keep_prob <= 1) ||
                 a->keep_prob == -1)) {
        cli_error("invalid value %g for --keep-prob: expected 0 < F <= 1",
                  a->keep_prob);
    } else if (!(a->epsilon > 0)) {
        cli_error("invalid value %g for --epsilon: expected > 0",
                  a->epsilon);
    } else if (!(a->pass_threshold > 0)) {
        cli_error("invalid value %g for --pass-threshold: expected > 0",
                  a->pass_threshold);
    } else if (!(a->fail_threshold >= a->pass_threshold)) {
        cli_error("invalid value %g for --fail-threshold: expected >= "
                  "--pass-threshold (%g)",
                  a->fail_threshold, a->pass_threshold);
    } else if (a->per_block < 1 || a->directions < 1) {
        cli_error("invalid value %d for --%s: expected >= 1",
                  a->per_block < 1 ? a->per_block : a->directions,
                  a->per_block < 1 ? "per-block" : "directions");
    } else if (a->worst < 1 || a->worst > FNN_GRADCHECK_MAX_WORST) {
        cli_error("invalid value %d for --worst: expected 1 to %d", a->worst,
                  FNN_GRADCHECK_MAX_WORST);
    } else if (a->max_full < 0) {
        cli_error("invalid value %lld for --max-full: expected >= 0",
                  (long long)a->max_full);
    } else {
        return -1;
    }
    return CLI_EXIT_USAGE;
}

// Loads the model named by --model and the training data for it.
static int load_model(const gradcheck_args *a, fnn_dataset **ds,
                      fnn_net **net) {
    fnn_error err = {{0}};
    fnn_status s;
    *net = fnn_model_load(a->model, &err, &s);
    if (!*net) {
        cli_error("%s", err.message);
        return CLI_EXIT_USAGE;
    }
    *ds = cli_net_load(&a->net);
    return *ds ? -1 : CLI_EXIT_USAGE;
}

// Builds the network to check: the saved model, or a new one from train's
// flags with normalization fitted on the training data.
static int build_net(const gradcheck_args *a, fnn_dataset **ds,
                     fnn_net **net) {
    *net = NULL;
    if (a->model) {
        return load_model(a, ds, net);
    }
    fnn_net_options o;
    fnn_norm *norm = NULL;
    int rc = cli_net_setup(&a->net, ds, &o, &norm);
    if (rc >= 0) {
        fnn_norm_free(norm);
        return rc;
    }
    o.l2 = a->l2 >= 0 ? a->l2 : 0;
    o.keep_prob = a->keep_prob > 0 ? a->keep_prob : 1;
    fnn_status s;
    *net = fnn_net_create(&o, &s);
    if (*net && norm) {
        s = fnn_net_set_normalization(*net, norm->mean, norm->std);
    }
    fnn_norm_free(norm);
    if (!*net || s != FNN_OK) {
        cli_error("cannot create the network: %s", fnn_status_str(s));
        return CLI_EXIT_USAGE;
    }
    return -1;
}

// Applies --l2 and --keep-prob to a loaded model.
static void override_model(const gradcheck_args *a, fnn_net *net) {
    if (a->l2 >= 0) {
        fnn_net_set_l2(net, a->l2);
    }
    if (a->keep_prob > 0) {
        fnn_net_set_keep_prob(net, a->keep_prob);
    }
}

static void print_coord(FILE *out, const fnn_gradcheck_report *r,
                        const fnn_gradcheck_coord *c) {
    if (c->block < 0) {
        fprintf(out, "  direction %-5lld", (long long)c->index);
    } else {
        fprintf(out, "  %-16s (%d, %lld, %lld)", r->blocks[c->block].name,
                c->layer, (long long)c->row, (long long)c->col);
    }
    fprintf(out, "  analytic %.10e  numerical %.10e  |diff| %.3e",
            c->analytic, c->numerical, c->abs_diff);
    if (c->kink) {
        fprintf(out, "  kink: left %.6e right %.6e", c->left, c->right);
    }
    fputc('\n', out);
}

static void print_blocks(FILE *out, const fnn_gradcheck_report *r) {
    fprintf(out, "\n%-16s %9s %6s %10s %-8s %10s  %-18s %17s %17s\n",
            "block", "checked", "kinks", "rel. diff", "verdict",
            "max |diff|", "at (layer,row,col)", "analytic", "numerical");
    for (int b = 0; b < r->n_blocks; b++) {
        const fnn_gradcheck_block *blk = &r->blocks[b];
        fprintf(out, "%-16s %9lld %6lld %10.3e %-8s", blk->name,
                (long long)blk->checked, (long long)blk->kinks,
                blk->relative_difference,
                fnn_gradcheck_verdict_name(blk->verdict));
        if (blk->n_worst == 0) {
            fputc('\n', out);
            continue;
        }
        const fnn_gradcheck_coord *c = &blk->worst[0];
        char at[48];
        snprintf(at, sizeof at, "(%d, %lld, %lld)", c->layer,
                 (long long)c->row, (long long)c->col);
        fprintf(out, " %10.3e  %-18s %17.10e %17.10e\n", c->abs_diff, at,
                c->analytic, c->numerical);
    }
}

static const char *verdict_advice(const fnn_gradcheck_report *r) {
    if (r->verdict == FNN_GRADCHECK_WARN) {
        return ": look at the blocks";
    }
    return r->verdict == FNN_GRADCHECK_FAIL ? ": backprop disagrees with "
                                              "the numerical gradient"
                                            : "";
}

static void print_report(FILE *out, const fnn_gradcheck_report *r,
                         const fnn_gradcheck_options *o) {
    fprintf(out, "relative difference %.3e: %s%s (pass < %g, fail >= %g)\n",
            r->relative_difference, fnn_gradcheck_verdict_name(r->verdict),
            verdict_advice(r), o->pass_threshold, o->fail_threshold);
    fprintf(out, "mode %s", fnn_gradcheck_mode_name(r->mode));
    if (o->mode == FNN_GRADCHECK_AUTO) {
        fprintf(out, " (chosen by auto: %lld parameters, full up to %lld)",
                (long long)r->parameters, (long long)o->max_full_params);
    }
    fprintf(out, ", epsilon %g, %lld of %lld %s checked, %lld evaluations "
                 "of J in %.3f s\n",
            r->epsilon, (long long)r->parameters_checked,
            (long long)r->parameters,
            r->mode == FNN_GRADCHECK_DIRECTIONS ? "(directions)"
                                                : "parameters",
            (long long)r->evaluations, r->seconds);
    fprintf(out, "kinks crossed: %lld (judged by one-sided differences); "
                 "without that the relative difference is %.3e\n",
            (long long)r->kinks, r->central_relative_difference);
    if (r->mode == FNN_GRADCHECK_DIRECTIONS) {
        fprintf(out, "blocks are not checked one by one in directions mode: "
                     "use --mode per-block to locate a failure\n");
    } else {
        print_blocks(out, r);
    }
    if (r->first_failure >= 0) {
        fprintf(out, "\nfirst failing block in backprop order: %s\n",
                r->blocks[r->first_failure].name);
    }
    fprintf(out, "\n%d worst %s:\n", r->n_worst,
            r->mode == FNN_GRADCHECK_DIRECTIONS ? "directions"
                                                : "coordinates");
    for (int i = 0; i < r->n_worst; i++) {
        print_coord(out, r, &r->worst[i]);
    }
}

static void add_number(cJSON *obj, const char *key, double v) {
    if (isfinite(v)) {
        cJSON_AddNumberToObject(obj, key, v);
    } else {
        cJSON_AddNullToObject(obj, key);
    }
}

static cJSON *coords_json(const fnn_gradcheck_report *r,
                          const fnn_gradcheck_coord *list, int n) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) {
        const fnn_gradcheck_coord *c = &list[i];
        cJSON *o = cJSON_CreateObject();
        if (c->block >= 0) {
            cJSON_AddStringToObject(o, "block", r->blocks[c->block].name);
            cJSON_AddNumberToObject(o, "layer", c->layer);
            cJSON_AddNumberToObject(o, "row", (double)c->row);
            cJSON_AddNumberToObject(o, "column", (double)c->col);
        } else {
            cJSON_AddNumberToObject(o, "direction", (double)c->index);
        }
        cJSON_AddNumberToObject(o, "index", (double)c->index);
        add_number(o, "analytic", c->analytic);
        add_number(o, "numerical", c->numerical);
        add_number(o, "central", c->central);
        add_number(o, "abs_difference", c->abs_diff);
        cJSON_AddBoolToObject(o, "kink", c->kink);
        if (c->kink) {
            add_number(o, "left", c->left);
            add_number(o, "right", c->right);
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *report_json(const fnn_gradcheck_report *r, int samples) {
    cJSON *obj = cJSON_CreateObject();
    if (!obj) {
        return NULL;
    }
    add_number(obj, "relative_difference", r->relative_difference);
    cJSON_AddStringToObject(obj, "verdict",
                            fnn_gradcheck_verdict_name(r->verdict));
    cJSON_AddNumberToObject(obj, "epsilon", r->epsilon);
    cJSON_AddStringToObject(obj, "mode", fnn_gradcheck_mode_name(r->mode));
    cJSON_AddNumberToObject(obj, "parameters", (double)r->parameters);
    cJSON_AddNumberToObject(obj, "parameters_checked",
                            (double)r->parameters_checked);
    cJSON_AddNumberToObject(obj, "kinks", (double)r->kinks);
    add_number(obj, "central_relative_difference",
               r->central_relative_difference);
    cJSON_AddNumberToObject(obj, "evaluations", (double)r->evaluations);
    cJSON_AddNumberToObject(obj, "seconds", r->seconds);
    cJSON_AddNumberToObject(obj, "samples", samples);
    cJSON_AddStringToObject(obj, "dropout",
                            r->with_dropout ? "fixed-mask" : "off");
    cJSON_AddNumberToObject(obj, "keep_prob", r->keep_prob);
    if (r->first_failure >= 0) {
        cJSON_AddStringToObject(obj, "first_failure",
                                r->blocks[r->first_failure].name);
    } else {
        cJSON_AddNullToObject(obj, "first_failure");
    }
    cJSON *blocks = cJSON_AddArrayToObject(obj, "blocks");
    for (int b = 0; blocks && b < r->n_blocks; b++) {
        const fnn_gradcheck_block *blk = &r->blocks[b];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", blk->name);
        add_number(o, "relative_difference", blk->relative_difference);
        cJSON_AddStringToObject(o, "verdict",
                                fnn_gradcheck_verdict_name(blk->verdict));
        cJSON_AddNumberToObject(o, "checked", (double)blk->checked);
        cJSON_AddNumberToObject(o, "kinks", (double)blk->kinks);
        cJSON_AddItemToObject(o, "worst",
                              coords_json(r, blk->worst, blk->n_worst));
        cJSON_AddItemToArray(blocks, o);
    }
    cJSON_AddItemToObject(obj, "worst", coords_json(r, r->worst, r->n_worst));
    return obj;
}

static void print_setup(FILE *out, const fnn_net *net, int samples,
                        const fnn_gradcheck_options *o) {
    const fnn_net_options *n = fnn_net_get_options(net);
    fprintf(out, "fastnn: gradcheck of network");
    for (int l = 0; l <= n->n_layers; l++) {
        fprintf(out, "%s%d", l ? "-" : " ", n->sizes[l]);
    }
    fprintf(out, ", %s hidden, loss %s, %s, %d samples, l2 %g, float64\n",
            fnn_activation_name(n->activation), fnn_loss_name(n->loss),
            fnn_net_norm_mean(net) ? "inputs normalized" : "raw inputs",
            samples, n->l2);
    if (n->keep_prob >= 1) {
        fprintf(out, "fastnn: dropout off (keep_prob 1)\n");
    } else if (o->with_dropout) {
        fprintf(out, "fastnn: dropout on: keep_prob %g, one mask fixed for "
                     "every evaluation of J\n",
                n->keep_prob);
    } else {
        fprintf(out, "fastnn: dropout off for the check (keep_prob %g "
                     "ignored; --with-dropout checks with one fixed mask)\n",
                n->keep_prob);
    }
}

// Runs the check on the first `samples` rows of ds and prints the report.
// Returns the exit status the verdict calls for, or CLI_EXIT_USAGE.
static int run_check(const fnn_net *net, const fnn_dataset *ds, int samples,
                     const fnn_gradcheck_options *o, FILE *out,
                     const char *when, int json) {
    fnn_error err = {{0}};
    if (fnn_check_dataset(net, ds, &err) != FNN_OK) {
        cli_error("%s", err.message);
        return CLI_EXIT_USAGE;
    }
    if (samples > ds->n_rows) {
        cli_warn("--samples %d is more than the %lld rows of %s: using %lld",
                 samples, (long long)ds->n_rows, ds->source,
                 (long long)ds->n_rows);
        samples = (int)ds->n_rows;
    }
    int n_in = ds->n_features;
    float *x = malloc((size_t)samples * (size_t)n_in * sizeof *x);
    if (!x) {
        cli_error("out of memory for a batch of %d rows", samples);
        return CLI_EXIT_USAGE;
    }
    fnn_dataset_get_rows(ds, 0, samples, x);
    print_setup(json && !when ? stderr : out, net, samples, o);
    fnn_gradcheck_report r;
    fnn_status s = fnn_gradcheck_run(net, x, ds->labels, samples, o, &r,
                                     &err);
    free(x);
    if (s != FNN_OK) {
        cli_error("gradient check failed to run: %s", err.message);
        return CLI_EXIT_USAGE;
    }
    if (json) {
        cJSON *obj = report_json(&r, samples);
        if (obj && when) {
            cJSON_AddStringToObject(obj, "gradcheck", when);
        }
        progress_print_json(obj);
    } else {
        print_report(out, &r, o);
    }
    int rc = r.verdict == FNN_GRADCHECK_FAIL ? CLI_EXIT_FAILED : CLI_EXIT_OK;
    fnn_gradcheck_report_free(&r);
    return rc;
}

int cli_train_gradcheck(const fnn_net *net, const fnn_dataset *ds,
                        const char *when, int json) {
    fnn_gradcheck_options o = fnn_gradcheck_options_default();
    fprintf(stderr, "fastnn: gradient check at %s\n", when);
    int rc = run_check(net, ds, 32, &o, stderr, when, json);
    if (rc == CLI_EXIT_FAILED) {
        cli_error("gradient check at %s failed: backprop does not match "
                  "the numerical gradient; run 'fastnn gradcheck' with the "
                  "same flags for the full report",
                  when);
    }
    return rc == CLI_EXIT_OK ? -1 : rc;
}

int cmd_gradcheck(int argc, char **argv) {
    gradcheck_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    fnn_gradcheck_options o;
    rc = check_flags(&a, &o);
    if (rc >= 0) {
        return rc;
    }
    fnn_dataset *ds = NULL;
    fnn_net *net = NULL;
    rc = build_net(&a, &ds, &net);
    if (rc < 0) {
        if (a.model) {
            override_model(&a, net);
        }
        rc = run_check(net, ds, a.samples, &o, stdout, NULL, a.json);
    }
    fnn_net_free(net);
    fnn_dataset_free(ds);
    return rc;
}
