// fastnn plot: draws the per-epoch records of `fastnn train --log` as loss
// and accuracy curves.
#include "cli.h"
#include "commands.h"
#include "plot.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// The curves of one log file, one entry per epoch line.
typedef struct curves {
    int n;
    int cap;
    double *epoch;
    double *train_loss;
    double *test_loss;
    double *train_accuracy;
    double *test_accuracy;
    char loss_function[64];
} curves;

static void curves_free(curves *c) {
    free(c->epoch);
    free(c->train_loss);
    free(c->test_loss);
    free(c->train_accuracy);
    free(c->test_accuracy);
}

static int curves_grow(curves *c) {
    if (c->n < c->cap) {
        return 0;
    }
    int cap = c->cap ? 2 * c->cap : 64;
    double **arrays[] = {&c->epoch, &c->train_loss, &c->test_loss,
                         &c->train_accuracy, &c->test_accuracy};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        double *p = realloc(*arrays[i], (size_t)cap * sizeof(double));
        if (!p) {
            return -1;
        }
        *arrays[i] = p;
    }
    c->cap = cap;
    return 0;
}

// Returns the number stored under key, NaN when it is null or absent, and
// sets *bad when it is present with another type.
static double number_field(const cJSON *obj, const char *key, int *bad) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) {
        return NAN;
    }
    if (!cJSON_IsNumber(item)) {
        *bad = 1;
        return NAN;
    }
    return item->valuedouble;
}

// Adds the epoch record on `line` (1-based line number `line_no`) of `path`.
static int add_record(curves *c, const char *path, long line_no,
                      const char *line) {
    cJSON *obj = cJSON_Parse(line);
    if (!obj || !cJSON_IsObject(obj)) {
        cli_error("%s: line %ld: invalid JSON \"%.40s\": expected one object "
                  "per line as written by fastnn train --log",
                  path, line_no, line);
        cJSON_Delete(obj);
        return -1;
    }
    int bad = 0;
    double epoch = number_field(obj, "epoch", &bad);
    if (bad || !isfinite(epoch)) {
        cli_error("%s: line %ld: missing or invalid \"epoch\" in \"%.40s\"",
                  path, line_no, line);
        cJSON_Delete(obj);
        return -1;
    }
    if (curves_grow(c) != 0) {
        cli_error("out of memory reading %s", path);
        cJSON_Delete(obj);
        return -1;
    }
    c->epoch[c->n] = epoch;
    c->train_loss[c->n] = number_field(obj, "train_loss", &bad);
    c->test_loss[c->n] = number_field(obj, "test_loss", &bad);
    c->train_accuracy[c->n] = number_field(obj, "train_accuracy", &bad);
    c->test_accuracy[c->n] = number_field(obj, "test_accuracy", &bad);
    const cJSON *loss = cJSON_GetObjectItemCaseSensitive(obj, "loss_function");
    if (cJSON_IsString(loss) && c->n == 0) {
        snprintf(c->loss_function, sizeof c->loss_function, "%s",
                 loss->valuestring);
    }
    cJSON_Delete(obj);
    if (bad) {
        cli_error("%s: line %ld: a metric is not a number in \"%.40s\"", path,
                  line_no, line);
        return -1;
    }
    c->n++;
    return 0;
}

