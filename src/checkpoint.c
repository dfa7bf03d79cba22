// Checkpoint files: everything a training run needs to continue bit for bit,
// in a safetensors file. The network is stored as in a model file (same
// tensor names and metadata keys, with format "fastnn-checkpoint"), next to
// the optimizer state, the generator states and the epoch's row order.
#include "model.h"
#include "safetensors.h"
#include "train_internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define CKPT_FORMAT "fastnn-checkpoint"
#define CKPT_VERSION "1"
// Metadata key of the file's CRC-32 (see fnn_st_write).
#define CKPT_CHECKSUM_KEY "crc32"
// Tensors besides the network's: two generator states and the row order.
#define CKPT_STATE_TENSORS 3

static const char *real_dtype(const fnn_net *net) {
    return net->opt.dtype == FNN_F64 ? "F64" : "F32";
}

// Names of the optimizer's state vectors; NULL where the kind has none.
static void optim_names(fnn_optimizer kind, const char **first,
                        const char **second) {
    *first = kind == FNN_MOMENTUM ? "optimizer.velocity"
             : kind == FNN_ADAM   ? "optimizer.adam_m"
                                  : NULL;
    *second = kind == FNN_ADAM ? "optimizer.adam_v" : NULL;
}

// Sets meta[key], in place when the key exists so the model keys keep their
// order.
static int put_string(cJSON *meta, const char *key, const char *value) {
    if (!value) {
        return 0;
    }
    if (!cJSON_HasObjectItem(meta, key)) {
        return cJSON_AddStringToObject(meta, key, value) != NULL;
    }
    cJSON *v = cJSON_CreateString(value);
    if (!v || !cJSON_ReplaceItemInObjectCaseSensitive(meta, key, v)) {
        cJSON_Delete(v);
        return 0;
    }
    return 1;
}

static int put_double(cJSON *meta, const char *key, double value) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", value);
    return put_string(meta, key, buf);
}

static int put_int(cJSON *meta, const char *key, int64_t value) {
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)value);
    return put_string(meta, key, buf);
}

// The model metadata plus the run's options and position.
static cJSON *checkpoint_metadata(const fnn_trainer *t,
                                  const char *config_json) {
    const fnn_train_options *o = &t->opts;
    cJSON *meta = fnn_model_metadata(t->net, NULL);
    int ok = meta && put_string(meta, "format", CKPT_FORMAT) &&
             put_string(meta, "format_version", CKPT_VERSION) &&
             put_string(meta, "optimizer", fnn_optimizer_name(o->optim.kind)) &&
             put_double(meta, "learning_rate", o->optim.learning_rate) &&
             put_double(meta, "momentum", o->optim.momentum) &&
             put_double(meta, "beta1", o->optim.beta1) &&
             put_double(meta, "beta2", o->optim.beta2) &&
             put_double(meta, "adam_epsilon", o->optim.adam_epsilon) &&
             put_int(meta, "optimizer_steps", fnn_optim_steps(t->optim)) &&
             put_int(meta, "epochs", o->epochs) &&
             put_int(meta, "batch_size", o->batch_size) &&
             put_string(meta, "lr_schedule", fnn_schedule_name(o->schedule)) &&
             put_int(meta, "step_epochs", o->step_epochs) &&
             put_double(meta, "step_gamma", o->step_gamma) &&
             put_int(meta, "epoch", t->epoch) &&
             put_int(meta, "batch", t->batch) &&
             put_double(meta, "loss_total", t->loss_total) &&
             put_int(meta, "data_rows", t->train->n_rows) &&
             put_int(meta, "data_features", t->train->n_features) &&
             put_int(meta, "data_crc32", t->data_crc32) &&
             put_string(meta, "config", config_json ? config_json : "");
    if (!ok) {
        cJSON_Delete(meta);
        return NULL;
    }
    return meta;
}

static fnn_st_entry entry(const char *name, const char *dtype, int64_t n,
                          const void *data, int64_t elem) {
    fnn_st_entry e = {name, dtype, 1, {n, 0}, data, n * elem};
    return e;
}

