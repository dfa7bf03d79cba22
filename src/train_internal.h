// The training run behind fnn_train and the checkpoint files, shared by
// train.c and checkpoint.c. Not installed.
#ifndef FNN_TRAIN_INTERNAL_H
#define FNN_TRAIN_INTERNAL_H

#include "net_internal.h"

// The optimizer's state vectors in the parameters' dtype: velocity
// (momentum) or first moment (Adam) in state1, second moment (Adam) in
// state2; NULL when the kind has none. *steps is the update counter.
typedef struct fnn_optim_state {
    void *state1;
    void *state2;
    int64_t n;
    int64_t *steps;
} fnn_optim_state;
fnn_optim_state fnn_optim_get_state(fnn_optim *opt);

struct fnn_trainer {
    fnn_net *net;
    int owns_net; // a trainer read from a checkpoint frees its network
    const fnn_dataset *train;
    const fnn_dataset *test;
    fnn_train_options opts;
    fnn_optim *optim;
    int64_t *perm;   // [train->n_rows] order of the rows in this epoch
    void *x;         // [batch_size, n_in] in the network's dtype
    void *y;         // [batch_size]
    int64_t n_batches;
    // Position: the next step is batch `batch` of epoch `epoch` (0-based).
    // batch 0 means the epoch has not started, so its shuffle is still to
    // come; batch n_batches means its steps are done but not its report.
    int epoch;
    int64_t batch;
    double loss_total;   // summed per-sample loss of the epoch so far
    double epoch_seconds; // wall time of the epoch's steps so far
    int have_crc32;      // data_crc32 is computed (on the first save)
    uint32_t data_crc32; // fnn_dataset_crc32 of the training set
};

// Computes the CRC-32 (zlib) of the features and labels of ds, which a
// checkpoint stores so that a resume on other data is rejected.
uint32_t fnn_dataset_crc32(const fnn_dataset *ds);

// Allocates the trainer's buffers for net and data and sets the identity
// permutation at epoch 0, batch 0. Does not validate the options.
fnn_status fnn_trainer_setup(fnn_trainer *t, fnn_error *err);

#endif
