// fastnn train: load data, fit normalization, build, train and save.
#include "cli.h"
#include "cli_data.h"
#include "commands.h"
#include "progress.h"
#include "train_checkpoint.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct train_args {
    const char *train;
    const char *test;
    const char *train_labels;
    const char *test_labels;
    const char *layers;
    const char *activation;
    const char *init;
    const char *loss;
    const char *optimizer;
    const char *schedule;
    const char *out;
    const char *log;
    const char *checkpoint;
    const char *checkpoint_every;
    const char *resume;
    double learning_rate;
    double momentum;
    double l2;
    double keep_prob;
    int batch_size;
    int epochs;
    int threads; // 0 until resolved by choose_threads
    int64_t seed;
    int64_t limit;
    int no_normalize;
    int json;
    int gradcheck;
    int header;
    int skip_rows;
    const char *label_column;
} train_args;

typedef struct train_run {
    train_args a;
    fnn_net_options net;
    fnn_train_options train;
    fnn_dataset *train_ds;
    fnn_dataset *test_ds;
    int train_defaulted;
    char *args_json; // the command line, stored in checkpoints
    char *checkpoint_path; // default checkpoint path, or NULL
} train_run;

static const char USAGE[] =
    "fastnn train [--train PATH] [--test PATH] [--train-labels FILE] "
    "[--test-labels FILE] [--layers 256,128] "
    "[--activation relu] [--init auto] [--loss auto] [--optimizer adam] "
    "[--learning-rate F] [--momentum F] [--lr-schedule cosine] "
    "[--batch-size N] "
    "[--epochs N] [--l2 F] [--keep-prob F] [--seed N] [--limit N] "
    "[--no-normalize] [--threads N] [--header] [--label-column N|NAME] "
    "[--skip-rows N] [--out FILE] [--log FILE] [--json] [--gradcheck] "
    "[--checkpoint FILE] [--checkpoint-every N|Ns] [--resume FILE]";

static const char DESCRIPTION[] =
    "Trains a fully-connected network and saves it as a safetensors model.\n"
    "PATH is a directory of MNIST-style IDX files, an IDX images file, a\n"
    "NumPy .npy features file (labels in --train-labels or --test-labels)\n"
    "or a CSV file. Inputs are normalized with the training set's per-feature\n"
    "mean and standard deviation unless --no-normalize is given.";

static void args_default(train_args *a) {
    *a = (train_args){
        .layers = "256,128",
        .activation = "relu",
        .init = "auto",
        .loss = "auto",
        .optimizer = "adam",
        .schedule = "cosine",
        .out = "model.safetensors",
        .learning_rate = 1e-3,
        .momentum = 0.9,
        .l2 = 0,
        .keep_prob = 1,
        .batch_size = 128,
        .epochs = 10,
        .seed = 42,
        .limit = 0,
        .label_column = NULL,
    };
}