// Lists the tensors in file order; names[] receives the layer names.
static int checkpoint_entries(fnn_trainer *t, fnn_st_entry *e,
                              char (*names)[40]) {
    const fnn_net *net = t->net;
    const char *dt = real_dtype(net);
    int64_t elem = (int64_t)net->elem;
    const char *p = net->params;
    int n = 0;
    for (int l = 0; l < net->opt.n_layers; l++) {
        int64_t n_out = net->opt.sizes[l + 1];
        int64_t n_in = net->opt.sizes[l];
        snprintf(names[2 * l], 40, "layers.%d.weight", l);
        snprintf(names[2 * l + 1], 40, "layers.%d.bias", l);
        e[n] = (fnn_st_entry){names[2 * l], dt, 2, {n_out, n_in},
                              p + net->w_off[l] * elem, n_out * n_in * elem};
        n++;
        e[n++] = entry(names[2 * l + 1], dt, n_out, p + net->b_off[l] * elem,
                       elem);
    }
    if (net->norm_mean) {
        e[n++] = entry("normalize.mean", "F64", net->opt.sizes[0],
                       net->norm_mean, 8);
        e[n++] = entry("normalize.std", "F64", net->opt.sizes[0],
                       net->norm_std, 8);
    }
    fnn_optim_state st = fnn_optim_get_state(t->optim);
    const char *first, *second;
    optim_names(t->opts.optim.kind, &first, &second);
    if (first) {
        e[n++] = entry(first, dt, st.n, st.state1, elem);
    }
    if (second) {
        e[n++] = entry(second, dt, st.n, st.state2, elem);
    }
    e[n++] = entry("rng.dropout", "U64", 4, net->rng_dropout.s, 8);
    e[n++] = entry("rng.shuffle", "U64", 4, net->rng_shuffle.s, 8);
    e[n++] = entry("train.permutation", "I64", t->train->n_rows, t->perm, 8);
    return n;
}

fnn_status fnn_checkpoint_save(fnn_trainer *t, const char *path,
                               const char *config_json, fnn_error *err) {
    if (!t || !path || !*path) {
        return fnn_fail(err, FNN_ERR_INVALID, "missing trainer or path");
    }
    if (!t->have_crc32) {
        t->data_crc32 = fnn_dataset_crc32(t->train);
        t->have_crc32 = 1;
    }
    int max = 2 * t->net->opt.n_layers + 4 + CKPT_STATE_TENSORS;
    fnn_st_entry *e = calloc((size_t)max, sizeof *e);
    char (*names)[40] = calloc((size_t)max, sizeof *names);
    cJSON *meta = checkpoint_metadata(t, config_json);
    fnn_status s = FNN_OK;
    if (!e || !names || !meta) {
        s = fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", path);
    } else {
        int n = checkpoint_entries(t, e, names);
        s = fnn_st_write(path, meta, e, n, CKPT_CHECKSUM_KEY, err);
    }
    cJSON_Delete(meta);
    free(e);
    free(names);
    return s;
}

// ---------------------------------------------------------------------------
// Reading

typedef struct ckpt_reader {
    fnn_st_file st;
    fnn_error *err;
} ckpt_reader;

static fnn_status meta_required(const ckpt_reader *r, const char *key,
                                const char **out) {
    *out = fnn_st_meta(&r->st, key);
    if (!*out) {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: metadata \"%s\" is missing", r->st.path, key);
    }
    return FNN_OK;
}

// Reads an integer metadata value in [lo, hi].
static fnn_status meta_int(const ckpt_reader *r, const char *key, int64_t lo,
                           int64_t hi, int64_t *out) {
    const char *text;
    fnn_status s = meta_required(r, key, &text);
    if (s != FNN_OK) {
        return s;
    }
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno || v < lo || v > hi) {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: metadata \"%s\" is \"%.40s\": expected an "
                        "integer from %lld to %lld",
                        r->st.path, key, text, (long long)lo, (long long)hi);
    }
    *out = v;
    return FNN_OK;
}

