// fastnn: train deep fully-connected neural networks on the CPU.
//
// Conventions used by every function below:
// - Arrays are row-major. A batch of inputs is [batch_size, n_in]; a weight
//   matrix is [n_out, n_in], the layout of PyTorch's nn.Linear.
// - Functions return fnn_status: FNN_OK (0) on success, a negative value on
//   failure. Constructors return NULL on failure and store the status in
//   their optional `status` argument.
// - Functions that read files or validate input take an optional
//   fnn_error *; on failure it receives a message that names the file, the
//   position and the offending value. The library never prints or exits.
// - Every fnn_*_create / _load / _read has a matching _free that accepts NULL.
#ifndef FASTNN_H
#define FASTNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FNN_VERSION_STRING "0.1.0"
// Maximum number of layers (weight matrices) in a network.
#define FNN_MAX_LAYERS 256
// Size of the message buffer in fnn_error.
#define FNN_ERROR_MESSAGE_SIZE 512

typedef enum fnn_status {
    FNN_OK = 0,
    FNN_ERR_NOMEM = -1,       // an allocation failed
    FNN_ERR_INVALID = -2,     // an argument or option is invalid
    FNN_ERR_IO = -3,          // a file could not be opened, read or written
    FNN_ERR_FORMAT = -4,      // a file's contents are malformed
    FNN_ERR_NONFINITE = -5,   // a loss, gradient or input is NaN or infinite
    FNN_ERR_UNSUPPORTED = -6, // valid but not supported by this build
    FNN_ERR_INTERRUPTED = -7, // stopped by the caller's callback
} fnn_status;

// Returns a static, human-readable name for a status ("out of memory", ...).
const char *fnn_status_str(fnn_status status);

// Detailed error message filled by readers and validators.
typedef struct fnn_error {
    char message[FNN_ERROR_MESSAGE_SIZE];
} fnn_error;

// ---------------------------------------------------------------------------
// Random numbers

// xoshiro256** (Blackman and Vigna 2018), seeded through splitmix64. Normal
// draws use the Box-Muller transform in double precision, so a seed gives the
// same sequence on every IEEE-754 machine with a correctly rounding libm.
typedef struct fnn_rng {
    uint64_t s[4];
} fnn_rng;

// Seeds `rng` from a 64-bit seed.
void fnn_rng_seed(fnn_rng *rng, uint64_t seed);
// Returns the next 64 random bits.
uint64_t fnn_rng_next(fnn_rng *rng);
// Returns a uniform draw in [0, 1) with 53 random bits.
double fnn_rng_uniform(fnn_rng *rng);
// Returns a standard normal draw (Box-Muller).
double fnn_rng_normal(fnn_rng *rng);
// Returns a uniform integer in [0, n) without modulo bias, or 0 without
// drawing when n is 0.
uint64_t fnn_rng_below(fnn_rng *rng, uint64_t n);

// ---------------------------------------------------------------------------
// Enumerations and their names

typedef enum fnn_activation {
    FNN_RELU,
    FNN_LEAKY_RELU, // slope 0.01 below zero
    FNN_TANH,
    FNN_SIGMOID,
    FNN_IDENTITY,
} fnn_activation;

typedef enum fnn_loss {
    FNN_LOSS_AUTO = -1,   // only in options: chosen from the labels
    FNN_LOSS_SOFTMAX_CE,  // softmax with cross-entropy, labels are classes
    FNN_LOSS_SIGMOID_BCE, // sigmoid with binary cross-entropy, labels 0/1
    FNN_LOSS_MSE,         // identity output, 0.5 * squared error per output
} fnn_loss;

typedef enum fnn_init {
    FNN_INIT_AUTO,           // chosen from the activation (see fnn_init_for)
    FNN_INIT_HE,             // N(0, 2/n_in), He et al. 2015
    FNN_INIT_HE_UNIFORM,     // U(-sqrt(6/n_in), sqrt(6/n_in))
    FNN_INIT_XAVIER,         // N(0, 2/(n_in+n_out)), Glorot and Bengio 2010
    FNN_INIT_XAVIER_UNIFORM, // U(-sqrt(6/(n_in+n_out)), +sqrt(...))
    FNN_INIT_LECUN,          // N(0, 1/n_in), LeCun et al. 1998
    FNN_INIT_SMALL,          // N(0, 1) * 0.01, the naive baseline
    FNN_INIT_NORMAL,         // N(0, 1), unscaled
    FNN_INIT_ZEROS,          // all zero, shows the symmetry problem
} fnn_init;

typedef enum fnn_dtype {
    FNN_F32,
    FNN_F64,
} fnn_dtype;

typedef enum fnn_optimizer {
    FNN_SGD,
    FNN_MOMENTUM,
    FNN_ADAM,
} fnn_optimizer;

typedef enum fnn_schedule {
    FNN_SCHEDULE_CONSTANT,
    FNN_SCHEDULE_STEP,   // multiply by step_gamma every step_epochs epochs
    FNN_SCHEDULE_COSINE, // cosine decay from learning_rate to 0 over the run
} fnn_schedule;

// Each *_name returns a static lower-case name ("relu", "he-uniform", ...),
// never to be freed, or "unknown" for a value outside the enumeration. Each
// *_parse sets *out from such a name and returns FNN_OK, or FNN_ERR_INVALID
// (leaving *out unchanged) for NULL or an unknown name.
const char *fnn_activation_name(fnn_activation a);
fnn_status fnn_activation_parse(const char *name, fnn_activation *out);
const char *fnn_loss_name(fnn_loss l);
fnn_status fnn_loss_parse(const char *name, fnn_loss *out);
const char *fnn_init_name(fnn_init i);
fnn_status fnn_init_parse(const char *name, fnn_init *out);
const char *fnn_optimizer_name(fnn_optimizer o);
fnn_status fnn_optimizer_parse(const char *name, fnn_optimizer *out);
const char *fnn_schedule_name(fnn_schedule s);
fnn_status fnn_schedule_parse(const char *name, fnn_schedule *out);
const char *fnn_dtype_name(fnn_dtype d);