static int parse_args(train_run *r, int argc, char **argv) {
    train_args *a = &r->a;
    args_default(a);
    const cli_opt opts[] = {
        {"train", CLI_STRING, &a->train, "PATH",
         "training data (default: " CLI_FASHION_MNIST_DIR ")"},
        {"test", CLI_STRING, &a->test, "PATH",
         "test data, evaluated after every epoch"},
        {"train-labels", CLI_STRING, &a->train_labels, "FILE",
         "labels of --train: the labels .npy of a features .npy, or an IDX "
         "labels file"},
        {"test-labels", CLI_STRING, &a->test_labels, "FILE",
         "labels of --test, as --train-labels"},
        {"layers", CLI_STRING, &a->layers, "LIST",
         "hidden layer sizes, \"256,128\" or \"256x50\" (50 layers)"},
        {"activation", CLI_STRING, &a->activation, "NAME",
         "hidden activation: relu, leaky_relu, tanh, sigmoid, identity"},
        {"init", CLI_STRING, &a->init, "NAME",
         "auto, he, he-uniform, xavier, xavier-uniform, lecun, small, "
         "normal, zeros"},
        {"loss", CLI_STRING, &a->loss, "NAME",
         "auto (from the labels), softmax, sigmoid, mse"},
        {"optimizer", CLI_STRING, &a->optimizer, "NAME",
         "sgd, momentum, adam"},
        {"learning-rate", CLI_DOUBLE, &a->learning_rate, "F",
         "initial learning rate"},
        {"momentum", CLI_DOUBLE, &a->momentum, "F",
         "momentum coefficient for --optimizer momentum"},
        {"lr-schedule", CLI_STRING, &a->schedule, "NAME",
         "constant, step (x0.1 every 5 epochs), cosine (to 0)"},
        {"batch-size", CLI_INT, &a->batch_size, "N", "mini-batch size"},
        {"epochs", CLI_INT, &a->epochs, "N",
         "passes over the training set; 0 saves the initialized network"},
        {"l2", CLI_DOUBLE, &a->l2, "F",
         "L2 strength lambda in (lambda/2m) sum ||W||^2"},
        {"keep-prob", CLI_DOUBLE, &a->keep_prob, "F",
         "dropout keep probability on hidden layers (1 = off)"},
        {"seed", CLI_INT64, &a->seed, "N",
         "seed for weights, dropout and shuffling"},
        {"limit", CLI_INT64, &a->limit, "N",
         "use only the first N training samples (0 = all)"},
        {"no-normalize", CLI_FLAG, &a->no_normalize, NULL,
         "feed raw inputs, without z-score normalization"},
        {"threads", CLI_INT, &a->threads, "N",
         "threads that split each mini-batch; results are reproducible for "
         "a seed and thread count (0 = one per online CPU, at most one per "
         "16 rows of the batch)"},
        {"header", CLI_FLAG, &a->header, NULL,
         "CSV files have a header row (default: detected)"},
        {"label-column", CLI_STRING, &a->label_column, "N|NAME",
         "CSV label column, 0-based index or header name (default: last)"},
        {"skip-rows", CLI_INT, &a->skip_rows, "N",
         "CSV lines to skip before the header or data"},
        {"out", CLI_STRING, &a->out, "FILE", "model file to write"},
        {"log", CLI_STRING, &a->log, "FILE",
         "write per-epoch metrics as JSON lines (for fastnn plot)"},
        {"checkpoint", CLI_STRING, &a->checkpoint, "FILE",
         "write checkpoints there (default with --checkpoint-every or on "
         "SIGINT/SIGTERM: the --out path + \".checkpoint\")"},
        {"checkpoint-every", CLI_STRING, &a->checkpoint_every, "N|Ns",
         "checkpoint every N epochs, or every N steps with Ns (default 1 "
         "with --checkpoint)"},
        {"resume", CLI_STRING, &a->resume, "FILE",
         "continue the run saved in checkpoint FILE, with its options"},
        {"json", CLI_FLAG, &a->json, NULL,
         "write one JSON object per epoch and a summary to stdout"},
        {"gradcheck", CLI_FLAG, &a->gradcheck, NULL,
         "check backprop against numerical gradients at initialization "
         "and after the last epoch"},
        {0},
    };
    return cli_parse(argc, argv, opts, USAGE, DESCRIPTION);
}

// Resolves the names given on the command line into network and training
// options. Returns -1 to continue or an exit status.
static int resolve_names(train_run *r) {
    train_args *a = &r->a;
    fnn_net_options *n = &r->net;
    fnn_train_options *t = &r->train;
    *n = fnn_net_options_default();
    *t = fnn_train_options_default();
    if (fnn_activation_parse(a->activation, &n->activation) != FNN_OK) {
        return cli_bad_choice("activation", a->activation,
                              "relu, leaky_relu, tanh, sigmoid, identity");
    }
    if (fnn_init_parse(a->init, &n->init) != FNN_OK) {
        return cli_bad_choice("init", a->init,
                              "auto, he, he-uniform, xavier, xavier-uniform, "
                              "lecun, small, normal, zeros");
    }
    if (fnn_loss_parse(a->loss, &n->loss) != FNN_OK) {
        return cli_bad_choice("loss", a->loss, "auto, softmax, sigmoid, mse");
    }
    if (fnn_optimizer_parse(a->optimizer, &t->optim.kind) != FNN_OK) {
        return cli_bad_choice("optimizer", a->optimizer,
                              "sgd, momentum, adam");
    }
    if (fnn_schedule_parse(a->schedule, &t->schedule) != FNN_OK) {
        return cli_bad_choice("lr-schedule", a->schedule,
                              "constant, step, cosine");
    }
    int n_hidden = 0;
    if (cli_parse_layers(a->layers, n->sizes + 1, FNN_MAX_LAYERS - 1,
                         &n_hidden) != 0) {
        cli_error("invalid value \"%s\" for --layers: expected sizes such as "
                  "\"256,128\" or \"256x50\", each from 1 to %d, at most %d "
                  "layers",
                  a->layers, 1 << 24, FNN_MAX_LAYERS - 1);
        return CLI_EXIT_USAGE;
    }
    n->n_layers = n_hidden + 1;
    return -1;
}