static fnn_status meta_real(const ckpt_reader *r, const char *key,
                            double *out) {
    const char *text;
    fnn_status s = meta_required(r, key, &text);
    if (s != FNN_OK) {
        return s;
    }
    char *end;
    errno = 0;
    *out = strtod(text, &end);
    if (end == text || *end != '\0' || errno || !isfinite(*out)) {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: metadata \"%s\" is \"%.40s\": expected a finite "
                        "number",
                        r->st.path, key, text);
    }
    return FNN_OK;
}

static fnn_status check_format(ckpt_reader *r) {
    const char *format = fnn_st_meta(&r->st, "format");
    const char *version = fnn_st_meta(&r->st, "format_version");
    if (!format || strcmp(format, CKPT_FORMAT) != 0) {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: metadata format is \"%.40s\": expected \"%s\" "
                        "(not a fastnn checkpoint)",
                        r->st.path, format ? format : "(none)", CKPT_FORMAT);
    }
    if (!version || strcmp(version, CKPT_VERSION) != 0) {
        return fnn_fail(r->err, FNN_ERR_UNSUPPORTED,
                        "%s: unknown checkpoint format version \"%.20s\": "
                        "this build reads version %s",
                        r->st.path, version ? version : "(none)",
                        CKPT_VERSION);
    }
    // The network metadata is that of a model file, which the model reader
    // parses under its own format name.
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(r->st.root, "__metadata__");
    cJSON *model = cJSON_CreateString(FNN_MODEL_FORMAT);
    if (!model || !cJSON_ReplaceItemInObjectCaseSensitive(meta, "format",
                                                          model)) {
        cJSON_Delete(model);
        return fnn_fail(r->err, FNN_ERR_NOMEM, "%s: out of memory",
                        r->st.path);
    }
    return FNN_OK;
}

static fnn_status read_real_vector(const ckpt_reader *r, const char *name,
                                   const char *dtype, int64_t n, void *dst) {
    const fnn_st_tensor *t;
    fnn_status s = fnn_st_expect(&r->st, name, dtype, 1, &n, &t, r->err);
    return s == FNN_OK ? fnn_st_read(&r->st, t, dst, r->err) : s;
}

static fnn_status check_finite(const ckpt_reader *r, const char *what,
                               const void *v, fnn_dtype dtype, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double x = dtype == FNN_F64 ? ((const double *)v)[i]
                                    : ((const float *)v)[i];
        if (!isfinite(x)) {
            return fnn_fail(r->err, FNN_ERR_FORMAT,
                            "%s: %s element %lld is %g: expected a finite "
                            "value",
                            r->st.path, what, (long long)i, x);
        }
    }
    return FNN_OK;
}

static fnn_status read_layers(const ckpt_reader *r, fnn_net *net) {
    const char *dt = real_dtype(net);
    char *p = net->params;
    fnn_status s = FNN_OK;
    for (int l = 0; s == FNN_OK && l < net->opt.n_layers; l++) {
        char name[40];
        int64_t shape[2] = {net->opt.sizes[l + 1], net->opt.sizes[l]};
        const fnn_st_tensor *t;
        snprintf(name, sizeof name, "layers.%d.weight", l);
        s = fnn_st_expect(&r->st, name, dt, 2, shape, &t, r->err);
        if (s == FNN_OK) {
            s = fnn_st_read(&r->st, t, p + net->w_off[l] * net->elem, r->err);
        }
        snprintf(name, sizeof name, "layers.%d.bias", l);
        if (s == FNN_OK) {
            s = read_real_vector(r, name, dt, shape[0],
                                 p + net->b_off[l] * net->elem);
        }
    }
    if (s == FNN_OK) {
        s = check_finite(r, "parameter", net->params, net->opt.dtype,
                         net->n_params);
    }
    return s;
}

