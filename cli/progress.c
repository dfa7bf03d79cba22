#include "progress.h"

#include "cli.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress *p, int json, int64_t rows, int batch_size) {
    *p = (progress){.json = json, .rows = rows, .batch_size = batch_size};
    p->tty = isatty(STDERR_FILENO);
    p->epoch_start = now();
}

int progress_on_batch(void *user, int epoch, int64_t batch, int64_t n_batches,
                      double loss) {
    progress *p = user;
    if (batch == 1) {
        p->epoch_start = now();
    }
    if (!p->tty) {
        return 0;
    }
    double t = now();
    // Redraw at most ten times a second, and always on the last batch.
    if (t - p->last_draw < 0.1 && batch != n_batches) {
        return 0;
    }
    p->last_draw = t;
    double elapsed = t - p->epoch_start;
    double done = (double)batch / (double)n_batches;
    double rate = elapsed > 0 ? batch * (double)p->batch_size / elapsed : 0;
    double eta = done > 0 ? elapsed * (1 - done) / done : 0;
    char bar[31];
    int filled = (int)(done * 30);
    for (int i = 0; i < 30; i++) {
        bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    }
    bar[30] = '\0';
    fprintf(stderr,
            "\repoch %d [%s] %lld/%lld loss %.4f %.0f samples/s ETA %.0fs  ",
            epoch, bar, (long long)batch, (long long)n_batches, loss, rate,
            eta);
    fflush(stderr);
    return 0;
}

static void add_number(cJSON *obj, const char *key, double v) {
    if (isfinite(v)) {
        cJSON_AddNumberToObject(obj, key, v);
    } else {
        cJSON_AddNullToObject(obj, key);
    }
}

void progress_print_json(cJSON *obj) {
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    if (text) {
        puts(text);
        fflush(stdout);
    }
    cJSON_free(text);
    cJSON_Delete(obj);
}

static cJSON *epoch_json(const fnn_epoch_report *r, double seconds,
                         double rate) {
    cJSON *obj = cJSON_CreateObject();
    if (!obj) {
        return NULL;
    }
    cJSON_AddNumberToObject(obj, "epoch", r->epoch);
    add_number(obj, "train_loss", r->train_loss);
    add_number(obj, "test_loss", r->test_loss);
    add_number(obj, "test_accuracy", r->test_accuracy);
    add_number(obj, "seconds", seconds);
    add_number(obj, "samples_per_second", rate);
    add_number(obj, "learning_rate", r->learning_rate);
    return obj;
}

int progress_open_log(progress *p, const char *path, fnn_net *net,
                      const fnn_dataset *train) {
    // The file is created at the first epoch record, so a run that fails
    // its checks or its first epoch leaves an existing log untouched.
    p->log = NULL;
    p->log_path = path;
    p->log_net = net;
    p->log_train = train;
    return 0;
}

// Creates the log file on first use; returns nonzero when it cannot.
static int ensure_log(progress *p) {
    if (p->log) {
        return 0;
    }
    p->log = fopen(p->log_path, "w");
    if (!p->log) {
        cli_error("cannot open log file %s: %s", p->log_path,
                  strerror(errno));
        return 1;
    }
    return 0;
}

int progress_close_log(progress *p) {
    if (!p->log) {
        return 0;
    }
    int failed = ferror(p->log);
    failed |= fclose(p->log) != 0;
    p->log = NULL;
    // A failed write was reported where it happened.
    if (failed && !p->log_failed) {
        cli_error("cannot write log file %s: %s", p->log_path,
                  strerror(errno));
    }
    return failed;
}

// Accuracy of the network on the first PROGRESS_LOG_TRAIN_ROWS training
// rows, or NaN when it cannot be measured (MSE, or an evaluation error).
static double train_accuracy(const progress *p) {
    fnn_dataset head = *p->log_train;
    if (head.n_rows > PROGRESS_LOG_TRAIN_ROWS) {
        head.n_rows = PROGRESS_LOG_TRAIN_ROWS;
    }
    fnn_eval_result ev;
    if (fnn_evaluate(p->log_net, &head, &ev, NULL) != FNN_OK) {
        return NAN;
    }
    return ev.accuracy;
}

// Appends the epoch's record to the --log file; returns nonzero, which
// stops training, when the write fails.
static int write_log(progress *p, const fnn_epoch_report *r) {
    cJSON *obj = epoch_json(r, r->seconds, r->samples_per_second);
    char *text = NULL;
    if (obj) {
        add_number(obj, "train_accuracy", train_accuracy(p));
        const fnn_net_options *o = fnn_net_get_options(p->log_net);
        cJSON_AddStringToObject(obj, "loss_function", fnn_loss_name(o->loss));
        text = cJSON_PrintUnformatted(obj);
    }
    cJSON_Delete(obj);
    if (!text) {
        cli_error("cannot write log file %s: out of memory", p->log_path);
        return 1;
    }
    if (ensure_log(p)) {
        cJSON_free(text);
        p->log_failed = 1;
        return 1;
    }
    int failed = fprintf(p->log, "%s\n", text) < 0 || fflush(p->log) != 0;
    cJSON_free(text);
    if (failed) {
        cli_error("cannot write log file %s: %s", p->log_path,
                  strerror(errno));
        p->log_failed = 1;
    }
    return failed;
}

int progress_on_epoch(void *user, const fnn_epoch_report *r) {
    progress *p = user;
    p->last = *r;
    p->have_last = 1;
    p->total_seconds += r->seconds;
    if (p->tty) {
        fputc('\n', stderr);
    }
    fprintf(stderr, "epoch %d/%d  train_loss %.4f", r->epoch, r->epochs,
            r->train_loss);
    if (!isnan(r->test_loss)) {
        fprintf(stderr, "  test_loss %.4f", r->test_loss);
    }
    if (!isnan(r->test_accuracy)) {
        fprintf(stderr, "  test_accuracy %.4f", r->test_accuracy);
    }
    fprintf(stderr, "  %.2f s  %.0f samples/s\n", r->seconds,
            r->samples_per_second);
    if (p->json) {
        progress_print_json(epoch_json(r, r->seconds, r->samples_per_second));
    }
    return p->log_path ? write_log(p, r) : 0;
}

void progress_summary(const progress *p) {
    if (!p->json || !p->have_last) {
        return;
    }
    double rate = p->total_seconds > 0
                      ? (double)p->rows * p->last.epoch / p->total_seconds
                      : 0;
    cJSON *obj = epoch_json(&p->last, p->total_seconds, rate);
    if (obj) {
        cJSON_AddTrueToObject(obj, "summary");
    }
    progress_print_json(obj);
}