static int check_numbers(const train_args *a) {
    if (!(a->learning_rate > 0)) {
        cli_error("invalid value %g for --learning-rate: expected > 0",
                  a->learning_rate);
    } else if (!(a->momentum >= 0 && a->momentum < 1)) {
        cli_error("invalid value %g for --momentum: expected 0 <= F < 1",
                  a->momentum);
    } else if (a->batch_size < 1) {
        cli_error("invalid value %d for --batch-size: expected >= 1",
                  a->batch_size);
    } else if (a->epochs < 0) {
        cli_error("invalid value %d for --epochs: expected >= 0", a->epochs);
    } else if (!(a->l2 >= 0)) {
        cli_error("invalid value %g for --l2: expected >= 0", a->l2);
    } else if (!(a->keep_prob > 0 && a->keep_prob <= 1)) {
        cli_error("invalid value %g for --keep-prob: expected 0 < F <= 1",
                  a->keep_prob);
    } else if (a->threads < 0 || a->threads > FNN_MAX_THREADS) {
        cli_error("invalid value %d for --threads: expected 0 to %d",
                  a->threads, FNN_MAX_THREADS);
    } else if (a->limit < 0) {
        cli_error("invalid value %lld for --limit: expected >= 0",
                  (long long)a->limit);
    } else if (a->seed < 0) {
        cli_error("invalid value %lld for --seed: expected >= 0",
                  (long long)a->seed);
    } else {
        return -1;
    }
    return CLI_EXIT_USAGE;
}

static fnn_dataset *load(const char *path, const char *labels,
                         int want_train, const train_args *a) {
    fnn_error err = {{0}};
    fnn_status s;
    fnn_csv_options csv = cli_csv_options(a->header, a->label_column,
                                          a->skip_rows);
    fnn_dataset *ds = cli_data_load(path, labels, want_train, &csv, &err, &s);
    if (!ds) {
        cli_error("%s", err.message);
    }
    return ds;
}

static int load_data(train_run *r) {
    train_args *a = &r->a;
    if (!a->train) {
        a->train = CLI_FASHION_MNIST_DIR;
        r->train_defaulted = 1;
        fprintf(stderr, "fastnn: no --train given: using Fashion-MNIST in %s "
                        "(train and t10k files)\n",
                CLI_FASHION_MNIST_DIR);
        if (!a->test) {
            a->test = CLI_FASHION_MNIST_DIR;
        }
    }
    if (a->test_labels && !a->test) {
        cli_error("--test-labels %s was given without --test: pass the test "
                  "features with --test",
                  a->test_labels);
        return CLI_EXIT_USAGE;
    }
    r->train_ds = load(a->train, a->train_labels, 1, a);
    if (!r->train_ds) {
        return CLI_EXIT_USAGE;
    }
    if (a->limit > 0 && a->limit < r->train_ds->n_rows) {
        r->train_ds->n_rows = a->limit;
    }
    if (a->test) {
        r->test_ds = load(a->test, a->test_labels, 0, a);
        if (!r->test_ds) {
            return CLI_EXIT_USAGE;
        }
    }
    return -1;
}

static int max_classes(const train_run *r) {
    int k = r->train_ds->n_classes;
    if (r->test_ds && r->test_ds->labels_integer &&
        r->test_ds->n_classes > k) {
        k = r->test_ds->n_classes;
    }
    return k;
}

