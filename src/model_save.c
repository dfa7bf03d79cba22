// Writes a network as a safetensors file: an 8-byte little-endian header
// length, a JSON header (dtype, shape and data_offsets of each tensor, plus
// string-valued __metadata__), then the raw little-endian tensor data.
#include "model.h"
#include "safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *json_int_list(const int *v, int n) {
    cJSON *a = cJSON_CreateIntArray(v, n);
    char *s = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return s;
}

static char *json_init_list(const fnn_net *net) {
    cJSON *a = cJSON_CreateArray();
    for (int l = 0; a && l < net->opt.n_layers; l++) {
        cJSON_AddItemToArray(a,
                             cJSON_CreateString(fnn_init_name(net->layer_init[l])));
    }
    char *s = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return s;
}

static int add_meta(cJSON *meta, const char *key, const char *value) {
    return value && cJSON_AddStringToObject(meta, key, value) != NULL;
}

static int add_meta_double(cJSON *meta, const char *key, double value) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", value);
    return add_meta(meta, key, buf);
}

cJSON *fnn_model_metadata(const fnn_net *net, const char *config_json) {
    const fnn_net_options *o = &net->opt;
    cJSON *meta = cJSON_CreateObject();
    char *sizes = json_int_list(o->sizes, o->n_layers + 1);
    char *inits = json_init_list(net);
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    int ok = meta && add_meta(meta, "format", FNN_MODEL_FORMAT) &&
             add_meta(meta, "format_version", FNN_MODEL_VERSION) &&
             add_meta(meta, "dtype", fnn_dtype_name(o->dtype)) &&
             add_meta(meta, "sizes", sizes) &&
             add_meta(meta, "activation", fnn_activation_name(o->activation)) &&
             add_meta(meta, "output_activation",
                      o->loss == FNN_LOSS_SOFTMAX_CE   ? "softmax"
                      : o->loss == FNN_LOSS_SIGMOID_BCE ? "sigmoid"
                                                        : "identity") &&
             add_meta(meta, "loss", fnn_loss_name(o->loss)) &&
             add_meta(meta, "normalized", net->norm_mean ? "true" : "false") &&
             add_meta(meta, "init", inits) &&
             add_meta_double(meta, "l2", o->l2) &&
             add_meta_double(meta, "keep_prob", o->keep_prob) &&
             add_meta(meta, "seed", seed);
    if (ok && config_json) {
        ok = add_meta(meta, "training", config_json);
    }
    free(sizes);
    free(inits);
    if (!ok) {
        cJSON_Delete(meta);
        return NULL;
    }
    return meta;
}

static int add_tensor(cJSON *root, const char *name, const char *dtype,
                      const int *shape, int rank, int64_t *offset,
                      int64_t bytes) {
    cJSON *t = cJSON_CreateObject();
    cJSON *s = cJSON_CreateIntArray(shape, rank);
    cJSON *off = cJSON_CreateArray();
    if (!t || !s || !off) {
        cJSON_Delete(t);
        cJSON_Delete(s);
        cJSON_Delete(off);
        return 0;
    }
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)*offset));
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(*offset + bytes)));
    cJSON_AddStringToObject(t, "dtype", dtype);
    cJSON_AddItemToObject(t, "shape", s);
    cJSON_AddItemToObject(t, "data_offsets", off);
    cJSON_AddItemToObject(root, name, t);
    *offset += bytes;
    return 1;
}

// Builds the header JSON, padded with spaces so that the data starts at a
// multiple of 8 bytes.
static char *build_header(const fnn_net *net, const char *config_json,
                          size_t *len) {
    const fnn_net_options *o = &net->opt;
    const char *dt = o->dtype == FNN_F64 ? "F64" : "F32";
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = fnn_model_metadata(net, config_json);
    if (!root || !meta) {
        cJSON_Delete(root);
        cJSON_Delete(meta);
        return NULL;
    }
    cJSON_AddItemToObject(root, "__metadata__", meta);
    int64_t offset = 0;
    int ok = 1;
    for (int l = 0; ok && l < o->n_layers; l++) {
        char name[64];
        int wshape[2] = {o->sizes[l + 1], o->sizes[l]};
        snprintf(name, sizeof name, "layers.%d.weight", l);
        ok = add_tensor(root, name, dt, wshape, 2, &offset,
                        (int64_t)wshape[0] * wshape[1] * (int64_t)net->elem);
        snprintf(name, sizeof name, "layers.%d.bias", l);
        ok = ok && add_tensor(root, name, dt, wshape, 1, &offset,
                              (int64_t)wshape[0] * (int64_t)net->elem);
    }
    if (ok && net->norm_mean) {
        int n = o->sizes[0];
        int64_t bytes = (int64_t)n * 8;
        ok = add_tensor(root, "normalize.mean", "F64", &n, 1, &offset, bytes) &&
             add_tensor(root, "normalize.std", "F64", &n, 1, &offset, bytes);
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return fnn_st_pad_header(json, len);
}

static int write_all(FILE *f, const void *data, size_t n) {
    return n == 0 || fwrite(data, 1, n, f) == n;
}

static int write_body(FILE *f, const fnn_net *net, const char *header,
                      size_t header_len) {
    unsigned char len_le[8];
    for (int i = 0; i < 8; i++) {
        len_le[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    }
    int ok = write_all(f, len_le, 8) && write_all(f, header, header_len);
    // Parameters are already in file order: W[0], b[0], W[1], b[1], ...
    ok = ok && write_all(f, net->params, (size_t)net->n_params * net->elem);
    if (ok && net->norm_mean) {
        size_t n = (size_t)net->opt.sizes[0] * sizeof(double);
        ok = write_all(f, net->norm_mean, n) && write_all(f, net->norm_std, n);
    }
    return ok;
}

typedef struct model_body {
    const fnn_net *net;
    const char *header;
    size_t header_len;
} model_body;

static int write_body_cb(FILE *f, void *ctx) {
    const model_body *b = ctx;
    return write_body(f, b->net, b->header, b->header_len);
}

// Rejects a config_json that is not one complete JSON text, because readers
// of the metadata "training" parse it as JSON.
static fnn_status check_config_json(const char *path, const char *json,
                                    fnn_error *err) {
    if (!json) {
        return FNN_OK;
    }
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithOpts(json, &end, 1);
    if (v) {
        cJSON_Delete(v);
        return FNN_OK;
    }
    ptrdiff_t at = end ? end - json : 0;
    return fnn_fail(err, FNN_ERR_INVALID,
                    "%s: config_json is not valid JSON: error at byte %td "
                    "(\"%.20s\"): pass a JSON text or NULL",
                    path, at, json + at);
}

fnn_status fnn_model_save(const fnn_net *net, const char *path,
                          const char *config_json, fnn_error *err) {
    if (!net || !path || !*path) {
        return fnn_fail(err, FNN_ERR_INVALID, "missing network or path");
    }
    if (!config_json) {
        config_json = net->training_json;
    }
    fnn_status s = check_config_json(path, config_json, err);
    if (s != FNN_OK) {
        return s;
    }
    size_t header_len = 0;
    char *header = build_header(net, config_json, &header_len);
    if (!header) {
        return fnn_fail(err, FNN_ERR_NOMEM, "%s: cannot build the header",
                        path);
    }
    model_body body = {net, header, header_len};
    s = fnn_atomic_write(path, write_body_cb, &body, err);
    free(header);
    return s;
}