// Returns the initialization that FNN_INIT_AUTO picks for an activation:
// relu and leaky_relu -> he, tanh -> lecun, sigmoid and identity -> xavier.
fnn_init fnn_init_for(fnn_activation a);

// Returns the standard deviation of the weights drawn by `init` for a layer
// with the given fan-in and fan-out (for the uniform kinds, limit/sqrt(3)).
double fnn_init_std(fnn_init init, int fan_in, int fan_out);

// ---------------------------------------------------------------------------
// Data sets

// A labelled data set held in memory. Features are either uint8 (pixels, kept
// small and converted per mini-batch) or float32.
typedef struct fnn_dataset {
    int64_t n_rows;
    int n_features;
    const uint8_t *u8;  // [n_rows, n_features] or NULL
    const float *f32;   // [n_rows, n_features] or NULL
    float *labels;      // [n_rows]: class index, 0/1 or a real value;
                        // NULL for data read without labels
    int n_classes;      // 1 + the largest label when all are integers >= 0
    int labels_integer; // 1 when every label is a non-negative integer
    char **names;       // [n_features] column names or NULL
    char *source;       // path the data came from (for messages)
    void *storage_;     // owned memory; do not touch
} fnn_dataset;

// Frees a data set returned by a reader (fnn_idx_read, fnn_csv_read,
// fnn_npy_read) and everything it owns: features, labels, names and source.
// Accepts NULL. Never pass it a caller-built fnn_dataset that borrows the
// caller's arrays.
void fnn_dataset_free(fnn_dataset *ds);

// Reads an MNIST-family IDX images file [count, rows, columns] and its labels
// file [count] (plain or .gz) into a data set of uint8 features
// [count, rows * columns] in ds->u8. Checks the magic number, element type,
// dimension count, every size against the file length, and that the counts
// match. The caller owns the result and frees it with fnn_dataset_free.
// Returns NULL on failure with status FNN_ERR_IO, FNN_ERR_FORMAT,
// FNN_ERR_UNSUPPORTED (another element type), FNN_ERR_INVALID (a NULL path)
// or FNN_ERR_NOMEM, and err naming the file and the byte.
fnn_dataset *fnn_idx_read(const char *images_path, const char *labels_path,
                          fnn_error *err, fnn_status *status);

// Options for fnn_csv_read.
// label_column value for a file without labels (features only).
#define FNN_CSV_NO_LABEL (-2)

typedef struct fnn_csv_options {
    int header;             // -1: detect, 0: no header row, 1: header row
    int label_column;       // 0-based index; -1: last; FNN_CSV_NO_LABEL
    const char *label_name; // header name of the label column, or NULL
    int skip_rows;          // lines skipped before the header or data
} fnn_csv_options;
// Returns the default CSV options: detect the header, label in the last
// column.
fnn_csv_options fnn_csv_options_default(void);

// Reads a numeric comma-separated file (plain or gzip-compressed) with LF or
// CRLF line ends into a data set of float32 features [rows, columns - 1] and
// one label per row (labels NULL with FNN_CSV_NO_LABEL); opts may
// be NULL for the defaults. The caller owns the result and frees it with
// fnn_dataset_free. Fields are decimal numbers as strtod reads them in the
// C locale; hexadecimal floats ("0x1p3") are rejected. A nonzero value below
// FLT_MIN (1.2e-38) in magnitude becomes a float32 subnormal or 0 without
// an error. Returns NULL on failure with status FNN_ERR_IO, FNN_ERR_FORMAT
// (a non-numeric or non-finite field, a ragged row, no data, CR-only line
// ends), FNN_ERR_INVALID (a bad option or label column) or FNN_ERR_NOMEM,
// and err naming the line, the column and the value, with bytes outside
// printable ASCII written as \xNN.
fnn_dataset *fnn_csv_read(const char *path, const fnn_csv_options *opts,
                          fnn_error *err, fnn_status *status);

// Copies rows [start, start+count) into `out` [count, n_features] as floats,
// uint8 features as 0..255 without scaling. A range outside [0, n_rows) is a
// programming error and aborts, because this function cannot report it.
void fnn_dataset_get_rows(const fnn_dataset *ds, int64_t start, int64_t count,
                          float *out);

// ---------------------------------------------------------------------------
// Normalization

// Per-feature statistics of a training set, computed in one streaming pass
// with float64 Welford updates. std is the population standard deviation.
typedef struct fnn_norm {
    int n_features;
    double *mean;         // [n_features]
    double *std;          // [n_features], as measured (may be 0)
    double *min;          // [n_features]
    double *max;          // [n_features]
    int64_t count;        // rows seen
    int n_zero_variance;  // features whose std is 0
} fnn_norm;

// Computes the statistics of every feature of `ds` over all its rows. The
// caller owns the result and frees it with fnn_norm_free. Returns NULL with
// status FNN_ERR_INVALID (NULL or an empty data set) or FNN_ERR_NOMEM.
fnn_norm *fnn_norm_fit(const fnn_dataset *ds, fnn_status *status);
// Frees statistics; accepts NULL.
void fnn_norm_free(fnn_norm *norm);