// Chooses the loss from the labels when --loss auto, and the output width.
static int choose_loss(train_run *r) {
    fnn_net_options *n = &r->net;
    const fnn_dataset *ds = r->train_ds;
    if (n->loss == FNN_LOSS_AUTO) {
        if (!ds->labels_integer) {
            n->loss = FNN_LOSS_MSE;
        } else {
            n->loss = max_classes(r) <= 2 ? FNN_LOSS_SIGMOID_BCE
                                          : FNN_LOSS_SOFTMAX_CE;
        }
    }
    if (n->loss == FNN_LOSS_SOFTMAX_CE) {
        if (!ds->labels_integer) {
            cli_error("%s: labels are not class indices (non-negative "
                      "integers), so softmax cannot fit them: use --loss mse",
                      ds->source);
            return CLI_EXIT_USAGE;
        }
        int k = max_classes(r);
        n->sizes[n->n_layers] = k < 2 ? 2 : k;
    } else {
        n->sizes[n->n_layers] = 1;
    }
    n->sizes[0] = ds->n_features;
    return -1;
}

static void warn_zero_variance(const fnn_norm *norm, const fnn_dataset *ds) {
    char list[256] = "";
    size_t used = 0;
    int shown = 0;
    for (int j = 0; j < norm->n_features && shown < 8; j++) {
        if (norm->std[j] != 0) {
            continue;
        }
        int w = snprintf(list + used, sizeof list - used, "%s%d%s%s%s",
                         shown ? ", " : "", j, ds->names ? " (" : "",
                         ds->names ? ds->names[j] : "", ds->names ? ")" : "");
        if (w < 0 || (size_t)w >= sizeof list - used) {
            break;
        }
        used += (size_t)w;
        shown++;
    }
    int rest = norm->n_zero_variance - shown;
    cli_warn("%d feature%s of %s %s zero variance and will only be "
             "centered: %s%s",
             norm->n_zero_variance, norm->n_zero_variance == 1 ? "" : "s",
             ds->source, norm->n_zero_variance == 1 ? "has" : "have", list,
             rest > 0 ? ", ..." : "");
}

static int normalize(train_run *r, fnn_net *net) {
    if (r->a.no_normalize) {
        return -1;
    }
    fnn_status s;
    fnn_norm *norm = fnn_norm_fit(r->train_ds, &s);
    if (!norm) {
        cli_error("cannot compute normalization statistics of %s: %s",
                  r->train_ds->source, fnn_status_str(s));
        return CLI_EXIT_USAGE;
    }
    if (norm->n_zero_variance > 0) {
        warn_zero_variance(norm, r->train_ds);
    }
    s = fnn_net_set_normalization(net, norm->mean, norm->std);
    fnn_norm_free(norm);
    if (s != FNN_OK) {
        cli_error("cannot install normalization: %s", fnn_status_str(s));
        return CLI_EXIT_USAGE;
    }
    return -1;
}

// The training configuration stored in the model's metadata. Paths are
// kept as given, and no time stamp is added, so reruns give equal files.
static char *config_json(const train_run *r) {
    const train_args *a = &r->a;
    cJSON *c = cJSON_CreateObject();
    if (!c) {
        return NULL;
    }
    cJSON_AddStringToObject(c, "train", a->train);
    if (a->test) {
        cJSON_AddStringToObject(c, "test", a->test);
    }
    if (a->train_labels) {
        cJSON_AddStringToObject(c, "train_labels", a->train_labels);
    }
    if (a->test_labels) {
        cJSON_AddStringToObject(c, "test_labels", a->test_labels);
    }
    cJSON_AddNumberToObject(c, "train_samples", (double)r->train_ds->n_rows);
    cJSON_AddStringToObject(c, "optimizer",
                            fnn_optimizer_name(r->train.optim.kind));
    cJSON_AddNumberToObject(c, "learning_rate", a->learning_rate);
    cJSON_AddStringToObject(c, "lr_schedule",
                            fnn_schedule_name(r->train.schedule));
    cJSON_AddNumberToObject(c, "batch_size", a->batch_size);
    cJSON_AddNumberToObject(c, "epochs", a->epochs);
    cJSON_AddNumberToObject(c, "seed", (double)a->seed);
    cJSON_AddNumberToObject(c, "threads", a->threads);
    char *text = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return text;
}

