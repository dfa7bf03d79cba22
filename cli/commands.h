// Entry points of the fastnn subcommands; each takes argv with argv[0] set
// to the command name and returns the process exit status.
#ifndef FNN_COMMANDS_H
#define FNN_COMMANDS_H

#include "cli.h"

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_diagnose(int argc, char **argv);
int cmd_study(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
// Runs the gradient check of train --gradcheck on the first 32 rows of ds
// ("initialization" or "the last epoch" as `when`) and prints the report to
// stderr, or one JSON line to stdout. Returns -1 for pass or warn, else the
// exit status (1 for fail, 2 when the check cannot run).
int cli_train_gradcheck(const struct fnn_net *net,
                        const struct fnn_dataset *ds, const char *when,
                        int json);

// The network and data flags of train that diagnose and study share, and
// the set-up they drive (defined in cmd_diagnose.c).
typedef struct cli_net_flags {
    const char *train;
    const char *train_labels;
    const char *layers;
    const char *activation;
    const char *init;
    const char *loss;
    int64_t seed;
    int64_t limit;
    int no_normalize;
    int header;
    const char *label_column;
    int skip_rows;
} cli_net_flags;

// Sets the defaults of train: Fashion-MNIST, "256,128", relu, auto, seed 42.
void cli_net_flags_default(cli_net_flags *f);

// cli_opt rows for the fields of a cli_net_flags `f`.
#define CLI_NET_FLAG_OPTIONS(f)                                              \
    {"train", CLI_STRING, &(f).train, "PATH",                               \
     "data: IDX directory (its train files), IDX images file, CSV or .npy " \
     "features file"},                                                      \
        {"train-labels", CLI_STRING, &(f).train_labels, "FILE",             \
         "labels of --train: the labels .npy of a .npy features file, or "  \
         "an IDX labels file"},                                             \
        {"layers", CLI_STRING, &(f).layers, "LIST",                         \
         "hidden sizes: \"256,128\", or \"256x50\" for 50 layers of 256"}, \
        {"activation", CLI_STRING, &(f).activation, "NAME",                 \
         "hidden activation: relu, leaky_relu, tanh, sigmoid, identity"},   \
        {"init", CLI_STRING, &(f).init, "NAME",                             \
         "auto, he, he-uniform, xavier, xavier-uniform, lecun, small, "     \
         "normal, zeros"},                                                  \
        {"loss", CLI_STRING, &(f).loss, "NAME",                             \
         "auto (from the labels), softmax, sigmoid, mse"},                  \
        {"seed", CLI_INT64, &(f).seed, "N", "seed of the initial weights"}, \
        {"limit", CLI_INT64, &(f).limit, "N",                               \
         "use only the first N samples (0 = all)"},                         \
        {"no-normalize", CLI_FLAG, &(f).no_normalize, NULL,                 \
         "feed raw inputs, without z-score normalization"},                 \
        {"header", CLI_FLAG, &(f).header, NULL,                             \
         "CSV files have a header row (default: detected)"},                \
        {"label-column", CLI_STRING, &(f).label_column, "N|NAME",           \
         "CSV label column, 0-based index or header name (default: last)"}, \
        {"skip-rows", CLI_INT, &(f).skip_rows, "N",                         \
         "CSV lines to skip before the header or data"}

// Loads the data of --train and --train-labels (Fashion-MNIST without
// --train). Prints the error and returns NULL on failure.
fnn_dataset *cli_net_load(const cli_net_flags *f);

// Validates the flags, loads the data (first --limit rows), chooses the loss
// as train does and fills *net for it. Fills *norm with the statistics of
// the loaded rows, or NULL with --no-normalize. Prints the error and returns
// an exit status, or -1 on success; the caller frees *ds and *norm.
int cli_net_setup(const cli_net_flags *f, fnn_dataset **ds,
                  fnn_net_options *net, fnn_norm **norm);

#endif
