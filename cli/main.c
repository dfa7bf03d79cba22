// fastnn command-line tool: dispatches to the subcommands.
#include "cli.h"
#include "commands.h"

#include <string.h>

static const cli_command COMMANDS[] = {
    {"train", "train a network and save it", cmd_train},
    {"eval", "report the loss and accuracy of a saved model", cmd_eval},
    {"predict", "write the model's outputs for each sample (CSV or .npy)",
     cmd_predict},
    {"stats", "print per-feature statistics of a data set", cmd_stats},
    {"diagnose", "report per-layer activation and gradient spread",
     cmd_diagnose},
    {"study", "measure how normalization and initialization change training",
     cmd_study},
    {"plot", "draw the loss and accuracy curves of a train --log file",
     cmd_plot},
    {"gradcheck", "check backprop against numerical gradients", cmd_gradcheck},
};

static void usage(FILE *out) {
    fprintf(out,
            "usage: fastnn COMMAND [OPTIONS]\n\n"
            "Trains fully-connected neural networks on the CPU, with input\n"
            "normalization and activation-aware initialization.\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        fprintf(out, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    }
    fprintf(out, "\n'fastnn COMMAND --help' lists a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 && argc > 2) {
        // "fastnn help train" is "fastnn train --help".
        char *help_argv[] = {argv[2], "--help", NULL};
        for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
            if (strcmp(argv[2], COMMANDS[i].name) == 0) {
                return COMMANDS[i].run(2, help_argv);
            }
        }
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("fastnn %s\n", FNN_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        if (strcmp(name, COMMANDS[i].name) == 0) {
            return COMMANDS[i].run(argc - 1, argv + 1);
        }
    }
    cli_error("unknown command \"%s\": see 'fastnn --help'", name);
    return CLI_EXIT_USAGE;
}
