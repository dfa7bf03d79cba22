// fastnn eval, predict and stats: commands that read a data set and report.
#include "cli.h"
#include "cli_data.h"
#include "commands.h"
#include "progress.h"

#include <cJSON.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct data_args {
    const char *model;
    const char *data;
    const char *labels;
    const char *output;
    const char *label_column;
    int header;
    int skip_rows;
    int json;
} data_args;

static fnn_dataset *load_data(const data_args *a) {
    fnn_error err = {{0}};
    fnn_status s;
    fnn_csv_options csv = cli_csv_options(a->header, a->label_column,
                                          a->skip_rows);
    fnn_dataset *ds = cli_data_load(a->data, a->labels, 0, &csv, &err, &s);
    if (!ds) {
        cli_error("%s", err.message);
    }
    return ds;
}

static fnn_net *load_model(const char *path) {
    fnn_error err = {{0}};
    fnn_status s;
    fnn_net *net = fnn_model_load(path, &err, &s);
    if (!net) {
        cli_error("%s", err.message);
    }
    return net;
}

static int require(const char *value, const char *option, const char *cmd) {
    if (!value) {
        cli_error("missing --%s: see 'fastnn %s --help'", option, cmd);
        return 0;
    }
    return 1;
}

#define DATA_OPTIONS(a)                                                      \
    {"data", CLI_STRING, &(a).data, "PATH",                                 \
     "data: IDX directory (its t10k files), IDX images file, NumPy .npy "   \
     "features file or CSV"},                                               \
        {"labels", CLI_STRING, &(a).labels, "FILE",                         \
         "labels .npy of a .npy data file (required), or IDX labels file "  \
         "(default: found beside the images file)"},                        \
        {"header", CLI_FLAG, &(a).header, NULL,                             \
         "CSV files have a header row (default: detected)"},                \
        {"label-column", CLI_STRING, &(a).label_column, "N|NAME",           \
         "CSV label column: 0-based index, header name or \"none\" "         \
         "(default: last)"},                                                 \
        {"skip-rows", CLI_INT, &(a).skip_rows, "N",                         \
         "CSV lines to skip before the header or data"}

// The loss of an MSE model is 0.5 sum_k (y_k - t_k)^2 per sample; the MSE
// averages the squared error over the k outputs instead.
static double mse_of(const fnn_net *net, double loss) {
    const fnn_net_options *o = fnn_net_get_options(net);
    return 2 * loss / o->sizes[o->n_layers];
}

static void print_eval(const fnn_net *net, const fnn_eval_result *ev,
                       int json) {
    int is_mse = isnan(ev->accuracy);
    if (json) {
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddNumberToObject(obj, "samples", (double)ev->samples);
        cJSON_AddNumberToObject(obj, "loss", ev->loss);
        if (is_mse) {
            cJSON_AddNumberToObject(obj, "mse", mse_of(net, ev->loss));
        } else {
            cJSON_AddNumberToObject(obj, "accuracy", ev->accuracy);
        }
        progress_print_json(obj);
    } else if (!is_mse) {
        printf("samples %lld  loss %.4f  accuracy %.4f\n",
               (long long)ev->samples, ev->loss, ev->accuracy);
    } else {
        printf("samples %lld  loss (half squared error) %.6g  mse %.6g\n",
               (long long)ev->samples, ev->loss, mse_of(net, ev->loss));
    }
}