static fnn_status read_normalization(const ckpt_reader *r, fnn_net *net) {
    int64_t n = net->opt.sizes[0];
    double *v = malloc(2 * (size_t)n * sizeof *v);
    if (!v) {
        return fnn_fail(r->err, FNN_ERR_NOMEM, "%s: out of memory",
                        r->st.path);
    }
    fnn_status s = read_real_vector(r, "normalize.mean", "F64", n, v);
    if (s == FNN_OK) {
        s = read_real_vector(r, "normalize.std", "F64", n, v + n);
    }
    for (int64_t j = 0; s == FNN_OK && j < n; j++) {
        if (!isfinite(v[j]) || !isfinite(v[n + j]) || !(v[n + j] > 0)) {
            s = fnn_fail(r->err, FNN_ERR_FORMAT,
                         "%s: normalize feature %lld has mean %g and std %g: "
                         "the mean must be finite and the std finite and "
                         "positive",
                         r->st.path, (long long)j, v[j], v[n + j]);
        }
    }
    if (s == FNN_OK) {
        s = fnn_net_set_normalization(net, v, v + n);
    }
    free(v);
    return s;
}

// Reads the network; the checkpoint's format name must already be replaced.
static fnn_net *read_net(ckpt_reader *r, fnn_status *status) {
    int normalized = 0;
    fnn_net *net = fnn_model_net_from_metadata(r->st.path, r->st.root,
                                               r->st.data_len, &normalized,
                                               r->err, status);
    fnn_status s = net ? read_layers(r, net) : *status;
    if (s == FNN_OK && normalized) {
        s = read_normalization(r, net);
    }
    if (s != FNN_OK) {
        fnn_net_free(net);
        net = NULL;
    }
    *status = s;
    return net;
}

static fnn_status read_name(const ckpt_reader *r, const char *key,
                            fnn_status (*parse)(const char *, int *),
                            int *out) {
    const char *text;
    fnn_status s = meta_required(r, key, &text);
    if (s == FNN_OK && parse(text, out) != FNN_OK) {
        s = fnn_fail(r->err, FNN_ERR_FORMAT,
                     "%s: metadata \"%s\" is \"%.40s\": not a known name",
                     r->st.path, key, text);
    }
    return s;
}

static fnn_status parse_optimizer(const char *text, int *out) {
    fnn_optimizer v;
    fnn_status s = fnn_optimizer_parse(text, &v);
    *out = (int)v;
    return s;
}

static fnn_status parse_schedule(const char *text, int *out) {
    fnn_schedule v;
    fnn_status s = fnn_schedule_parse(text, &v);
    *out = (int)v;
    return s;
}

// Reads the training options; fnn_optim_create validates the optimizer's.
static fnn_status read_train_options(const ckpt_reader *r,
                                     fnn_train_options *o) {
    *o = fnn_train_options_default();
    int kind = 0, schedule = 0;
    int64_t epochs = 0, batch_size = 0, step_epochs = 0;
    fnn_status s = read_name(r, "optimizer", parse_optimizer, &kind);
    if (s == FNN_OK) {
        s = read_name(r, "lr_schedule", parse_schedule, &schedule);
    }
    const char *reals[] = {"learning_rate", "momentum", "beta1", "beta2",
                           "adam_epsilon", "step_gamma"};
    double *dst[] = {&o->optim.learning_rate, &o->optim.momentum,
                     &o->optim.beta1, &o->optim.beta2,
                     &o->optim.adam_epsilon, &o->step_gamma};
    for (int i = 0; s == FNN_OK && i < 6; i++) {
        s = meta_real(r, reals[i], dst[i]);
    }
    if (s == FNN_OK) {
        s = meta_int(r, "epochs", 0, INT32_MAX, &epochs);
    }
    if (s == FNN_OK) {
        s = meta_int(r, "batch_size", 1, INT32_MAX, &batch_size);
    }
    if (s == FNN_OK) {
        s = meta_int(r, "step_epochs", INT32_MIN, INT32_MAX, &step_epochs);
    }
    o->optim.kind = (fnn_optimizer)kind;
    o->schedule = (fnn_schedule)schedule;
    o->epochs = (int)epochs;
    o->batch_size = (int)batch_size;
    o->step_epochs = (int)step_epochs;
    return s;
}

