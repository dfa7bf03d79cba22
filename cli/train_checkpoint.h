// Checkpoints, resume and signal handling for fastnn train.
#ifndef FNN_TRAIN_CHECKPOINT_H
#define FNN_TRAIN_CHECKPOINT_H

#include "fastnn.h"

// Periodic checkpoints and the callbacks that stop the trainer for them.
// The wrapped callbacks (progress output) run first.
typedef struct ckpt_run {
    const char *path;      // where checkpoints go; never NULL while running
    int64_t every_epochs;  // 0: not by epochs
    int64_t every_steps;   // 0: not by steps
    const char *config;    // the command line, stored in each checkpoint
    fnn_train_options inner; // on_batch, on_epoch and user to wrap
    int due;               // a periodic checkpoint stopped the trainer
} ckpt_run;

// Parses --checkpoint-every: "N" epochs or "Ns" steps, N >= 1. Returns 0 on
// success; prints the error and returns -1 otherwise.
int ckpt_parse_every(const char *text, int64_t *epochs, int64_t *steps);

// Installs SIGINT and SIGTERM handlers that only record the signal, so the
// trainer stops after the current step. A second signal kills the process,
// which atomic file writes make safe.
void ckpt_install_signals(void);
// Restores the default handlers.
void ckpt_restore_signals(void);
// Returns the signal received since ckpt_install_signals, or 0.
int ckpt_signal_received(void);

// Callbacks for fnn_train_options, with a ckpt_run as user.
int ckpt_on_batch(void *user, int epoch, int64_t batch, int64_t n_batches,
                  double loss);
int ckpt_on_epoch(void *user, const fnn_epoch_report *r);

// Runs the trainer to the end, writing a checkpoint first, then whenever one
// is due and when a signal arrives. Returns -1 when training finished, or
// the exit status after printing: 130 (SIGINT) or 143 (SIGTERM) after
// writing a checkpoint and the resume command; 1 on divergence, keeping the
// last checkpoint; 2 for any other failure.
int ckpt_train(fnn_trainer *t, ckpt_run *c);

// Returns the command-line arguments argv[1..argc) as a JSON list, leaving
// out --resume and its value. NULL when out of memory.
char *ckpt_args_json(int argc, char **argv);

// Builds the argument vector of a resumed run: argv[0], the arguments
// stored in the checkpoint's config, then the current arguments without
// --resume. Only options that do not change the result may be given again.
// Returns the count, or -1 after printing the error; free *out with
// ckpt_free_args.
int ckpt_resume_args(const char *path, int argc, char **argv, char ***out);
void ckpt_free_args(char **args, int n);

// Returns the value of --resume in argv, or NULL.
const char *ckpt_find_resume(int argc, char **argv);

// Returns nonzero when the file system of `path` has `bytes` free (or
// cannot tell); otherwise prints an error naming `what` and returns 0.
int ckpt_check_space(const char *path, int64_t bytes, const char *what);

#endif
