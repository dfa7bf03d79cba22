// Training progress output: a bar on a terminal, one line per epoch
// otherwise, and JSON lines on stdout with --json.
#ifndef FNN_PROGRESS_H
#define FNN_PROGRESS_H

#include "fastnn.h"

#include <stdio.h>

typedef struct progress {
    int json;          // write JSON lines to stdout
    int tty;           // stderr is a terminal: draw a bar
    int64_t rows;      // training rows per epoch
    int batch_size;
    double epoch_start;
    double last_draw;
    double total_seconds;
    fnn_epoch_report last;
    int have_last;
    // --log: one JSON object per epoch (see progress_open_log).
    FILE *log;
    const char *log_path;
    fnn_net *log_net;
    const fnn_dataset *log_train;
    int log_failed; // a write failed and was reported
} progress;

void progress_init(progress *p, int json, int64_t rows, int batch_size);
// Callbacks for fnn_train_options.on_batch and on_epoch.
int progress_on_batch(void *user, int epoch, int64_t batch, int64_t n_batches,
                      double loss);
int progress_on_epoch(void *user, const fnn_epoch_report *r);
// Writes the final {"summary": true, ...} object for --json.
void progress_summary(const progress *p);

// Sets `path` for the per-epoch records of --log, created or replaced at
// the first record: one JSON object per line with the fields of the --json
// epoch lines, the loss function, and train_accuracy, measured after the
// epoch without dropout on the first PROGRESS_LOG_TRAIN_ROWS training rows.
// Returns 0; a failure to create the file is reported at the first record.
#define PROGRESS_LOG_TRAIN_ROWS 10000
int progress_open_log(progress *p, const char *path, fnn_net *net,
                      const fnn_dataset *train);
// Closes the log; prints the error and returns nonzero when a write failed.
int progress_close_log(progress *p);

// Prints one JSON object as a line on stdout; takes ownership of obj.
struct cJSON;
void progress_print_json(struct cJSON *obj);

#endif
