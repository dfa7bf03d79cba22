// The network structure, shared by the network, layer, training and model
// file sources. Not installed.
#ifndef FNN_NET_INTERNAL_H
#define FNN_NET_INTERNAL_H

#include "internal.h"

// Worker threads and per-thread replicas of one network (parallel.c).
typedef struct fnn_pool fnn_pool;

struct fnn_net {
    fnn_net_options opt;
    fnn_init layer_init[FNN_MAX_LAYERS]; // resolved initialization per layer
    size_t elem;                         // bytes per element of opt.dtype
    int64_t n_params;
    int64_t w_off[FNN_MAX_LAYERS];
    int64_t b_off[FNN_MAX_LAYERS];
    void *params; // [n_params]
    void *grads;  // [n_params]
    double *norm_mean; // [n_in] or NULL when inputs are not normalized
    double *norm_std;  // [n_in], zero-variance features stored as 1
    char *training_json; // training configuration kept with the model
    fnn_rng rng_dropout;
    fnn_rng rng_shuffle;

    // Work buffers sized for ws_batch rows, grown only when a larger batch
    // arrives, so training steps never allocate.
    int ws_batch;
    int max_width;
    void *x_norm;                // [ws_batch, n_in]
    void *z[FNN_MAX_LAYERS];     // pre-activations [ws_batch, sizes[l+1]]
    void *act[FNN_MAX_LAYERS];   // g(z) before dropout
    void *drop[FNN_MAX_LAYERS];  // act * mask, the next layer's input
    void *mask[FNN_MAX_LAYERS];  // 0 or 1/keep_prob
    void *dz;                    // [ws_batch, max_width]
    void *da;                    // [ws_batch, max_width]
    // W^T of the widest layer for fnn_sgemm, 64-byte aligned; float32 only.
    // Each thread's replica has its own.
    float *gemm_pack;
    // W^T of each layer already packed for fnn_sgemm_packed, shared by the
    // replicas of a multi-threaded pass; NULL elsewhere.
    const float *packed_wt[FNN_MAX_LAYERS];
    int dropout_used;            // the last forward pass applied dropout
    int mask_valid;              // masks hold a sampled pattern
    const void *input;           // input of layer 0 in the last pass
    // Rows that divide the loss and the L2 gradient; 0: the batch_size of
    // the pass. A thread's replica sets the whole batch's row count.
    int cost_rows;
    int n_threads;  // threads of a training pass; 0 or 1: the caller's only
    fnn_pool *pool; // the other n_threads - 1 threads, or NULL
#ifdef FNN_TESTING
    int planted_bug; // see fnn_testing_plant_bug
    int planted_layer; // the layer fnn_testing_plant_bug targets
#endif
};

// Allocates a network with zero parameters (no initialization).
fnn_net *fnn_net_alloc(const fnn_net_options *o, fnn_status *status);

// Grows the work buffers to hold batch_size rows.
fnn_status fnn_net_reserve(fnn_net *net, int batch_size);

// Allocates a buffer for fnn_sgemm's transposed B that fits every layer of
// a float32 network; NULL for float64 or when memory is short. Free it with
// free().
float *fnn_net_alloc_pack(const fnn_net *net);

// Fills w [n_out, n_in] (row-major) with draws for `init`.
void fnn_init_fill(double *w, int n_out, int n_in, fnn_init init,
                   fnn_rng *rng);

// Forward pass on x [batch_size, n_in] in the network's dtype. When
// `normalized` is zero and the network has statistics, x is normalized into
// a work buffer first.
fnn_status fnn_net_forward(fnn_net *net, const void *x, int batch_size,
                           fnn_dropout_mode dropout, int normalized);

// Recomputes column `column` of layer `layer`'s activation (and, when the
// last pass used dropout, of its masked copy with the same mask) from the
// pre-activations in the work buffers, for batch_size rows.
void fnn_net_activate_column(fnn_net *net, int layer, int column,
                             int batch_size);

// Reruns the forward pass after layer `layer` (0-based) from the work
// buffers as they are, with the dropout masks of the last pass: the
// gradient check patches one layer and propagates from there.
void fnn_net_forward_from(fnn_net *net, int layer, int batch_size);

// Loss of the last forward pass against y (see fnn_net_cost for the layout).
// Adds the summed per-sample loss to *loss_sum (without L2) and the number
// of correct predictions to *correct (classification only; may be NULL).
// When write_dz is nonzero, stores dJ/dz of the output layer, divided by
// batch_size, in the dz buffer.
fnn_status fnn_net_loss(fnn_net *net, const void *y, int batch_size,
                        double *loss_sum, int64_t *correct, int write_dz);

// Sets *loss to the loss of row `row` of the output buffer against y_row,
// that row's labels, by the code of fnn_net_loss on that row alone.
fnn_status fnn_net_row_loss(fnn_net *net, int row, const void *y_row,
                            double *loss);

// Backward pass from the output dz left by fnn_net_loss; fills grads,
// including (lambda/m) W for L2.
void fnn_net_backward(fnn_net *net, int batch_size);

// Returns (lambda / 2m) sum_l ||W[l]||_F^2 for batch size m.
double fnn_net_l2_term(const fnn_net *net, int batch_size);

// Returns the first layer (0-based) whose pre-activations or activations of
// the last pass hold a non-finite value, or -1.
int fnn_net_first_nonfinite_layer(const fnn_net *net, int batch_size);

// Writes the output probabilities or values of the last forward pass to out
// [batch_size, n_out].
fnn_status fnn_net_output(fnn_net *net, int batch_size, void *out);

// Normalizes one raw row (double) with the network's statistics into out.
void fnn_net_normalize_row(const fnn_net *net, const double *row,
                           double *out);

// Writes rows [first, first + count) of a training pass's inputs and
// targets into the x and y buffers given to fnn_net_train_pass.
typedef void (*fnn_fill_rows)(void *arg, int first, int count);

// Runs one training pass on x [batch_size, n_in] (already normalized) and
// y: forward with new dropout masks, the loss (its sum is added to
// *loss_sum) and, when the loss is finite, the backward pass into grads. On
// more than one thread (fnn_net_set_threads) the rows are split into
// contiguous blocks and the gradients summed in thread order, so the result
// depends on the thread count but not on timing. When `fill` is not NULL,
// x and y are buffers that fill(fill_arg, ...) writes first, each block's
// rows on the thread that runs the block. The threads check the summed
// gradient as they write it: *grads_finite (when not NULL) is set to 1 when
// every value is finite, 0 when one is not and -1 when the pass did not
// check. Returns as fnn_net_forward and fnn_net_loss.
fnn_status fnn_net_train_pass(fnn_net *net, const void *x, const void *y,
                              int batch_size, fnn_fill_rows fill,
                              void *fill_arg, double *loss_sum,
                              int *grads_finite);

// One block of a job split over a network's threads.
typedef void (*fnn_pool_task)(void *arg, int block);

// Runs task(arg, b) for every b in [0, n_blocks), n_blocks <= 65535, on the
// network's threads, or in order on the caller when it has one thread, and
// returns when all have finished. Blocks may run in any order and on any
// thread, so each must write only its own part of the results.
void fnn_net_parallel_for(fnn_net *net, fnn_pool_task task, void *arg,
                          int n_blocks);

// Stops and joins the pool's threads and frees it; accepts NULL.
void fnn_pool_free(fnn_pool *pool);

#endif