// Streaming interface: fnn_norm_create allocates empty statistics for
// n_features > 0 (NULL with FNN_ERR_INVALID or FNN_ERR_NOMEM; free with
// fnn_norm_free), fnn_norm_update adds one row [n_features] of raw values,
// and fnn_norm_finish turns the running sums into std and counts the
// zero-variance features. Read mean and std only after fnn_norm_finish.
fnn_norm *fnn_norm_create(int n_features, fnn_status *status);
void fnn_norm_update(fnn_norm *norm, const double *row);
void fnn_norm_finish(fnn_norm *norm);

// ---------------------------------------------------------------------------
// Networks

typedef struct fnn_net fnn_net;

typedef struct fnn_net_options {
    int n_layers;              // number of weight matrices (hidden + output)
    int sizes[FNN_MAX_LAYERS + 1]; // sizes[0] = n_in, sizes[n_layers] = n_out
    fnn_activation activation; // for every hidden layer
    fnn_init init;             // FNN_INIT_AUTO by default
    fnn_loss loss;             // output head; never FNN_LOSS_AUTO here
    fnn_dtype dtype;           // FNN_F32 to train, FNN_F64 for checking
    double l2;                 // lambda in (lambda / 2m) sum ||W||_F^2
    double keep_prob;          // inverted dropout on hidden layers, 1 = off
    uint64_t seed;             // initializes weights, dropout and shuffling
} fnn_net_options;

// Returns options for a 784-256-128-10 ReLU network with softmax output.
fnn_net_options fnn_net_options_default(void);

// Creates a network and initializes its weights from options->seed. Biases
// start at 0. The caller owns the network and frees it with fnn_net_free.
// Returns NULL with status FNN_ERR_INVALID (a layer count outside
// 1..FNN_MAX_LAYERS, a size outside 1..2^24, an unknown enumeration value
// or FNN_LOSS_AUTO, softmax with fewer than 2 outputs, l2 < 0, keep_prob
// outside (0, 1]) or FNN_ERR_NOMEM.
fnn_net *fnn_net_create(const fnn_net_options *options, fnn_status *status);
// Frees a network; accepts NULL.
void fnn_net_free(fnn_net *net);
// Returns a deep copy of `net` converted to `dtype` (parameters,
// normalization and options), owned by the caller. Returns NULL with status
// FNN_ERR_INVALID (NULL net, unknown dtype) or FNN_ERR_NOMEM.
fnn_net *fnn_net_clone(const fnn_net *net, fnn_dtype dtype,
                       fnn_status *status);

// Returns the options the network was built with (init is the resolved
// one). The pointer belongs to the network and lives as long as it does.
const fnn_net_options *fnn_net_get_options(const fnn_net *net);
// Returns the initialization used for layer l (0-based).
fnn_init fnn_net_layer_init(const fnn_net *net, int l);

// Parameters and gradients are one contiguous vector each, ordered
// W[0], b[0], W[1], b[1], ..., in the dtype of the network (float or
// double), each W[l] row-major [sizes[l+1], sizes[l]]. fnn_net_param_count
// returns the number of elements; fnn_net_params and fnn_net_grads return
// the vectors, which belong to the network: writes through them change it.
// The gradient vector contains the result of the last fnn_net_cost with backward.
int64_t fnn_net_param_count(const fnn_net *net);
void *fnn_net_params(fnn_net *net);
void *fnn_net_grads(fnn_net *net);
// Offsets (in elements) of layer l's weight and bias in the flat vector,
// for 0 <= l < n_layers.
int64_t fnn_net_weight_offset(const fnn_net *net, int l);
int64_t fnn_net_bias_offset(const fnn_net *net, int l);

// Installs normalization: x_norm = (x - mean) / std per feature, computed in
// double. mean and std are [n_in] and copied; a std of 0 is stored as 1, so
// that feature is only centered. Passing NULL for mean or std removes
// normalization. Returns FNN_OK, FNN_ERR_INVALID (NULL net, or a
// non-finite or negative value) or FNN_ERR_NOMEM.
fnn_status fnn_net_set_normalization(fnn_net *net, const double *mean,
                                     const double *std);
// Returns the installed mean and std [n_in], owned by the network (NULL when
// inputs are not normalized).
const double *fnn_net_norm_mean(const fnn_net *net);
const double *fnn_net_norm_std(const fnn_net *net);

// Sets keep_prob for later training steps (1 disables dropout). Returns
// FNN_OK, or FNN_ERR_INVALID for NULL or a value outside (0, 1].
fnn_status fnn_net_set_keep_prob(fnn_net *net, double keep_prob);
// Sets the L2 strength lambda. Returns FNN_OK, or FNN_ERR_INVALID for NULL
// or a negative or non-finite value.
fnn_status fnn_net_set_l2(fnn_net *net, double l2);

// Dropout masks. FNN_DROPOUT_SAMPLE draws a new mask on each training pass;
// FNN_DROPOUT_FREEZE reuses the mask of the last pass (for gradient checks);
// FNN_DROPOUT_OFF evaluates without dropout.
typedef enum fnn_dropout_mode {
    FNN_DROPOUT_SAMPLE,
    FNN_DROPOUT_FREEZE,
    FNN_DROPOUT_OFF,
} fnn_dropout_mode;

// Computes the cost J = (1/m) sum loss + (lambda/2m) sum ||W||^2 of a batch
// and, when `backward` is nonzero, its gradient into the gradient vector.
// x is [batch_size, n_in] raw features in the network's dtype (normalized
// here when the network has normalization); y is [batch_size] labels (class
// index for softmax, 0/1 for sigmoid with one output, target for MSE with one
// output) or, for multi-output MSE and BCE, [batch_size, n_out] targets.
// `cost` receives J in double. Returns FNN_OK, FNN_ERR_INVALID (a NULL
// pointer, batch_size < 1 or an unknown dropout mode), FNN_ERR_NOMEM (work
// buffers for a larger batch) or FNN_ERR_NONFINITE when an input value or J
// is not finite (cost is NaN for a bad input), in which case the gradient
// is not computed.
fnn_status fnn_net_cost(fnn_net *net, const void *x, const void *y,
                        int batch_size, fnn_dropout_mode dropout,
                        int backward, double *cost);