// Requires `train` to be the data set of the saved run.
static fnn_status check_data(const ckpt_reader *r, const fnn_dataset *train,
                             fnn_trainer *t) {
    int64_t rows = 0, features = 0, crc = 0;
    fnn_status s = meta_int(r, "data_rows", 1, INT64_MAX, &rows);
    if (s == FNN_OK) {
        s = meta_int(r, "data_features", 1, INT32_MAX, &features);
    }
    if (s == FNN_OK) {
        s = meta_int(r, "data_crc32", 0, UINT32_MAX, &crc);
    }
    if (s != FNN_OK) {
        return s;
    }
    const char *src = train->source ? train->source : "the training data";
    if (rows != train->n_rows || features != train->n_features) {
        return fnn_fail(r->err, FNN_ERR_INVALID,
                        "%s: the checkpoint was trained on %lld rows of %lld "
                        "features, but %s has %lld rows of %d: pass the same "
                        "data and --limit",
                        r->st.path, (long long)rows, (long long)features, src,
                        (long long)train->n_rows, train->n_features);
    }
    t->data_crc32 = fnn_dataset_crc32(train);
    t->have_crc32 = 1;
    if ((uint32_t)crc != t->data_crc32) {
        return fnn_fail(r->err, FNN_ERR_INVALID,
                        "%s: the training data differ from the checkpoint's "
                        "(CRC-32 %08x, expected %08x): pass the data the run "
                        "started with",
                        r->st.path, (unsigned)t->data_crc32, (unsigned)crc);
    }
    return FNN_OK;
}

// Reads the row order and checks that it is a permutation, because its
// values index the training rows.
static fnn_status read_permutation(const ckpt_reader *r, fnn_trainer *t) {
    int64_t n = t->train->n_rows;
    fnn_status s = read_real_vector(r, "train.permutation", "I64", n,
                                    t->perm);
    unsigned char *seen = s == FNN_OK ? calloc((size_t)n, 1) : NULL;
    if (s == FNN_OK && !seen) {
        return fnn_fail(r->err, FNN_ERR_NOMEM, "%s: out of memory",
                        r->st.path);
    }
    for (int64_t i = 0; s == FNN_OK && i < n; i++) {
        int64_t v = t->perm[i];
        if (v < 0 || v >= n || seen[v]) {
            s = fnn_fail(r->err, FNN_ERR_FORMAT,
                         "%s: train.permutation element %lld is %lld: "
                         "expected each row index from 0 to %lld once",
                         r->st.path, (long long)i, (long long)v,
                         (long long)n - 1);
        } else {
            seen[v] = 1;
        }
    }
    free(seen);
    return s;
}

static fnn_status read_position(const ckpt_reader *r, fnn_trainer *t) {
    int64_t epoch = 0, batch = 0;
    fnn_status s = meta_int(r, "epoch", 0, t->opts.epochs, &epoch);
    if (s == FNN_OK) {
        int64_t max = epoch == t->opts.epochs ? 0 : t->n_batches;
        s = meta_int(r, "batch", 0, max, &batch);
    }
    if (s == FNN_OK) {
        s = meta_real(r, "loss_total", &t->loss_total);
    }
    t->epoch = (int)epoch;
    t->batch = batch;
    return s;
}

// Reads the optimizer state, the generators and the row order.
static fnn_status read_state(const ckpt_reader *r, fnn_trainer *t) {
    fnn_net *net = t->net;
    fnn_optim_state st = fnn_optim_get_state(t->optim);
    const char *first, *second;
    optim_names(t->opts.optim.kind, &first, &second);
    // 2^62 is beyond any run, and keeps the step counter from overflowing.
    fnn_status s = meta_int(r, "optimizer_steps", 0, INT64_C(1) << 62,
                            st.steps);
    if (s == FNN_OK && first) {
        s = read_real_vector(r, first, real_dtype(net), st.n, st.state1);
    }
    if (s == FNN_OK && second) {
        s = read_real_vector(r, second, real_dtype(net), st.n, st.state2);
    }
    if (s == FNN_OK && first) {
        s = check_finite(r, first, st.state1, net->opt.dtype, st.n);
    }
    if (s == FNN_OK && second) {
        s = check_finite(r, second, st.state2, net->opt.dtype, st.n);
    }
    if (s == FNN_OK) {
        s = read_real_vector(r, "rng.dropout", "U64", 4, net->rng_dropout.s);
    }
    if (s == FNN_OK) {
        s = read_real_vector(r, "rng.shuffle", "U64", 4, net->rng_shuffle.s);
    }
    if (s == FNN_OK) {
        s = read_permutation(r, t);
    }
    int expected = 2 * net->opt.n_layers + (net->norm_mean ? 2 : 0) +
                   (first != NULL) + (second != NULL) + CKPT_STATE_TENSORS;
    if (s == FNN_OK && r->st.n_tensors != expected) {
        s = fnn_fail(r->err, FNN_ERR_FORMAT,
                     "%s: %d tensors in the header, expected %d for this "
                     "network and optimizer",
                     r->st.path, r->st.n_tensors, expected);
    }
    return s;
}

