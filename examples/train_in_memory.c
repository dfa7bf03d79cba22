// Trains a network on arrays built in memory, saves it, loads it back and
// predicts with the loaded copy: the smallest complete use of the library.
//
//   example_train_in_memory [MODEL_PATH]
//
// The data are three Gaussian blobs in the plane, one per class, drawn from
// the library's seeded generator, so every run prints the same numbers.
// Exits with 0 when the test accuracy is at least 0.9 and the loaded model
// predicts exactly what the trained one does.
#include <fastnn.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_CLASSES 3
#define N_FEATURES 2

// Fills x [n, 2] and labels [n] with points around the corners of a
// triangle of radius 3; each point's class is its corner.
static void make_blobs(fnn_rng *rng, int n, float *x, float *labels) {
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < n; i++) {
        int c = i % N_CLASSES;
        double angle = 2 * pi * c / N_CLASSES;
        x[2 * i] = (float)(3 * cos(angle) + fnn_rng_normal(rng));
        x[2 * i + 1] = (float)(3 * sin(angle) + fnn_rng_normal(rng));
        labels[i] = (float)c;
    }
}

// A data set that borrows the caller's arrays. It is not passed to
// fnn_dataset_free, which would free them.
static fnn_dataset borrow(int n, const float *x, float *labels) {
    fnn_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n_rows = n;
    ds.n_features = N_FEATURES;
    ds.f32 = x;
    ds.labels = labels;
    ds.n_classes = N_CLASSES;
    ds.labels_integer = 1;
    ds.source = "memory";
    return ds;
}

static int failed(fnn_status s, const fnn_error *err, const char *what) {
    if (s == FNN_OK) {
        return 0;
    }
    fprintf(stderr, "train_in_memory: %s failed: %s%s%s\n", what,
            fnn_status_str(s), err && err->message[0] ? ": " : "",
            err ? err->message : "");
    return 1;
}

// Builds a 2-16-3 ReLU network with softmax output and input normalization
// fitted on the training set.
static fnn_net *build(const fnn_dataset *train) {
    fnn_net_options o = fnn_net_options_default();
    o.n_layers = 2;
    o.sizes[0] = N_FEATURES;
    o.sizes[1] = 16;
    o.sizes[2] = N_CLASSES;
    o.seed = 7;
    fnn_status s;
    fnn_net *net = fnn_net_create(&o, &s);
    if (failed(s, NULL, "fnn_net_create")) {
        return NULL;
    }
    fnn_norm *norm = fnn_norm_fit(train, &s);
    if (!failed(s, NULL, "fnn_norm_fit")) {
        s = fnn_net_set_normalization(net, norm->mean, norm->std);
    }
    fnn_norm_free(norm);
    if (failed(s, NULL, "normalization")) {
        fnn_net_free(net);
        return NULL;
    }
    return net;
}

// Returns 1 when both networks give bit-identical probabilities on x.
static int same_predictions(fnn_net *a, fnn_net *b, const float *x, int n) {
    float *pa = malloc((size_t)n * N_CLASSES * sizeof *pa);
    float *pb = malloc((size_t)n * N_CLASSES * sizeof *pb);
    int same = pa && pb && fnn_net_predict(a, x, n, pa) == FNN_OK &&
               fnn_net_predict(b, x, n, pb) == FNN_OK &&
               memcmp(pa, pb, (size_t)n * N_CLASSES * sizeof *pa) == 0;
    free(pa);
    free(pb);
    return same;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "train_in_memory.safetensors";
    enum { N_TRAIN = 600, N_TEST = 300 };
    static float x_train[N_TRAIN * N_FEATURES], y_train[N_TRAIN];
    static float x_test[N_TEST * N_FEATURES], y_test[N_TEST];
    fnn_rng rng;
    fnn_rng_seed(&rng, 1);
    make_blobs(&rng, N_TRAIN, x_train, y_train);
    make_blobs(&rng, N_TEST, x_test, y_test);
    fnn_dataset train = borrow(N_TRAIN, x_train, y_train);
    fnn_dataset test = borrow(N_TEST, x_test, y_test);

    fnn_net *net = build(&train);
    if (!net) {
        return 1;
    }
    fnn_train_options t = fnn_train_options_default();
    t.epochs = 20;
    t.batch_size = 32;
    t.optim.learning_rate = 0.01;
    fnn_error err = {{0}};
    fnn_eval_result ev = {0};
    int ok = !failed(fnn_train(net, &train, NULL, &t, &err), &err, "training") &&
             !failed(fnn_evaluate(net, &test, &ev, &err), &err, "evaluation");
    if (ok) {
        printf("test accuracy %.4f, test loss %.4f\n", ev.accuracy, ev.loss);
        ok = !failed(fnn_model_save(net, path, NULL, &err), &err, "saving");
    }
    fnn_net *loaded = NULL;
    if (ok) {
        fnn_status s;
        loaded = fnn_model_load(path, &err, &s);
        ok = !failed(s, &err, "loading");
    }
    if (ok && !same_predictions(net, loaded, x_test, N_TEST)) {
        fprintf(stderr, "train_in_memory: the loaded model predicts "
                        "differently from the trained one\n");
        ok = 0;
    } else if (ok) {
        printf("saved %s; the loaded model predicts the same on %d rows\n",
               path, N_TEST);
    }
    fnn_net_free(loaded);
    fnn_net_free(net);
    return ok && ev.accuracy >= 0.9 ? 0 : 1;
}