// Runs the forward pass without dropout. x as in fnn_net_cost; out receives
// [batch_size, n_out] probabilities (softmax, sigmoid) or outputs (MSE) in
// the network's dtype. Returns FNN_OK, FNN_ERR_INVALID (a NULL pointer or
// batch_size < 1), FNN_ERR_NONFINITE (an input value is NaN or infinite;
// out is not written) or FNN_ERR_NOMEM.
fnn_status fnn_net_predict(fnn_net *net, const void *x, int batch_size,
                           void *out);

// Per-layer pre-activations and activations of the last forward pass:
// [batch_size, sizes[l+1]] in the network's dtype, owned by the network and
// valid until its next pass.
const void *fnn_net_preactivation(const fnn_net *net, int l);
const void *fnn_net_activation(const fnn_net *net, int l);

// ---------------------------------------------------------------------------
// Optimizers

typedef struct fnn_optim_options {
    fnn_optimizer kind;
    double learning_rate;
    double momentum;     // for FNN_MOMENTUM, default 0.9
    double beta1, beta2; // for FNN_ADAM, defaults 0.9 and 0.999
    double adam_epsilon; // default 1e-8
} fnn_optim_options;
// Returns Adam with learning rate 1e-3 and the defaults above.
fnn_optim_options fnn_optim_options_default(void);

typedef struct fnn_optim fnn_optim;

// Creates optimizer state (velocity or Adam moments, zero) for the parameter
// vector of `net`, in its dtype. The caller owns it and frees it with
// fnn_optim_free, which accepts NULL. Returns NULL with status
// FNN_ERR_INVALID (a NULL argument, an unknown kind, a negative or
// non-finite rate, a momentum or beta outside [0, 1), a negative or
// non-finite adam_epsilon) or FNN_ERR_NOMEM.
fnn_optim *fnn_optim_create(const fnn_net *net, const fnn_optim_options *o,
                            fnn_status *status);
void fnn_optim_free(fnn_optim *opt);
// Applies one update with the gradient vector of `net` and the given rate.
// Adam keeps one step counter for the whole update (bias correction).
// Returns FNN_OK, or FNN_ERR_INVALID when `net` is not the network (size and
// dtype) the state was created for or the rate is negative or not finite.
fnn_status fnn_optim_step(fnn_optim *opt, fnn_net *net, double learning_rate);
// Returns the number of updates applied so far.
int64_t fnn_optim_steps(const fnn_optim *opt);

// Returns the learning rate of a schedule at `epoch` (0-based, may be a
// fraction) out of `epochs`.
double fnn_schedule_rate(fnn_schedule s, double base_rate, double epoch,
                         int epochs, int step_epochs, double step_gamma);

// ---------------------------------------------------------------------------
// Training

typedef struct fnn_epoch_report {
    int epoch;            // 1-based
    int epochs;
    double train_loss;    // mean cost over the epoch's mini-batches
    double test_loss;     // NaN when there is no test set
    double test_accuracy; // NaN when there is no test set or for MSE
    double seconds;
    double samples_per_second;
    double learning_rate;
} fnn_epoch_report;

typedef struct fnn_train_options {
    int epochs;
    int batch_size;
    fnn_optim_options optim;
    fnn_schedule schedule;
    int step_epochs;   // for FNN_SCHEDULE_STEP
    double step_gamma; // for FNN_SCHEDULE_STEP
    // Called after every mini-batch (may be NULL). A nonzero return stops
    // training with FNN_ERR_INTERRUPTED.
    int (*on_batch)(void *user, int epoch, int64_t batch, int64_t n_batches,
                    double loss);
    // Called after every epoch (may be NULL). A nonzero return stops.
    int (*on_epoch)(void *user, const fnn_epoch_report *report);
    void *user;
} fnn_train_options;
// Returns 10 epochs of batch size 128 with Adam (fnn_optim_options_default),
// the cosine schedule and no callbacks.
fnn_train_options fnn_train_options_default(void);

// Trains `net` on `train` (features normalized with the network's stored
// statistics, if any), shuffling with the network's generator every epoch,
// and evaluates on `test` after every epoch when it is not NULL. Both data
// sets are only read. Returns FNN_OK, FNN_ERR_INVALID (bad options such as
// an unknown schedule or a non-finite learning rate, a data set that
// fnn_check_dataset rejects),
// FNN_ERR_UNSUPPORTED, FNN_ERR_NOMEM, FNN_ERR_INTERRUPTED (a callback
// returned nonzero) or FNN_ERR_NONFINITE (a non-finite loss; err names the
// epoch and batch). The network keeps the last parameters either way.
fnn_status fnn_train(fnn_net *net, const fnn_dataset *train,
                     const fnn_dataset *test, const fnn_train_options *opts,
                     fnn_error *err);

// Evaluation result.
typedef struct fnn_eval_result {
    int64_t samples;
    double loss;     // mean loss without the L2 term
    double accuracy; // NaN for MSE
} fnn_eval_result;