char *fnn_checkpoint_read_config(const char *path, fnn_error *err,
                                 fnn_status *status) {
    ckpt_reader r = {.err = err};
    fnn_status s = fnn_st_open(&r.st, path, err);
    const char *config = NULL;
    if (s == FNN_OK) {
        s = check_format(&r);
    }
    if (s == FNN_OK) {
        s = meta_required(&r, "config", &config);
    }
    char *copy = s == FNN_OK ? fnn_strdup(config) : NULL;
    if (s == FNN_OK && !copy) {
        s = fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", path);
    }
    fnn_st_close(&r.st);
    fnn_set_status(status, s);
    return copy;
}

// Builds the trainer from an open, format-checked checkpoint.
static fnn_trainer *load_trainer(ckpt_reader *r, const fnn_dataset *train,
                                 const fnn_dataset *test, fnn_status *status) {
    fnn_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        *status = fnn_fail(r->err, FNN_ERR_NOMEM, "%s: out of memory",
                           r->st.path);
        return NULL;
    }
    t->train = train;
    t->test = test;
    t->owns_net = 1;
    fnn_status s = read_train_options(r, &t->opts);
    if (s == FNN_OK && (t->net = read_net(r, &s)) != NULL) {
        s = check_data(r, train, t);
    }
    if (s == FNN_OK) {
        s = fnn_check_dataset(t->net, train, r->err);
    }
    if (s == FNN_OK && test) {
        s = fnn_check_dataset(t->net, test, r->err);
    }
    if (s == FNN_OK) {
        s = fnn_trainer_setup(t, r->err);
    }
    if (s == FNN_OK) {
        s = read_position(r, t);
    }
    if (s == FNN_OK) {
        s = read_state(r, t);
    }
    if (s != FNN_OK) {
        fnn_trainer_free(t);
        t = NULL;
    }
    *status = s;
    return t;
}

fnn_trainer *fnn_checkpoint_load(const char *path, const fnn_dataset *train,
                                 const fnn_dataset *test,
                                 const fnn_train_options *callbacks,
                                 fnn_error *err, fnn_status *status) {
    ckpt_reader r = {.err = err};
    fnn_status s = FNN_OK;
    if (!train || train->n_rows < 1) {
        s = fnn_fail(err, FNN_ERR_INVALID, "%s: no training data to resume "
                     "on", path ? path : "checkpoint");
    }
    if (s == FNN_OK) {
        s = fnn_st_open(&r.st, path, err);
    }
    if (s == FNN_OK) {
        s = check_format(&r);
    }
    // The file's CRC-32 catches a changed byte anywhere, in the weights,
    // the optimizer state or a metadata value such as l2 or the seed.
    // NOTE: a checkpoint without the checksum key, as earlier builds wrote
    // them, is read without this check.
    if (s == FNN_OK) {
        s = fnn_st_verify_checksum(&r.st, CKPT_CHECKSUM_KEY, err);
    }
    fnn_trainer *t = s == FNN_OK ? load_trainer(&r, train, test, &s) : NULL;
    fnn_trainer_set_callbacks(t, callbacks);
    fnn_st_close(&r.st);
    fnn_set_status(status, s);
    return t;
}