int cmd_eval(int argc, char **argv) {
    data_args a = {0};
    const cli_opt opts[] = {
        {"model", CLI_STRING, &a.model, "FILE", "model file to evaluate"},
        DATA_OPTIONS(a),
        {"json", CLI_FLAG, &a.json, NULL,
         "print {\"samples\", \"loss\", \"accuracy\"} (\"mse\" for MSE "
         "models) as JSON on stdout"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts,
                       "fastnn eval --model FILE --data PATH [--json]",
                       "Reports the mean loss (without the L2 term) and the "
                       "accuracy of a saved\nmodel on a data set, normalized "
                       "with the statistics stored in the model.");
    if (rc >= 0) {
        return rc;
    }
    if (!require(a.model, "model", "eval") || !require(a.data, "data", "eval")) {
        return CLI_EXIT_USAGE;
    }
    fnn_net *net = load_model(a.model);
    fnn_dataset *ds = net ? load_data(&a) : NULL;
    int n_in = net ? fnn_net_get_options(net)->sizes[0] : 0;
    fnn_eval_result ev;
    fnn_error err = {{0}};
    rc = CLI_EXIT_USAGE;
    if (ds && ds->f32 && !a.label_column && !a.labels &&
        ds->n_features == n_in - 1) {
        // A CSV file of n_in columns lost its last one to the label.
        cli_error("%s: %d features per row after the last column was read as "
                  "the label, but the model expects %d: eval needs a label "
                  "column (predict reads features only)",
                  ds->source, ds->n_features, n_in);
    } else if (ds && fnn_evaluate(net, ds, &ev, &err) != FNN_OK) {
        cli_error("%s", err.message);
    } else if (ds) {
        rc = CLI_EXIT_OK;
        print_eval(net, &ev, a.json);
    }
    fnn_dataset_free(ds);
    fnn_net_free(net);
    return rc;
}

// Runs the model on every row of ds in batches of 1000 and returns the
// outputs [n_rows, n_out] in the model's dtype (malloc'd), or NULL.
static void *predict_all(fnn_net *net, const fnn_dataset *ds) {
    const fnn_net_options *o = fnn_net_get_options(net);
    int k = o->sizes[o->n_layers];
    int n_in = o->sizes[0];
    int batch = 1000;
    int f64 = o->dtype == FNN_F64;
    size_t elem = f64 ? sizeof(double) : sizeof(float);
    float *x = malloc((size_t)batch * (size_t)n_in * sizeof(float));
    double *x64 = f64 ? malloc((size_t)batch * (size_t)n_in * sizeof(double))
                      : NULL;
    char *y = malloc((size_t)ds->n_rows * (size_t)k * elem);
    int ok = x && y && (x64 || !f64);
    for (int64_t first = 0; ok && first < ds->n_rows; first += batch) {
        int count = (int)(ds->n_rows - first < batch ? ds->n_rows - first
                                                     : batch);
        fnn_dataset_get_rows(ds, first, count, x);
        int64_t n = (int64_t)count * n_in;
        for (int64_t i = 0; f64 && i < n; i++) {
            x64[i] = x[i];
        }
        void *out = y + (size_t)first * (size_t)k * elem;
        ok = fnn_net_predict(net, f64 ? (void *)x64 : (void *)x, count,
                             out) == FNN_OK;
    }
    free(x);
    free(x64);
    if (!ok) {
        free(y);
        return NULL;
    }
    return y;
}

// Writes one CSV row of outputs per sample.
static int write_csv(const fnn_net *net, const fnn_dataset *ds,
                     const void *y, FILE *out) {
    const fnn_net_options *o = fnn_net_get_options(net);
    int k = o->sizes[o->n_layers];
    int f64 = o->dtype == FNN_F64;
    for (int c = 0; c < k; c++) {
        // A sigmoid output is the probability of label 1, so its column is
        // p_1; softmax columns are p_0 .. p_{k-1}.
        int index = o->loss == FNN_LOSS_SIGMOID_BCE && k == 1 ? 1 : c;
        fprintf(out, "%s%s_%d", c ? "," : "",
                o->loss == FNN_LOSS_MSE ? "output" : "p", index);
    }
    fputc('\n', out);
    for (int64_t i = 0; i < ds->n_rows; i++) {
        for (int c = 0; c < k; c++) {
            int64_t at = i * k + c;
            double v = f64 ? ((const double *)y)[at] : ((const float *)y)[at];
            fprintf(out, "%s%.9g", c ? "," : "", v);
        }
        fputc('\n', out);
    }
    return !ferror(out);
}

// Writes the CSV to `path`, or to stdout when path is NULL. A file is
// written to a temporary name in the same directory, flushed to disk and
// renamed, so an existing file is replaced whole or left as it was.
static int write_csv_file(const fnn_net *net, const fnn_dataset *ds,
                          const void *y, const char *path) {
    struct stat st;
    if (path && stat(path, &st) == 0 && !S_ISREG(st.st_mode) &&
        !S_ISDIR(st.st_mode)) {
        // A device or FIFO is written in place: renaming over it would
        // replace the device node itself.
        FILE *dev = fopen(path, "w");
        int ok = dev && write_csv(net, ds, y, dev);
        ok = dev && fclose(dev) == 0 && ok;
        if (!ok) {
            cli_error("cannot write %s: %s", path, strerror(errno));
        }
        return ok;
    }
    if (!path) {
        int ok = write_csv(net, ds, y, stdout) && fflush(stdout) == 0;
        if (!ok) {
            cli_error("writing predictions to stdout failed");
        }
        return ok;
    }
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    int fd = -1;
    if (tmp) {
        snprintf(tmp, n, "%s.tmp.XXXXXX", path);
        fd = mkstemp(tmp);
    }
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        cli_error("cannot create a file next to %s: %s", path,
                  strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return 0;
    }
    fchmod(fd, 0644);
    int ok = write_csv(net, ds, y, out) && fflush(out) == 0 &&
             fsync(fd) == 0;
    int e = errno;
    ok = fclose(out) == 0 && ok;
    if (ok && rename(tmp, path) != 0) {
        e = errno;
        ok = 0;
    }
    if (!ok) {
        cli_error("cannot write %s: %s", path, strerror(e ? e : EIO));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

// Writes the outputs as an .npy array [n_rows, n_out] in the model's dtype.
static int write_npy_file(const fnn_net *net, const fnn_dataset *ds,
                          const void *y, const char *path) {
    const fnn_net_options *o = fnn_net_get_options(net);
    int64_t shape[2] = {ds->n_rows, o->sizes[o->n_layers]};
    fnn_error err = {{0}};
    if (fnn_npy_write(path, o->dtype, 2, shape, y, &err) != FNN_OK) {
        cli_error("%s", err.message);
        return 0;
    }
    return 1;
}

static int ends_with_npy(const char *path) {
    size_t n = strlen(path);
    return n >= 4 && strcmp(path + n - 4, ".npy") == 0;
}

int cmd_predict(int argc, char **argv) {
    data_args a = {0};
    const cli_opt opts[] = {
        {"model", CLI_STRING, &a.model, "FILE", "model file"},
        DATA_OPTIONS(a),
        {"output", CLI_STRING, &a.output, "FILE",
         "write there instead of to stdout: a NumPy array [rows, outputs] "
         "when FILE ends in .npy, else CSV"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts,
                       "fastnn predict --model FILE --data PATH "
                       "[--labels FILE] [--output FILE]",
                       "Writes one CSV row per sample: the class "
                       "probabilities for softmax and\nsigmoid models, the "
                       "outputs for MSE models. With --output FILE.npy the\n"
                       "same values are written as a NumPy array in the "
                       "model's dtype.");
    if (rc >= 0) {
        return rc;
    }
    if (!require(a.model, "model", "predict") ||
        !require(a.data, "data", "predict")) {
        return CLI_EXIT_USAGE;
    }
    const cli_path outputs[] = {{"output", a.output}};
    const cli_path inputs[] = {
        {"model", a.model}, {"data", a.data}, {"labels", a.labels},
    };
    if (!cli_check_distinct(outputs, 1, inputs, 3)) {
        return CLI_EXIT_USAGE;
    }
    fnn_net *net = load_model(a.model);
    int n_in = net ? fnn_net_get_options(net)->sizes[0] : 0;
    fnn_dataset *ds = net ? load_data(&a) : NULL;
    if (ds && ds->f32 && !a.label_column && !a.labels &&
        ds->n_features == n_in - 1) {
        // A CSV file with exactly n_in columns contains features only, so
        // read it again without a label column.
        fnn_dataset_free(ds);
        a.label_column = "none";
        ds = load_data(&a);
    }
    rc = CLI_EXIT_USAGE;
    void *y = NULL;
    if (ds && ds->n_features != n_in) {
        cli_error("%s: %d features per row, but the model expects %d",
                  ds->source, ds->n_features, n_in);
    } else if (ds && (!a.output || cli_check_writable(a.output))) {
        y = predict_all(net, ds);
        if (!y) {
            cli_error("%s: prediction failed: out of memory or a non-finite "
                      "output",
                      ds->source);
        } else if (a.output && ends_with_npy(a.output)) {
            rc = write_npy_file(net, ds, y, a.output) ? CLI_EXIT_OK : rc;
        } else {
            rc = write_csv_file(net, ds, y, a.output) ? CLI_EXIT_OK : rc;
        }
    }
    free(y);
    fnn_dataset_free(ds);
    fnn_net_free(net);
    return rc;
}

static void print_stats(const fnn_dataset *ds, const fnn_norm *norm,
                        int json) {
    if (!json) {
        printf("%-8s %-16s %14s %14s %14s %14s %s\n", "index", "name",
               "mean", "std", "min", "max", "zero_variance");
    }
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *features = json ? cJSON_AddArrayToObject(root, "features") : NULL;
    if (root) {
        cJSON_AddNumberToObject(root, "rows", (double)ds->n_rows);
    }
    for (int j = 0; j < norm->n_features; j++) {
        char fallback[24];
        snprintf(fallback, sizeof fallback, "f%d", j);
        const char *name = ds->names ? ds->names[j] : fallback;
        int zero = norm->std[j] == 0;
        if (!json) {
            printf("%-8d %-16s %14.6g %14.6g %14.6g %14.6g %s\n", j, name,
                   norm->mean[j], norm->std[j], norm->min[j], norm->max[j],
                   zero ? "yes" : "no");
            continue;
        }
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "index", j);
        cJSON_AddStringToObject(f, "name", name);
        cJSON_AddNumberToObject(f, "mean", norm->mean[j]);
        cJSON_AddNumberToObject(f, "std", norm->std[j]);
        cJSON_AddNumberToObject(f, "min", norm->min[j]);
        cJSON_AddNumberToObject(f, "max", norm->max[j]);
        cJSON_AddBoolToObject(f, "zero_variance", zero);
        cJSON_AddItemToArray(features, f);
    }
    if (json) {
        progress_print_json(root);
    } else {
        printf("%lld rows, %d features, %d with zero variance\n",
               (long long)ds->n_rows, norm->n_features, norm->n_zero_variance);
    }
}

int cmd_stats(int argc, char **argv) {
    data_args a = {0};
    const cli_opt opts[] = {
        DATA_OPTIONS(a),
        {"json", CLI_FLAG, &a.json, NULL, "print JSON on stdout"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "fastnn stats --data PATH [--json]",
                       "Prints each feature's mean, population standard "
                       "deviation, minimum and\nmaximum, and flags features "
                       "with zero variance.");
    if (rc >= 0) {
        return rc;
    }
    if (!require(a.data, "data", "stats")) {
        return CLI_EXIT_USAGE;
    }
    fnn_dataset *ds = load_data(&a);
    if (!ds) {
        return CLI_EXIT_USAGE;
    }
    fnn_status s;
    fnn_norm *norm = fnn_norm_fit(ds, &s);
    if (!norm) {
        cli_error("%s: cannot compute statistics: %s", a.data,
                  fnn_status_str(s));
        fnn_dataset_free(ds);
        return CLI_EXIT_USAGE;
    }
    print_stats(ds, norm, a.json);
    fnn_norm_free(norm);
    fnn_dataset_free(ds);
    return CLI_EXIT_OK;
}