// Evaluates `net` on a data set without dropout, in batches of a fixed
// size, so the same model and data always give the same numbers. Fills
// *result. Returns FNN_OK, FNN_ERR_INVALID or FNN_ERR_UNSUPPORTED (the data
// do not fit the network, as fnn_check_dataset), FNN_ERR_NOMEM or
// FNN_ERR_NONFINITE, with err filled.
fnn_status fnn_evaluate(fnn_net *net, const fnn_dataset *ds,
                        fnn_eval_result *result, fnn_error *err);

// Checks that a data set fits a network: at least one row, features present
// (f32 or u8), feature count, labels present and in range for the loss
// (class indices below n_out for softmax, 0/1 for sigmoid, finite for MSE).
// Returns FNN_OK, FNN_ERR_INVALID (a NULL argument, or err names the field,
// the first bad row or the counts) or FNN_ERR_UNSUPPORTED (one label column
// for several non-softmax outputs).
fnn_status fnn_check_dataset(const fnn_net *net, const fnn_dataset *ds,
                             fnn_error *err);

// ---------------------------------------------------------------------------
// Model files (safetensors)

// Writes the network atomically: a temporary file in the same directory,
// fsync, rename. `config_json` is an optional JSON text stored as metadata
// "training". Identical networks give byte-identical files, whose layout
// docs/model-format.md describes. An existing file at `path` is replaced
// whole or, on failure, left as it was. Returns FNN_OK, FNN_ERR_INVALID
// (NULL network, empty path, or a config_json that is not one complete JSON
// text), FNN_ERR_NOMEM or FNN_ERR_IO, with err naming the path.
fnn_status fnn_model_save(const fnn_net *net, const char *path,
                          const char *config_json, fnn_error *err);

// Reads a model file written by fnn_model_save, checking the format, the
// version, every metadata value and every tensor's dtype, shape and byte
// range. The caller owns the network and frees it with fnn_net_free.
// Returns NULL on failure with status FNN_ERR_IO, FNN_ERR_FORMAT,
// FNN_ERR_UNSUPPORTED (another format version or dtype), FNN_ERR_INVALID or
// FNN_ERR_NOMEM, and err naming the file and the offending entry.
fnn_net *fnn_model_load(const char *path, fnn_error *err, fnn_status *status);

// ---------------------------------------------------------------------------
// Gradient checking

// Which coordinates a gradient check perturbs.
typedef enum fnn_gradcheck_mode {
    FNN_GRADCHECK_AUTO,       // full up to max_full_params, else per-block
    FNN_GRADCHECK_FULL,       // every coordinate: 2n evaluations of J
    FNN_GRADCHECK_PER_BLOCK,  // per_block random coordinates of each block
    FNN_GRADCHECK_DIRECTIONS, // random unit directions: 2K evaluations
} fnn_gradcheck_mode;

typedef enum fnn_gradcheck_verdict {
    FNN_GRADCHECK_PASS,        // relative difference < pass_threshold
    FNN_GRADCHECK_WARN,        // < fail_threshold: look at the blocks
    FNN_GRADCHECK_FAIL,        // >= fail_threshold, or not finite
    FNN_GRADCHECK_NOT_CHECKED, // a block in directions mode
} fnn_gradcheck_verdict;

// Names: "auto", "full", "per-block", "directions"; "pass", "warn",
// "fail", "not-checked". Parse returns FNN_ERR_INVALID for an unknown name.
const char *fnn_gradcheck_mode_name(fnn_gradcheck_mode mode);
fnn_status fnn_gradcheck_mode_parse(const char *name,
                                    fnn_gradcheck_mode *out);
const char *fnn_gradcheck_verdict_name(fnn_gradcheck_verdict verdict);

#define FNN_GRADCHECK_MAX_WORST 32
#define FNN_GRADCHECK_NAME_SIZE 64

typedef struct fnn_gradcheck_options {
    // Step of the central difference per parameter, 1e-7. Directions mode
    // steps epsilon sqrt(n) along each unit direction of the n parameters.
    double epsilon;
    double pass_threshold;   // 1e-7
    double fail_threshold;   // 1e-3
    fnn_gradcheck_mode mode; // FNN_GRADCHECK_AUTO
    int64_t max_full_params; // AUTO checks every coordinate up to this, 2e5
    int per_block;           // coordinates per block in per-block mode, 64
    int directions;          // directions in directions mode, 32
    int worst;               // worst coordinates kept, 1..32, default 5
    int with_dropout;        // check with one fixed dropout mask, 0
    uint64_t seed;           // draws coordinates, directions and the mask
    // Nonzero: evaluate every J with fnn_net_cost on perturbed parameters.
    // Zero (default): recompute only what a perturbation changes, from the
    // cached forward pass (tested to agree with fnn_net_cost).
    int reference;
} fnn_gradcheck_options;
// Returns the defaults given beside each field above.
fnn_gradcheck_options fnn_gradcheck_options_default(void);

// One compared coordinate. In directions mode a "coordinate" is a direction
// u: index is its number, block and layer -1, analytic dtheta . u.
typedef struct fnn_gradcheck_coord {
    int64_t index;    // position in the flat parameter vector
    int block;        // index into fnn_gradcheck_report.blocks
    int layer;        // the block's layer (0-based)
    int64_t row, col; // within the block; a bias has col 0
    double analytic;  // backprop's value
    double numerical; // central difference, or at a kink the value of
                      // [left, right] nearest to analytic
    double central;   // (J(theta + eps) - J(theta - eps)) / 2eps
    double left;      // (J(theta) - J(theta - eps)) / eps, NaN unless kink
    double right;     // (J(theta + eps) - J(theta)) / eps, NaN unless kink
    double abs_diff;  // |analytic - numerical|
    int kink;         // a ReLU or leaky-ReLU pre-activation crossed 0
} fnn_gradcheck_coord;

