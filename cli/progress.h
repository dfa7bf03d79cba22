// Training progress output: a bar on a terminal, one line per epoch
// otherwise, and JSON lines on stdout with --json.
#ifndef FNN_PROGRESS_H
#define FNN_PROGRESS_H

#include "fastnn.h"

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
} progress;

void progress_init(progress *p, int json, int64_t rows, int batch_size);
// Callbacks for fnn_train_options.on_batch and on_epoch.
int progress_on_batch(void *user, int epoch, int64_t batch, int64_t n_batches,
                      double loss);
int progress_on_epoch(void *user, const fnn_epoch_report *r);
// Writes the final {"summary": true, ...} object for --json.
void progress_summary(const progress *p);

// Prints one JSON object as a line on stdout; takes ownership of obj.
struct cJSON;
void progress_print_json(struct cJSON *obj);

#endif