static int read_log(const char *path, curves *c) {
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("cannot open log file %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t size = 0;
    long line_no = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &size, f) >= 0) {
        line_no++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[strspn(line, " \t")] == '\0') {
            continue;
        }
        rc = add_record(c, path, line_no, line);
    }
    if (rc == 0 && ferror(f)) {
        cli_error("cannot read log file %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && c->n == 0) {
        cli_error("%s: no epoch records: write one with fastnn train --log",
                  path);
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

static int any_finite(const double *v, int n) {
    for (int i = 0; i < n; i++) {
        if (isfinite(v[i])) {
            return 1;
        }
    }
    return 0;
}

// Appends a series when the log has at least one value for it.
static void add_series(plot_series *s, int *n, const char *title,
                       const curves *c, const double *y, int dashed) {
    if (any_finite(y, c->n)) {
        s[(*n)++] = (plot_series){.title = title, .x = c->epoch, .y = y,
                                  .n = c->n, .dashed = dashed};
    }
}

static const char *loss_label(const char *loss_function) {
    if (strcmp(loss_function, "mse") == 0) {
        return "loss (0.5 squared error per sample)";
    }
    if (strcmp(loss_function, "sigmoid_binary_cross_entropy") == 0) {
        return "loss (binary cross-entropy, nats)";
    }
    return "loss (cross-entropy, nats)";
}

static int draw(const char *path, const char *log_path, const curves *c) {
    double *acc = malloc(2 * (size_t)c->n * sizeof(double));
    if (!acc) {
        cli_error("out of memory for the plot");
        return CLI_EXIT_USAGE;
    }
    // Accuracy in percent.
    for (int i = 0; i < c->n; i++) {
        acc[i] = 100 * c->train_accuracy[i];
        acc[c->n + i] = 100 * c->test_accuracy[i];
    }
    plot_series loss[2];
    plot_series accuracy[2];
    int n_loss = 0;
    int n_acc = 0;
    add_series(loss, &n_loss, "training loss", c, c->train_loss, 0);
    add_series(loss, &n_loss, "test loss", c, c->test_loss, 1);
    add_series(accuracy, &n_acc, "training accuracy", c, acc, 0);
    add_series(accuracy, &n_acc, "test accuracy", c, acc + c->n, 1);
    plot_panel panels[2] = {
        {.title = "loss", .xlabel = "epoch",
         .ylabel = loss_label(c->loss_function), .integer_x = 1,
         .series = loss, .n_series = n_loss},
        {.title = "accuracy", .xlabel = "epoch", .ylabel = "accuracy (%)",
         .integer_x = 1, .key = PLOT_KEY_INSIDE_BOTTOM, .series = accuracy,
         .n_series = n_acc},
    };
    char title[512];
    snprintf(title, sizeof title, "fastnn train: %s", log_path);
    int rc = plot_draw(path, title, panels, n_acc > 0 ? 2 : 1);
    free(acc);
    return rc;
}

// Moves the one positional argument (the log file) out of argv and turns
// "-o" into "--output", so that cli_parse sees only long options. Returns
// the new argc, or -1 after printing an error.
static int split_args(int argc, char **argv, char **args, const char **log) {
    static char output_flag[] = "--output";
    int n = 0;
    args[n++] = argv[0];
    *log = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            args[n++] = output_flag;
            if (i + 1 < argc) {
                args[n++] = argv[++i];
            }
        } else if (argv[i][0] == '-') {
            args[n++] = argv[i];
        } else if (!*log) {
            *log = argv[i];
        } else {
            cli_error("unexpected argument \"%s\": fastnn plot takes one log "
                      "file",
                      argv[i]);
            return -1;
        }
    }
    return n;
}

int cmd_plot(int argc, char **argv) {
    const char *output = NULL;
    const cli_opt opts[] = {
        {"output", CLI_STRING, &output, "FILE",
         "image to write, .png or .svg (also -o FILE)"},
        {0},
    };
    char **args = malloc(((size_t)argc + 1) * sizeof *args);
    if (!args) {
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    const char *log = NULL;
    int n = split_args(argc, argv, args, &log);
    int rc = n < 0 ? CLI_EXIT_USAGE
                   : cli_parse(n, args, opts,
                               "fastnn plot FILE.jsonl -o FILE.png",
                               "Draws the training and test loss and "
                               "accuracy per epoch from a log written\nby "
                               "fastnn train --log FILE.jsonl.");
    free(args);
    if (rc >= 0) {
        return rc;
    }
    if (!log || !output) {
        cli_error("missing %s: usage: fastnn plot FILE.jsonl -o FILE.png",
                  log ? "-o FILE" : "the log file");
        return CLI_EXIT_USAGE;
    }
    if (!plot_check_path(output, "output")) {
        return CLI_EXIT_USAGE;
    }
    curves c = {0};
    rc = read_log(log, &c) == 0 ? draw(output, log, &c) : CLI_EXIT_USAGE;
    curves_free(&c);
    if (rc == CLI_EXIT_OK) {
        fprintf(stderr, "fastnn: plot written to %s\n", output);
    }
    return rc;
}