// A parameter block: layers.{l}.weight [n_out, n_in] or layers.{l}.bias.
typedef struct fnn_gradcheck_block {
    char name[FNN_GRADCHECK_NAME_SIZE];
    int layer;
    int64_t offset;     // first element in the flat vector
    int64_t rows, cols; // shape; a bias is [n_out, 1]
    int64_t checked;    // coordinates compared
    int64_t kinks;      // of those, how many crossed a kink
    double relative_difference;
    fnn_gradcheck_verdict verdict;
    int n_worst;
    fnn_gradcheck_coord worst[FNN_GRADCHECK_MAX_WORST]; // largest first
} fnn_gradcheck_block;

typedef struct fnn_gradcheck_report {
    // ||numerical - analytic|| / (||numerical|| + ||analytic||) over every
    // compared value; 0 when both norms are 0.
    double relative_difference;
    double central_relative_difference; // the same without kink handling
    fnn_gradcheck_verdict verdict;
    fnn_gradcheck_mode mode; // the mode used, never AUTO
    double epsilon;
    int64_t parameters;         // size of the parameter vector
    int64_t parameters_checked; // coordinates (or directions) compared
    int64_t kinks;
    int64_t evaluations;        // evaluations of J for the differences
    double seconds;             // wall time of the check
    int with_dropout;           // 1: one fixed mask; 0: dropout off
    double keep_prob;           // the network's keep_prob (unused if off)
    // The failing block nearest the output, or -1. Backprop reaches it
    // first, so a bug is most likely there or in the layer above it.
    int first_failure;
    int n_blocks;
    fnn_gradcheck_block *blocks; // [n_blocks], owned by the report
    int n_worst;
    fnn_gradcheck_coord worst[FNN_GRADCHECK_MAX_WORST]; // largest first
} fnn_gradcheck_report;

// Frees the blocks of a report and zeroes it; accepts NULL.
void fnn_gradcheck_report_free(fnn_gradcheck_report *report);

// Checks backprop's gradient of fnn_net_cost on one batch (x, y as in
// fnn_net_cost, in the network's dtype) against central differences, in
// float64: a float32 network is promoted to a float64 copy. `net` is not
// modified. The L2 term is included; dropout is off unless
// opts->with_dropout. `opts` may be NULL for defaults. Fills `report` (free
// it with fnn_gradcheck_report_free) and returns FNN_OK whatever the
// verdict. Returns FNN_ERR_INVALID, FNN_ERR_NOMEM or FNN_ERR_NONFINITE,
// with err filled, when the check itself cannot run.
fnn_status fnn_gradcheck_run(const fnn_net *net, const void *x,
                             const void *y, int batch_size,
                             const fnn_gradcheck_options *opts,
                             fnn_gradcheck_report *report, fnn_error *err);

// A user's cost: stores J(theta) in *cost and, when grad is not NULL, the
// gradient dJ/dtheta [n] in grad. Returns 0 on success. Any other value
// stops the check with FNN_ERR_INTERRUPTED.
typedef int (*fnn_cost_fn)(void *user, const double *theta, double *cost,
                           double *grad);

// A named block of the user's parameter vector, [rows, cols] row-major.
typedef struct fnn_gradcheck_block_spec {
    const char *name;
    int64_t rows, cols;
} fnn_gradcheck_block_spec;

// Checks a user's cost function at theta [n] with the same method and
// report as fnn_gradcheck_run. `blocks` [n_blocks] split theta in order and
// must cover it exactly. NULL makes one block "theta" [n, 1]. theta is
// copied and never written. Kinks are not detected because the function is
// opaque, so every coordinate is judged by its central difference.
fnn_status fnn_gradcheck_function(fnn_cost_fn cost, void *user,
                                  const double *theta, int64_t n,
                                  const fnn_gradcheck_block_spec *blocks,
                                  int n_blocks,
                                  const fnn_gradcheck_options *opts,
                                  fnn_gradcheck_report *report,
                                  fnn_error *err);

#ifdef FNN_TESTING
// Bugs that tests plant in the backward pass of one layer, to prove that
// the checker fails and names the block. Only in the fastnn_testing build.
typedef enum fnn_testing_bug {
    FNN_BUG_NONE,
    FNN_BUG_DW_SIGN,       // dW of the layer negated
    FNN_BUG_DB_NOT_SUMMED, // db = dz of the first sample only
    FNN_BUG_L2_MISSING,    // dW without (lambda/m) W
    FNN_BUG_L2_DOUBLED,    // dW with 2 (lambda/m) W
    FNN_BUG_NO_INV_M,      // the data terms of dW and db times m
    FNN_BUG_LEAKY_SIDE,    // leaky-ReLU slopes swapped at the layer's output
    FNN_BUG_SOFTMAX_LABEL, // softmax dz uses the next sample's label
} fnn_testing_bug;

// Plants `bug` in layer `layer` (0-based, or -1 for every layer;
// FNN_BUG_SOFTMAX_LABEL ignores it) of `net` and of every copy
// fnn_gradcheck_run makes of it.
fnn_status fnn_testing_plant_bug(fnn_net *net, fnn_testing_bug bug,
                                 int layer);
#endif

// ---------------------------------------------------------------------------
// NumPy .npy files

