// Benchmark driver for fastnn: trains the 784-256-128-10 ReLU network on
// Fashion-MNIST and prints one JSON object per line, in the same format as
// bench/torch_mlp.py, so bench/run.py can put both side by side.
//
//   fnn_bench throughput --batch 128 --optimizer adam --epochs 4 [--rows N]
//       one line per epoch with samples/s (training steps only, no eval)
//   fnn_bench accuracy --target 0.88 --batch 128 --optimizer adam
//       trains at a constant rate until the test accuracy reaches the
//       target, then prints the epochs and the whole-process time
//
// Both end with the peak resident set size (getrusage, KiB). --threads N
// (default 1) splits each mini-batch over N threads (fnn_net_set_threads);
// OPENBLAS_NUM_THREADS sets the BLAS threads of a 1-thread run.
#include "fastnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define DATA_DIR "/usr/share/datasets/fashion-mnist"

typedef struct bench_args {
    const char *mode;
    int batch_size;
    fnn_optimizer optimizer;
    int epochs;
    int64_t rows;
    double target;
    int threads;
} bench_args;

typedef struct bench_state {
    const bench_args *a;
    double start;
    int reached;
} bench_state;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long peak_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int usage(void) {
    fprintf(stderr, "usage: fnn_bench throughput|accuracy [--batch N] "
                    "[--optimizer adam|momentum] [--epochs N] [--rows N] "
                    "[--target F] [--threads N]\n");
    return 2;
}

static int parse(bench_args *a, int argc, char **argv) {
    *a = (bench_args){.batch_size = 128, .optimizer = FNN_ADAM, .epochs = 4,
                      .target = 0.88, .threads = 1};
    if (argc < 2) {
        return usage();
    }
    a->mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--batch")) {
            a->batch_size = atoi(v);
        } else if (!strcmp(k, "--optimizer")) {
            if (fnn_optimizer_parse(v, &a->optimizer) != FNN_OK) {
                return usage();
            }
        } else if (!strcmp(k, "--epochs")) {
            a->epochs = atoi(v);
        } else if (!strcmp(k, "--rows")) {
            a->rows = atoll(v);
        } else if (!strcmp(k, "--target")) {
            a->target = atof(v);
        } else if (!strcmp(k, "--threads")) {
            a->threads = atoi(v);
        } else {
            return usage();
        }
    }
    if (strcmp(a->mode, "throughput") && strcmp(a->mode, "accuracy")) {
        return usage();
    }
    return a->batch_size > 0 && a->epochs > 0 ? 0 : usage();
}

static int on_epoch(void *user, const fnn_epoch_report *r) {
    bench_state *st = user;
    if (!strcmp(st->a->mode, "throughput")) {
        printf("{\"epoch\":%d,\"samples_per_second\":%.1f,"
               "\"train_loss\":%.6f}\n",
               r->epoch, r->samples_per_second, r->train_loss);
        fflush(stdout);
        return 0;
    }
    printf("{\"epoch\":%d,\"test_accuracy\":%.4f,\"elapsed\":%.3f}\n",
           r->epoch, r->test_accuracy, now_seconds() - st->start);
    fflush(stdout);
    st->reached = r->test_accuracy >= st->a->target;
    return st->reached;
}

static fnn_dataset *load(const char *split, fnn_error *err) {
    char images[256], labels[256];
    snprintf(images, sizeof images, DATA_DIR "/%s-images-idx3-ubyte.gz",
             split);
    snprintf(labels, sizeof labels, DATA_DIR "/%s-labels-idx1-ubyte.gz",
             split);
    return fnn_idx_read(images, labels, err, NULL);
}

static fnn_status run(const bench_args *a, fnn_dataset *train,
                      fnn_dataset *test, fnn_error *err) {
    fnn_net_options no = fnn_net_options_default();
    fnn_status s;
    fnn_net *net = fnn_net_create(&no, &s);
    fnn_norm *norm = net ? fnn_norm_fit(train, &s) : NULL;
    if (!norm) {
        fnn_net_free(net);
        return s;
    }
    fnn_net_set_normalization(net, norm->mean, norm->std);
    fnn_norm_free(norm);
    s = fnn_net_set_threads(net, a->threads);
    if (s != FNN_OK) {
        snprintf(err->message, sizeof err->message,
                 "cannot use --threads %d (1 to %d)", a->threads,
                 FNN_MAX_THREADS);
        fnn_net_free(net);
        return s;
    }
    fnn_train_options to = fnn_train_options_default();
    to.batch_size = a->batch_size;
    to.optim.kind = a->optimizer;
    // PyTorch's usual rates for these optimizers on this network.
    to.optim.learning_rate = a->optimizer == FNN_ADAM ? 1e-3 : 0.05;
    to.schedule = FNN_SCHEDULE_CONSTANT;
    to.epochs = !strcmp(a->mode, "accuracy") ? 50 : a->epochs;
    bench_state st = {.a = a, .start = now_seconds()};
    to.on_epoch = on_epoch;
    to.user = &st;
    int accuracy = !strcmp(a->mode, "accuracy");
    s = fnn_train(net, train, accuracy ? test : NULL, &to, err);
    if (s == FNN_ERR_INTERRUPTED && st.reached) {
        s = FNN_OK;
    }
    fnn_net_free(net);
    return s;
}

int main(int argc, char **argv) {
    double start = now_seconds();
    bench_args a;
    if (parse(&a, argc, argv)) {
        return 2;
    }
    fnn_error err = {{0}};
    fnn_dataset *train = load("train", &err);
    fnn_dataset *test = train ? load("t10k", &err) : NULL;
    if (!test) {
        fprintf(stderr, "fnn_bench: %s\n", err.message);
        fnn_dataset_free(train);
        return 1;
    }
    if (a.rows > 0 && a.rows < train->n_rows) {
        train->n_rows = a.rows;
    }
    fnn_status s = run(&a, train, test, &err);
    fnn_dataset_free(train);
    fnn_dataset_free(test);
    if (s != FNN_OK) {
        fprintf(stderr, "fnn_bench: %s (%s)\n", err.message,
                fnn_status_str(s));
        return 1;
    }
    printf("{\"summary\":true,\"process_seconds\":%.3f,\"max_rss_kib\":%ld}\n",
           now_seconds() - start, peak_rss_kib());
    return 0;
}
