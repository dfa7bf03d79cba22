// Shared pieces of the fastnn command-line tool: option tables, messages and
// the network flags common to several commands.
#ifndef FNN_CLI_H
#define FNN_CLI_H

#include "fastnn.h"

#include <stdio.h>

// Exit statuses of every command.
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILED 1 // training diverged, a check failed
#define CLI_EXIT_USAGE 2  // bad usage or bad input

typedef enum cli_opt_kind {
    CLI_FLAG,   // int set to 1 when present
    CLI_INT,    // int
    CLI_INT64,  // int64_t
    CLI_DOUBLE, // double
    CLI_STRING, // const char *
} cli_opt_kind;

typedef struct cli_opt {
    const char *name; // without the leading "--"
    cli_opt_kind kind;
    void *dest;           // holds the default before parsing
    const char *metavar;  // "N", "FILE", ...
    const char *help;     // what the option sets, with its unit
} cli_opt;

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

// Parses argv[1..argc) (argv[0] is the command name) against opts, which
// ends with a zeroed entry. Returns -1 to continue, or an exit status: 0
// after printing --help, CLI_EXIT_USAGE after printing an error.
int cli_parse(int argc, char **argv, const cli_opt *opts, const char *usage,
              const char *description);

// Prints "fastnn: error: <message>" to stderr.
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Prints "fastnn: warning: <message>" to stderr.
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Maps a library status to the command's exit status.
int cli_exit_for(fnn_status s);

// Prints "usage: " and `usage` as --help does: wrapped at 80 columns, each
// bracketed option kept whole where it fits, continuation lines under the
// first bracket.
void cli_print_usage(const char *usage);

// Parses "--layers": "256,128" (hidden sizes) or "256x50" (50 hidden layers
// of 256). An empty string means no hidden layer. Fills sizes[1..] and
// *n_hidden; returns 0 on success.
int cli_parse_layers(const char *text, int *sizes, int max, int *n_hidden);

// Prints an error naming the value and returns CLI_EXIT_USAGE when a name
// is not one of the choices; otherwise returns -1.
int cli_bad_choice(const char *option, const char *value,
                   const char *choices);

// Returns nonzero when `path` can be created or replaced: its directory
// exists and is writable, and `path` is not a directory. Prints the error.
int cli_check_writable(const char *path);



// Fills CSV reader options from --header, --label-column (an index, a header
// name, "none" for no labels, or NULL for the last column) and --skip-rows.
fnn_csv_options cli_csv_options(int header, const char *label_column,
                                int skip_rows);

// A file role for cli_check_distinct: the option that names it and its path
// (NULL when the option was not given).
typedef struct cli_path {
    const char *option;
    const char *path;
} cli_path;

// Prints an error and returns 0 when two of `outputs` name the same file, or
// an output names the same file as one of `inputs`, so that no run
// overwrites its own data, model or log. Returns 1 otherwise.
int cli_check_distinct(const cli_path *outputs, int n_outputs,
                       const cli_path *inputs, int n_inputs);
#endif