// Reads a data set from two NumPy .npy files written by np.save (format
// versions 1.0, 2.0 and 3.0): features [n_rows, n_features] and labels
// [n_rows] or [n_rows, 1]. Features with more than two dimensions are
// flattened in C order ([n, 28, 28] gives 784 features). Accepted dtypes are
// float32 and float64, signed and unsigned integers of 1, 2, 4 and 8 bytes,
// and bool, in either byte order ('<f4', '>f8', '|u1', '<i8', ...), in C or
// Fortran order. uint8 and bool features are kept as bytes in ds->u8; every
// other dtype is converted to float32 in ds->f32 (integers beyond 2^24 are
// rounded). Labels are converted to float32 and classified as by
// fnn_csv_read. The returned data set owns its memory; free it with
// fnn_dataset_free. labels_path may be NULL for features only (ds->labels
// is then NULL). Returns NULL on failure with
// status FNN_ERR_IO (open or read failed), FNN_ERR_FORMAT (bad magic, a
// header that does not parse, a truncated file, trailing bytes, a shape
// that does not fit, a float64 beyond the float32 range),
// FNN_ERR_UNSUPPORTED (an unknown version, an object, structured or other
// dtype), FNN_ERR_NONFINITE (a NaN or infinite value), FNN_ERR_INVALID (a
// NULL features path) or FNN_ERR_NOMEM; err names the file, the byte offset
// or the element index, and the value.
fnn_dataset *fnn_npy_read(const char *features_path, const char *labels_path,
                          fnn_error *err, fnn_status *status);

// Writes `data`, an array of `ndim` dimensions with the given `shape`
// (row-major, FNN_F32 floats or FNN_F64 doubles), as a NumPy .npy file
// (version 1.0, little-endian '<f4' or '<f8', C order) that np.load reads.
// ndim may be 0 to 32; data may be NULL only when the shape contains no
// element. The file is written atomically: a temporary file in the same
// directory, fsync, rename, so an existing file is replaced whole or left
// as it was. Returns FNN_OK, FNN_ERR_INVALID (a bad argument) or
// FNN_ERR_IO (the file could not be written), with err filled.
fnn_status fnn_npy_write(const char *path, fnn_dtype dtype, int ndim,
                         const int64_t *shape, const void *data,
                         fnn_error *err);

// ---------------------------------------------------------------------------
// Diagnostics

// A quantity has vanished when it falls below its reference divided by this
// factor, and exploded when it exceeds its reference times this factor.
#define FNN_DIAGNOSE_RATIO 1e3

typedef enum fnn_verdict {
    FNN_VERDICT_OK,
    FNN_VERDICT_VANISHING,
    FNN_VERDICT_EXPLODING,
} fnn_verdict;

// The measurement behind a verdict.
typedef enum fnn_verdict_cause {
    FNN_CAUSE_NONE,
    FNN_CAUSE_ACTIVATION_STD, // activation std relative to layers.0
    FNN_CAUSE_GRADIENT_NORM,  // ||dW|| relative to the output layer
    FNN_CAUSE_NONFINITE,      // a NaN or infinite value, or loss
} fnn_verdict_cause;

// Statistics of one layer (weight matrix) over a batch. Means and standard
// deviations pool all [batch_size, sizes[l+1]] values; std is the
// population std. The output layer's activation is its pre-activation (the
// logits), because the loss applies the output nonlinearity.
typedef struct fnn_layer_stats {
    double preactivation_mean;
    double preactivation_std;
    double activation_mean;
    double activation_std;
    double gradient_norm;   // ||dW[l]||_F; NaN when no backward pass ran
    int64_t nonfinite;      // NaN or infinite values among z[l] and a[l]
    // Predicted std(z[l]) / std(z[l-1]) for zero-mean weights of the
    // layer's init std sigma: sigma sqrt(n_in E[g(z)^2]) / s, where z ~
    // N(0, s^2) and s is the measured std(z[l-1]). NaN for layer 0 and when
    // s is 0 or not finite.
    double expected_factor;
} fnn_layer_stats;

// Result of fnn_diagnose: the statistics and the verdict drawn from them.
typedef struct fnn_diagnosis {
    int n_layers;
    int batch_size;
    double cost;            // J of the batch, possibly not finite
    int backward_ran;       // 0 when the cost was not finite
    int first_nonfinite;    // first layer with a non-finite z or a, or -1
    fnn_verdict verdict;
    fnn_verdict_cause cause;
    int verdict_layer;      // layer named by the verdict, -1 when ok
    double verdict_ratio;   // the ratio that crossed the threshold, or NaN
    fnn_layer_stats layers[FNN_MAX_LAYERS];
} fnn_diagnosis;

// Runs one forward and one backward pass without dropout on x
// [batch_size, n_in] and labels y (layouts as in fnn_net_cost), stores the
// per-layer statistics in *out and judges them with fnn_diagnosis_judge.
// The gradient vector of `net` is overwritten. A non-finite cost is a
// finding, not an error: it returns FNN_OK with backward_ran = 0. Returns
// FNN_ERR_INVALID for bad arguments or labels, FNN_ERR_NOMEM.
fnn_status fnn_diagnose(fnn_net *net, const void *x, const void *y,
                        int batch_size, fnn_diagnosis *out);

// Sets verdict, cause, verdict_layer and verdict_ratio from the layer
// statistics of `d`. Activation std is compared with layers.0 going forward;
// gradient norms with the output layer going backward, the direction in
// which gradients flow. The first layer in that order where a ratio leaves
// [1/FNN_DIAGNOSE_RATIO, FNN_DIAGNOSE_RATIO], or where a value is not
// finite, is named; a zero reference counts as vanished at the reference.
// Exploding outranks vanishing, and the activation finding outranks the
// gradient finding of the same kind.
void fnn_diagnosis_judge(fnn_diagnosis *d);