static void print_config(const train_run *r, const fnn_net *net) {
    const fnn_net_options *n = fnn_net_get_options(net);
    const fnn_train_options *t = &r->train;
    fprintf(stderr, "fastnn: train %s (%lld samples, %d features)",
            r->a.train, (long long)r->train_ds->n_rows, n->sizes[0]);
    if (r->test_ds) {
        fprintf(stderr, ", test %s (%lld samples)", r->a.test,
                (long long)r->test_ds->n_rows);
    }
    fprintf(stderr, "\nfastnn: network");
    for (int l = 0; l <= n->n_layers; l++) {
        fprintf(stderr, "%s%d", l ? "-" : " ", n->sizes[l]);
    }
    fprintf(stderr, ", %s hidden, loss %s, inputs %s\n",
            fnn_activation_name(n->activation), fnn_loss_name(n->loss),
            fnn_net_norm_mean(net) ? "normalized (z-score)" : "raw");
    for (int l = 0; l < n->n_layers; l++) {
        fnn_init init = fnn_net_layer_init(net, l);
        fprintf(stderr, "fastnn:   layers.%d %d -> %d  init %s (std %.4g)%s\n",
                l, n->sizes[l], n->sizes[l + 1], fnn_init_name(init),
                fnn_init_std(init, n->sizes[l], n->sizes[l + 1]),
                n->init == FNN_INIT_AUTO ? ", chosen by --init auto" : "");
    }
    fprintf(stderr,
            "fastnn: optimizer %s, learning rate %g (%s), batch size %d, "
            "epochs %d, l2 %g, keep_prob %g, seed %llu, threads %d\n",
            fnn_optimizer_name(t->optim.kind), t->optim.learning_rate,
            fnn_schedule_name(t->schedule), t->batch_size, t->epochs, n->l2,
            n->keep_prob, (unsigned long long)n->seed, fnn_net_threads(net));
}

// Splitting a mini-batch pays only when each thread gets enough rows to
// amortize the extra jobs and the gradient reduction: on 2 idle cores,
// 16-row blocks (batch 32) trained about 1.35x faster than one thread and
// 8-row blocks (batch 16) about 1.15x (docs/benchmarks.md).
#define MIN_ROWS_PER_THREAD 16

// Resolves --threads 0 and starts the threads. Returns -1 to continue or an
// exit status.
static int choose_threads(train_run *r, fnn_net *net) {
    train_args *a = &r->a;
    if (a->threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int n = a->batch_size / MIN_ROWS_PER_THREAD;
        if (cpus < n) {
            n = (int)cpus;
        }
        n = n < FNN_MAX_THREADS ? n : FNN_MAX_THREADS;
        a->threads = n < 1 ? 1 : n;
    }
    fnn_status s = fnn_net_set_threads(net, a->threads);
    if (s != FNN_OK) {
        cli_error("cannot start %d threads: %s: lower --threads",
                  a->threads, fnn_status_str(s));
        return CLI_EXIT_USAGE;
    }
    return -1;
}

// Rejects a run whose model, checkpoint or log would overwrite one of its
// inputs or one another. A resumed run rewrites its own checkpoint, so only
// the model and the log are compared with --resume.
static int check_paths_distinct(const train_args *a) {
    const cli_path outputs[] = {
        {"out", a->out}, {"checkpoint", a->checkpoint}, {"log", a->log},
    };
    const cli_path inputs[] = {
        {"train", a->train}, {"test", a->test},
        {"train-labels", a->train_labels}, {"test-labels", a->test_labels},
    };
    const cli_path resume[] = {{"resume", a->resume}};
    return cli_check_distinct(outputs, 3, inputs, 4) &&
           cli_check_distinct(outputs, 1, resume, 1) &&
           cli_check_distinct(outputs + 2, 1, resume, 1);
}

static int prepare(train_run *r, int argc, char **argv) {
    int rc = parse_args(r, argc, argv);
    if (rc < 0) {
        rc = resolve_names(r);
    }
    if (rc < 0) {
        rc = check_numbers(&r->a);
    }
    if (rc < 0 && !cli_check_writable(r->a.out)) {
        rc = CLI_EXIT_USAGE;
    }
    int64_t epochs_every, steps_every;
    if (rc < 0 && r->a.checkpoint_every &&
        ckpt_parse_every(r->a.checkpoint_every, &epochs_every,
                         &steps_every) != 0) {
        rc = CLI_EXIT_USAGE;
    }
    if (rc < 0 && r->a.checkpoint && !cli_check_writable(r->a.checkpoint)) {
        rc = CLI_EXIT_USAGE;
    }
    if (rc < 0 && r->a.log && !cli_check_writable(r->a.log)) {
        rc = CLI_EXIT_USAGE;
    }
    if (rc < 0 && !check_paths_distinct(&r->a)) {
        rc = CLI_EXIT_USAGE;
    }
    if (rc < 0) {
        rc = load_data(r);
    }
    if (rc < 0) {
        rc = choose_loss(r);
    }
    if (rc >= 0) {
        return rc;
    }
    train_args *a = &r->a;
    r->net.l2 = a->l2;
    r->net.keep_prob = a->keep_prob;
    r->net.seed = (uint64_t)a->seed;
    r->train.epochs = a->epochs;
    r->train.batch_size = a->batch_size;
    r->train.optim.learning_rate = a->learning_rate;
    r->train.optim.momentum = a->momentum;
    return -1;
}