// Returns sigma sqrt(fan_in E[g(z)^2]) / s for z ~ N(0, s^2), with g the
// activation and sigma = fnn_init_std(init, fan_in, fan_out): the expected
// growth of the pre-activation std across one layer. For relu it is
// sigma sqrt(fan_in / 2) for every s. Returns NaN when s is not positive
// and finite.
double fnn_diagnose_expected_factor(fnn_activation activation, fnn_init init,
                                    int fan_in, int fan_out, double s);

// Each returns a static lower-case name: "ok", "vanishing", "exploding";
// "none", "activation_std", "gradient_norm", "nonfinite".
const char *fnn_verdict_name(fnn_verdict v);
const char *fnn_verdict_cause_name(fnn_verdict_cause c);

// ---------------------------------------------------------------------------
// Checkpoints

// A training run that can stop between mini-batch steps, be saved to a
// checkpoint file and continue, in this process or another, to the same
// weights bit for bit as a run that never stopped (same thread count).
typedef struct fnn_trainer fnn_trainer;

// Position of a run: the next step is batch `batch` (0-based) of epoch
// `epoch` (0-based). batch == n_batches means that epoch's steps are done
// but its evaluation and on_epoch report are still to come.
typedef struct fnn_train_position {
    int epoch;
    int epochs;
    int64_t batch;
    int64_t n_batches;
    int64_t step; // optimizer updates applied so far
} fnn_train_position;

// Creates a run of `opts` on `net` and the data sets (test may be NULL), at
// epoch 0, batch 0, with new optimizer state. The trainer borrows net, the
// data sets and the callbacks' user pointer; they must outlive it. Returns
// NULL with FNN_ERR_INVALID (bad options or data, err filled) or
// FNN_ERR_NOMEM.
fnn_trainer *fnn_trainer_create(fnn_net *net, const fnn_dataset *train,
                                const fnn_dataset *test,
                                const fnn_train_options *opts,
                                fnn_error *err, fnn_status *status);

// Trains from the current position until the last epoch is done (FNN_OK).
// A nonzero return of on_batch or on_epoch stops it with
// FNN_ERR_INTERRUPTED at a step boundary: the trainer can then be saved and
// run again to continue. A non-finite loss or gradient stops it with
// FNN_ERR_NONFINITE before the failing update, err naming the epoch, the
// step and the layer.
fnn_status fnn_trainer_run(fnn_trainer *t, fnn_error *err);

// Returns the trainer's position: the epoch and batch reached, the counts
// of each, and the optimizer steps taken.
fnn_train_position fnn_trainer_position(const fnn_trainer *t);
// Returns the trained network (owned by the trainer when it was loaded).
fnn_net *fnn_trainer_net(fnn_trainer *t);
// Replaces on_batch, on_epoch and user with those of `callbacks`.
void fnn_trainer_set_callbacks(fnn_trainer *t,
                               const fnn_train_options *callbacks);
// Frees a trainer, and its network when it was loaded; accepts NULL.
void fnn_trainer_free(fnn_trainer *t);

// Writes a checkpoint atomically (temporary file, fsync, rename): the
// weights and normalization, the optimizer's state and step counter, both
// random generator states, the position, the epoch's loss so far, the row
// order of the epoch, the training options, a CRC-32 of the training data
// and `config_json`, a caller's text (may be NULL). The file is a
// safetensors file with the metadata keys of a model file. An existing file
// is replaced whole or left as it was. Equal runs give byte-identical files.
fnn_status fnn_checkpoint_save(fnn_trainer *t, const char *path,
                               const char *config_json, fnn_error *err);

// Returns the caller's text stored by fnn_checkpoint_save (malloc'd, free
// it with free(); "" when none was stored), after validating the file.
char *fnn_checkpoint_read_config(const char *path, fnn_error *err,
                                 fnn_status *status);

// Reads a checkpoint into a trainer that owns a new network, positioned
// where the checkpoint was saved. `train` must hold the same rows as the
// saved run (count, features and CRC-32 are compared). The callbacks come
// from `callbacks` (may be NULL), every other option from the file. Returns
// NULL with FNN_ERR_IO, FNN_ERR_FORMAT, FNN_ERR_UNSUPPORTED (another format
// version), FNN_ERR_INVALID (other data) or FNN_ERR_NOMEM, err naming the
// file and the value.
fnn_trainer *fnn_checkpoint_load(const char *path, const fnn_dataset *train,
                                 const fnn_dataset *test,
                                 const fnn_train_options *callbacks,
                                 fnn_error *err, fnn_status *status);

// ---------------------------------------------------------------------------
// Threads

// Maximum thread count of one network.
#define FNN_MAX_THREADS 64

// Sets the number of threads that the training steps of `net` (fnn_train,
// fnn_trainer_run) and fnn_optim_step use, 1 by default. With n > 1 each
// mini-batch is split into min(n, batch size) blocks of consecutive rows.
// Each block's forward and backward pass runs on one thread with
// single-threaded BLAS, and the per-block gradients are summed in block
// order. So a seed and a thread count give bit-identical results, while
// another thread count changes them in the last bits (the sums run in
// another order). Dropout masks are drawn as on one thread, and the
// optimizer update, split into disjoint parts, gives the bits of one
// thread. The n - 1 extra threads start here and stay until the next call
// or fnn_net_free. fnn_net_cost, fnn_evaluate and the gradient check always
// run on the calling thread. Returns FNN_OK, FNN_ERR_INVALID (NULL net, n
// outside 1..FNN_MAX_THREADS) or FNN_ERR_NOMEM (memory or a thread could not
// be had; the network is left on 1 thread).
fnn_status fnn_net_set_threads(fnn_net *net, int n_threads);
// Returns the thread count set by fnn_net_set_threads (1 for NULL).
int fnn_net_threads(const fnn_net *net);

#ifdef __cplusplus
}
#endif

#endif