static int finish(train_run *r, fnn_net *net, progress *p) {
    fnn_error err = {{0}};
    if (r->a.epochs == 0 && r->test_ds) {
        fnn_eval_result ev;
        if (fnn_evaluate(net, r->test_ds, &ev, &err) != FNN_OK) {
            cli_error("%s", err.message);
            return CLI_EXIT_USAGE;
        }
        p->last = (fnn_epoch_report){.test_loss = ev.loss,
                                     .test_accuracy = ev.accuracy,
                                     .train_loss = NAN};
        p->have_last = 1;
    }
    char *config = config_json(r);
    fnn_status s = fnn_model_save(net, r->a.out, config, &err);
    cJSON_free(config);
    if (s != FNN_OK) {
        cli_error("%s", err.message);
        return CLI_EXIT_USAGE;
    }
    progress_summary(p);
    if (p->have_last && !isnan(p->last.test_accuracy)) {
        fprintf(stderr, "fastnn: test accuracy %.4f, test loss %.4f\n",
                p->last.test_accuracy, p->last.test_loss);
    }
    fprintf(stderr, "fastnn: model saved to %s\n", r->a.out);
    return CLI_EXIT_OK;
}

// Checks the free space for the model and checkpoint files before training,
// and fills the checkpoint options. Returns -1 to continue or an exit status.
static int setup_checkpoints(train_run *r, const fnn_net *net, ckpt_run *c) {
    const train_args *a = &r->a;
    *c = (ckpt_run){.config = r->args_json, .inner = r->train};
    if (a->checkpoint_every &&
        ckpt_parse_every(a->checkpoint_every, &c->every_epochs,
                         &c->every_steps) != 0) {
        return CLI_EXIT_USAGE;
    }
    if (a->checkpoint && !a->checkpoint_every) {
        c->every_epochs = 1;
    }
    size_t n = strlen(a->out) + sizeof ".checkpoint";
    r->checkpoint_path = a->checkpoint ? NULL : malloc(n);
    if (!a->checkpoint && !r->checkpoint_path) {
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    if (r->checkpoint_path) {
        snprintf(r->checkpoint_path, n, "%s.checkpoint", a->out);
    }
    c->path = a->checkpoint ? a->checkpoint : r->checkpoint_path;
    // Header room, then parameters; a checkpoint adds up to two optimizer
    // vectors and the row order.
    int64_t params = fnn_net_param_count(net) *
                     (fnn_net_get_options(net)->dtype == FNN_F64 ? 8 : 4);
    int64_t model = (1 << 16) + params + 16 * (int64_t)r->net.sizes[0];
    int64_t ckpt = model + 2 * params + 8 * r->train_ds->n_rows;
    if (!ckpt_check_space(a->out, model, "model") ||
        ((c->every_epochs || c->every_steps) &&
         !ckpt_check_space(c->path, ckpt, "checkpoint"))) {
        return CLI_EXIT_USAGE;
    }
    return -1;
}

// Trains, stopping for checkpoints and on SIGINT or SIGTERM. Returns -1 when
// training finished, else the exit status.
static int run_training(train_run *r, fnn_net *net, fnn_trainer **trainer) {
    ckpt_run c;
    int rc = setup_checkpoints(r, net, &c);
    fnn_error err = {{0}};
    fnn_status s = FNN_OK;
    if (rc < 0 && !*trainer) {
        *trainer = fnn_trainer_create(net, r->train_ds, r->test_ds, &r->train,
                                      &err, &s);
        if (!*trainer) {
            cli_error("%s", err.message);
            rc = cli_exit_for(s);
        }
    }
    if (rc < 0) {
        fnn_train_options callbacks = {.on_batch = ckpt_on_batch,
                                       .on_epoch = ckpt_on_epoch,
                                       .user = &c};
        fnn_trainer_set_callbacks(*trainer, &callbacks);
        ckpt_install_signals();
        rc = ckpt_train(*trainer, &c);
        ckpt_restore_signals();
    }
    return rc;
}

// Reads the checkpoint of --resume. Returns -1 to continue or an exit
// status.
static int load_checkpoint(train_run *r, const char *path,
                           fnn_trainer **trainer) {
    fnn_error err = {{0}};
    fnn_status s;
    *trainer = fnn_checkpoint_load(path, r->train_ds, r->test_ds, NULL, &err,
                                   &s);
    if (!*trainer) {
        cli_error("%s", err.message);
        return CLI_EXIT_USAGE;
    }
    fnn_train_position p = fnn_trainer_position(*trainer);
    if (p.epoch >= p.epochs) {
        fprintf(stderr, "fastnn: %s is a finished run (%d of %d epochs, "
                        "step %lld): saving its model\n",
                path, p.epoch, p.epochs, (long long)p.step);
        return -1;
    }
    fprintf(stderr, "fastnn: resuming %s at epoch %d, batch %lld of %lld "
                    "(step %lld)\n",
            path, p.epoch + 1, (long long)p.batch, (long long)p.n_batches,
            (long long)p.step);
    return -1;
}

int cmd_train(int argc, char **argv) {
    train_run r = {0};
    const char *resume = ckpt_find_resume(argc, argv);
    char **resumed = NULL;
    int n_resumed = resume ? ckpt_resume_args(resume, argc, argv, &resumed)
                           : 0;
    int rc = n_resumed < 0 ? CLI_EXIT_USAGE : -1;
    if (resumed) {
        argc = n_resumed;
        argv = resumed;
    }
    if (rc < 0) {
        rc = prepare(&r, argc, argv);
    }
    if (rc < 0 && !(r.args_json = ckpt_args_json(argc, argv))) {
        cli_error("out of memory");
        rc = CLI_EXIT_USAGE;
    }
    fnn_trainer *trainer = NULL;
    fnn_net *net = NULL;
    fnn_status s;
    if (rc < 0 && resume) {
        rc = load_checkpoint(&r, resume, &trainer);
        net = fnn_trainer_net(trainer);
    } else if (rc < 0 && !(net = fnn_net_create(&r.net, &s))) {
        cli_error("cannot create the network: %s", fnn_status_str(s));
        rc = CLI_EXIT_USAGE;
    }
    if (rc < 0 && !resume) {
        rc = normalize(&r, net);
    }
    if (rc < 0) {
        rc = choose_threads(&r, net);
    }
    progress p = {0};
    if (rc < 0) {
        print_config(&r, net);
        progress_init(&p, r.a.json, r.train_ds->n_rows, r.a.batch_size);
        r.train.on_batch = progress_on_batch;
        r.train.on_epoch = progress_on_epoch;
        r.train.user = &p;
        if (r.a.log && progress_open_log(&p, r.a.log, net, r.train_ds)) {
            rc = CLI_EXIT_USAGE;
        }
    }
    if (rc < 0 && r.a.gradcheck) {
        rc = cli_train_gradcheck(net, r.train_ds, "initialization", r.a.json);
    }
    if (rc < 0) {
        rc = run_training(&r, net, &trainer);
    }
    if (progress_close_log(&p) && rc < 0) {
        rc = CLI_EXIT_USAGE;
    }
    if (rc < 0) {
        rc = finish(&r, net, &p);
    }
    if (rc == CLI_EXIT_OK && r.a.gradcheck && r.a.epochs > 0) {
        int check = cli_train_gradcheck(net, r.train_ds, "the last epoch",
                                        r.a.json);
        rc = check < 0 ? rc : check;
    }
    if (!resume) {
        fnn_net_free(net);
    }
    fnn_trainer_free(trainer);
    ckpt_free_args(resumed, n_resumed);
    free(r.args_json);
    free(r.checkpoint_path);
    fnn_dataset_free(r.train_ds);
    fnn_dataset_free(r.test_ds);
    return rc;
}
