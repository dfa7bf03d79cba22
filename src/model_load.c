// Reads and validates a safetensors model file written by fnn_model_save.
// Every size in the file is checked against the bytes present before it is
// used, and every tensor against the layer sizes in the metadata.
#include "model.h"
#include "safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

// Maximum number of characters of a JSON value quoted in a message.
#define JSON_QUOTE_MAX 60

typedef struct tensor_span {
    const char *name;
    int64_t begin, end;
} tensor_span;

typedef struct loader {
    const char *path;
    FILE *f;
    int64_t data_len; // bytes after the header
    int64_t data_start;
    cJSON *root;
    fnn_error *err;
} loader;

static fnn_status meta_string(loader *ld, const cJSON *meta, const char *key,
                              const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, key);
    if (!cJSON_IsString(v)) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: metadata \"%s\" is missing or not a string",
                        ld->path, key);
    }
    *out = v->valuestring;
    return FNN_OK;
}

static fnn_status parse_double(loader *ld, const char *key, const char *text,
                               double *out) {
    char *end;
    errno = 0;
    *out = strtod(text, &end);
    if (end == text || *end != '\0' || errno || !isfinite(*out)) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: metadata \"%s\" is \"%s\": expected a number",
                        ld->path, key, text);
    }
    return FNN_OK;
}

static fnn_status parse_sizes(loader *ld, const char *text,
                              fnn_net_options *o) {
    cJSON *a = cJSON_Parse(text);
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    fnn_status s = FNN_OK;
    if (n < 2 || n > FNN_MAX_LAYERS + 1) {
        s = fnn_fail(ld->err, FNN_ERR_FORMAT,
                     "%s: metadata \"sizes\" is \"%.60s\": expected a JSON "
                     "list of 2 to %d layer sizes",
                     ld->path, text, FNN_MAX_LAYERS + 1);
    }
    for (int i = 0; s == FNN_OK && i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
        if (d < 1 || d > (1 << 24) || d != floor(d)) {
            s = fnn_fail(ld->err, FNN_ERR_FORMAT,
                         "%s: metadata \"sizes\" is \"%.60s\": entry %d is "
                         "invalid: expected an integer from 1 to %d",
                         ld->path, text, i, 1 << 24);
        } else {
            o->sizes[i] = (int)d;
        }
    }
    o->n_layers = n - 1;
    cJSON_Delete(a);
    return s;
}

static fnn_status parse_inits(loader *ld, const char *text, fnn_net *net) {
    cJSON *a = cJSON_Parse(text);
    fnn_status s = FNN_OK;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != net->opt.n_layers) {
        s = fnn_fail(ld->err, FNN_ERR_FORMAT,
                     "%s: metadata \"init\" must list one initialization per "
                     "layer", ld->path);
    }
    for (int l = 0; s == FNN_OK && l < net->opt.n_layers; l++) {
        const cJSON *v = cJSON_GetArrayItem(a, l);
        if (!cJSON_IsString(v) ||
            fnn_init_parse(v->valuestring, &net->layer_init[l]) != FNN_OK) {
            s = fnn_fail(ld->err, FNN_ERR_FORMAT,
                         "%s: metadata \"init\" entry %d is not a known "
                         "initialization", ld->path, l);
        }
    }
    cJSON_Delete(a);
    return s;
}

// Checks the options that fnn_net_alloc would reject, naming the metadata
// key and its text. v is the metadata strings in read_options' order.
static fnn_status check_option_ranges(loader *ld, const fnn_net_options *o,
                                      const char *const *v) {
    if (o->l2 < 0) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: metadata \"l2\" is \"%.30s\": expected a "
                        "number >= 0", ld->path, v[7]);
    }
    if (!(o->keep_prob > 0 && o->keep_prob <= 1)) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: metadata \"keep_prob\" is \"%.30s\": expected a "
                        "number in (0, 1]", ld->path, v[8]);
    }
    if (o->loss == FNN_LOSS_SOFTMAX_CE && o->sizes[o->n_layers] < 2) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: metadata \"loss\" is \"%.30s\" but \"sizes\" "
                        "gives %d output: softmax needs at least 2",
                        ld->path, v[5], o->sizes[o->n_layers]);
    }
    return FNN_OK;
}

// Reads the options from __metadata__.
static fnn_status read_options(loader *ld, fnn_net_options *o,
                               int *normalized) {
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(ld->root,
                                                         "__metadata__");
    if (!cJSON_IsObject(meta)) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: no __metadata__ object: not a fastnn model",
                        ld->path);
    }
    const char *v[9];
    static const char *const KEYS[9] = {
        "format", "format_version", "dtype", "sizes", "activation",
        "loss", "normalized", "l2", "keep_prob",
    };
    for (int i = 0; i < 9; i++) {
        fnn_status s = meta_string(ld, meta, KEYS[i], &v[i]);
        if (s != FNN_OK) {
            return s;
        }
    }
    if (strcmp(v[0], FNN_MODEL_FORMAT) != 0) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: metadata format is \"%.40s\": expected \"%s\"",
                        ld->path, v[0], FNN_MODEL_FORMAT);
    }
    if (strcmp(v[1], FNN_MODEL_VERSION) != 0) {
        return fnn_fail(ld->err, FNN_ERR_UNSUPPORTED,
                        "%s: unknown format version \"%.20s\": this build "
                        "reads version %s",
                        ld->path, v[1], FNN_MODEL_VERSION);
    }
    *o = fnn_net_options_default();
    if (strcmp(v[2], "float32") == 0 || strcmp(v[2], "float64") == 0) {
        o->dtype = strcmp(v[2], "float64") == 0 ? FNN_F64 : FNN_F32;
    } else {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: unknown dtype \"%.20s\"", ld->path, v[2]);
    }
    fnn_status s = parse_sizes(ld, v[3], o);
    if (s == FNN_OK && fnn_activation_parse(v[4], &o->activation) != FNN_OK) {
        s = fnn_fail(ld->err, FNN_ERR_FORMAT, "%s: unknown activation \"%.30s\"",
                     ld->path, v[4]);
    }
    if (s == FNN_OK && (fnn_loss_parse(v[5], &o->loss) != FNN_OK ||
                        o->loss == FNN_LOSS_AUTO)) {
        s = fnn_fail(ld->err, FNN_ERR_FORMAT, "%s: unknown loss \"%.30s\"",
                     ld->path, v[5]);
    }
    *normalized = strcmp(v[6], "true") == 0;
    if (s == FNN_OK && !*normalized && strcmp(v[6], "false") != 0) {
        s = fnn_fail(ld->err, FNN_ERR_FORMAT,
                     "%s: metadata \"normalized\" is \"%.20s\": expected "
                     "\"true\" or \"false\"", ld->path, v[6]);
    }
    if (s == FNN_OK) {
        s = parse_double(ld, "l2", v[7], &o->l2);
    }
    if (s == FNN_OK) {
        s = parse_double(ld, "keep_prob", v[8], &o->keep_prob);
    }
    if (s == FNN_OK) {
        s = check_option_ranges(ld, o, v);
    }
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(meta, "seed");
    if (s == FNN_OK && cJSON_IsString(seed)) {
        o->seed = strtoull(seed->valuestring, NULL, 10);
    }
    return s;
}

// The dtypes of the safetensors format; a model file uses F32 and F64.
static int is_known_dtype(const char *name) {
    static const char *const DTYPES[] = {
        "F64", "F32", "F16", "BF16", "I64", "I32", "I16",
        "I8",  "U64", "U32", "U16",  "U8",  "BOOL",
    };
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++) {
        if (strcmp(DTYPES[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

// Writes the compact JSON text of v into buf, cut to JSON_QUOTE_MAX
// characters with "..." appended, or "(missing)" for NULL.
static void json_text(const cJSON *v, char *buf, size_t size) {
    char *printed = v ? cJSON_PrintUnformatted(v) : NULL;
    const char *shown = v ? "(unprintable)" : "(missing)";
    if (printed) {
        shown = printed;
    }
    snprintf(buf, size, "%.*s%s", JSON_QUOTE_MAX, shown,
             strlen(shown) > JSON_QUOTE_MAX ? "..." : "");
    free(printed);
}

static int64_t json_int(const cJSON *v, int *ok) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
        v->valuedouble > 9007199254740992.0 ||
        v->valuedouble != floor(v->valuedouble)) {
        *ok = 0;
        return 0;
    }
    return (int64_t)v->valuedouble;
}

// Checks one tensor entry against the expected dtype and shape and returns
// its byte span.
static fnn_status check_tensor(loader *ld, const char *name,
                               const char *dtype, const int *shape, int rank,
                               size_t elem, tensor_span *span) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ld->root, name);
    if (!cJSON_IsObject(t)) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT, "%s: tensor \"%s\" is missing",
                        ld->path, name);
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    if (!cJSON_IsString(dt) || strcmp(dt->valuestring, dtype) != 0) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: tensor \"%s\" has %s dtype \"%.16s\": "
                        "expected %s",
                        ld->path, name,
                        cJSON_IsString(dt) && is_known_dtype(dt->valuestring)
                            ? "the wrong"
                            : "unknown",
                        cJSON_IsString(dt) ? dt->valuestring : "?", dtype);
    }
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "shape");
    int ok = cJSON_IsArray(sh) && cJSON_GetArraySize(sh) == rank;
    int64_t count = 1;
    for (int i = 0; ok && i < rank; i++) {
        const cJSON *v = cJSON_GetArrayItem(sh, i);
        int64_t size = json_int(v, &ok);
        if (!ok) {
            return fnn_fail(ld->err, FNN_ERR_FORMAT,
                            "%s: tensor \"%s\" shape entry %d is %g: "
                            "expected a non-negative integer below 2^53",
                            ld->path, name, i,
                            cJSON_IsNumber(v) ? v->valuedouble : NAN);
        }
        ok = size == shape[i];
        count *= shape[i];
    }
    if (!ok) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: tensor \"%s\" has the wrong shape for the layer "
                        "sizes in the metadata (expected [%d%s%d])",
                        ld->path, name, shape[0], rank > 1 ? ", " : "",
                        rank > 1 ? shape[1] : 0);
    }
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    ok = cJSON_IsArray(off) && cJSON_GetArraySize(off) == 2;
    span->name = name;
    span->begin = ok ? json_int(cJSON_GetArrayItem(off, 0), &ok) : 0;
    span->end = ok ? json_int(cJSON_GetArrayItem(off, 1), &ok) : 0;
    if (ok && span->end < span->begin) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: tensor \"%s\" has reversed data_offsets "
                        "[%lld, %lld]",
                        ld->path, name, (long long)span->begin,
                        (long long)span->end);
    }
    if (!ok) {
        char text[JSON_QUOTE_MAX + 4];
        json_text(off, text, sizeof text);
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: tensor \"%s\" has data_offsets %s: expected "
                        "[begin, end], two integers from 0 to 2^53",
                        ld->path, name, text);
    }
    if (span->end > ld->data_len) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: tensor \"%s\" has data_offsets [%lld, %lld] "
                        "outside the %lld data bytes",
                        ld->path, name, (long long)span->begin,
                        (long long)span->end, (long long)ld->data_len);
    }
    if (span->end - span->begin != count * (int64_t)elem) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: tensor \"%s\" spans %lld bytes: its shape and "
                        "dtype need %lld",
                        ld->path, name, (long long)(span->end - span->begin),
                        (long long)(count * (int64_t)elem));
    }
    return FNN_OK;
}

static int span_cmp(const void *a, const void *b) {
    const tensor_span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

// Requires the spans to tile [0, data_len) exactly, with no gap or overlap.
static fnn_status check_coverage(loader *ld, tensor_span *spans, int n) {
    qsort(spans, (size_t)n, sizeof *spans, span_cmp);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (spans[i].begin != at) {
            return fnn_fail(ld->err, FNN_ERR_FORMAT,
                            "%s: tensor \"%s\" starts at data byte %lld: "
                            "expected %lld (tensors %s)",
                            ld->path, spans[i].name,
                            (long long)spans[i].begin, (long long)at,
                            spans[i].begin < at ? "overlap" : "leave a gap");
        }
        at = spans[i].end;
    }
    if (at != ld->data_len) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: tensors cover %lld of the %lld data bytes",
                        ld->path, (long long)at, (long long)ld->data_len);
    }
    return FNN_OK;
}

static fnn_status read_span(loader *ld, const tensor_span *sp, void *dst) {
    size_t n = (size_t)(sp->end - sp->begin);
    if (fseeko(ld->f, (off_t)(ld->data_start + sp->begin), SEEK_SET) != 0 ||
        (n > 0 && fread(dst, 1, n, ld->f) != n)) {
        return fnn_fail(ld->err, FNN_ERR_IO, "%s: cannot read tensor \"%s\"",
                        ld->path, sp->name);
    }
    return FNN_OK;
}

// Parses the n header bytes at json into ld->root with the checks of
// fnn_st_parse_header.
static fnn_status parse_header_json(loader *ld, const char *json, size_t n) {
    return fnn_st_parse_header(ld->path, json, n, &ld->root, ld->err);
}

static fnn_status read_header(loader *ld) {
    struct stat st;
    unsigned char b[8];
    if (fstat(fileno(ld->f), &st) != 0 || !S_ISREG(st.st_mode)) {
        return fnn_fail(ld->err, FNN_ERR_IO, "%s: not a regular file",
                        ld->path);
    }
    if (fread(b, 1, 8, ld->f) != 8) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: %lld bytes is too short for a safetensors file",
                        ld->path, (long long)st.st_size);
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) {
        n = (n << 8) | b[i];
    }
    if (n < 2 || n > FNN_MODEL_MAX_HEADER || n > (uint64_t)st.st_size - 8) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: not a safetensors model: the header length "
                        "%llu at byte 0 exceeds the %lld bytes after it (or "
                        "the %d-byte limit)",
                        ld->path, (unsigned long long)n,
                        (long long)st.st_size - 8, FNN_MODEL_MAX_HEADER);
    }
    char *json = malloc((size_t)n);
    if (!json) {
        return fnn_fail(ld->err, FNN_ERR_NOMEM, "%s: out of memory", ld->path);
    }
    if (fread(json, 1, (size_t)n, ld->f) != (size_t)n) {
        free(json);
        return fnn_fail(ld->err, FNN_ERR_IO, "%s: cannot read the header",
                        ld->path);
    }
    fnn_status s = parse_header_json(ld, json, (size_t)n);
    free(json);
    if (s != FNN_OK) {
        return s;
    }
    ld->data_start = 8 + (int64_t)n;
    ld->data_len = (int64_t)st.st_size - ld->data_start;
    return FNN_OK;
}

static fnn_status check_finite(loader *ld, const fnn_net *net) {
    for (int64_t i = 0; i < net->n_params; i++) {
        double v = net->opt.dtype == FNN_F64 ? ((double *)net->params)[i]
                                             : ((float *)net->params)[i];
        if (!isfinite(v)) {
            return fnn_fail(ld->err, FNN_ERR_FORMAT,
                            "%s: parameter %lld is %g: weights must be finite",
                            ld->path, (long long)i, v);
        }
    }
    return FNN_OK;
}

// Reads the layer tensors, then the normalization tensors when present.
static fnn_status read_tensors(loader *ld, fnn_net *net, int normalized) {
    const fnn_net_options *o = &net->opt;
    int n_spans = 2 * o->n_layers + (normalized ? 2 : 0);
    tensor_span *spans = calloc((size_t)n_spans, sizeof *spans);
    char (*names)[40] = calloc((size_t)n_spans, sizeof *names);
    double *norm = NULL;
    fnn_status s = spans && names ? FNN_OK : FNN_ERR_NOMEM;
    const char *dt = o->dtype == FNN_F64 ? "F64" : "F32";
    for (int l = 0; s == FNN_OK && l < o->n_layers; l++) {
        int shape[2] = {o->sizes[l + 1], o->sizes[l]};
        snprintf(names[2 * l], 40, "layers.%d.weight", l);
        snprintf(names[2 * l + 1], 40, "layers.%d.bias", l);
        s = check_tensor(ld, names[2 * l], dt, shape, 2, net->elem,
                         &spans[2 * l]);
        if (s == FNN_OK) {
            s = check_tensor(ld, names[2 * l + 1], dt, shape, 1, net->elem,
                             &spans[2 * l + 1]);
        }
    }
    int n_in = o->sizes[0];
    if (s == FNN_OK && normalized) {
        int i = 2 * o->n_layers;
        s = check_tensor(ld, "normalize.mean", "F64", &n_in, 1, 8, &spans[i]);
        if (s == FNN_OK) {
            s = check_tensor(ld, "normalize.std", "F64", &n_in, 1, 8,
                             &spans[i + 1]);
        }
    }
    int entries = cJSON_GetArraySize(ld->root);
    if (s == FNN_OK &&
        entries - (cJSON_HasObjectItem(ld->root, "__metadata__") ? 1 : 0) !=
            n_spans) {
        s = fnn_fail(ld->err, FNN_ERR_FORMAT,
                     "%s: %d tensors in the header, expected %d for the "
                     "layer sizes in the metadata",
                     ld->path, entries - 1, n_spans);
    }
    tensor_span *sorted = s == FNN_OK ? malloc((size_t)n_spans * sizeof *sorted)
                                      : NULL;
    if (s == FNN_OK && !sorted) {
        s = FNN_ERR_NOMEM;
    }
    if (s == FNN_OK) {
        memcpy(sorted, spans, (size_t)n_spans * sizeof *sorted);
        s = check_coverage(ld, sorted, n_spans);
    }
    free(sorted);
    char *params = net->params;
    for (int l = 0; s == FNN_OK && l < o->n_layers; l++) {
        s = read_span(ld, &spans[2 * l], params + net->w_off[l] * net->elem);
        if (s == FNN_OK) {
            s = read_span(ld, &spans[2 * l + 1],
                          params + net->b_off[l] * net->elem);
        }
    }
    if (s == FNN_OK) {
        s = check_finite(ld, net);
    }
    if (s == FNN_OK && normalized) {
        norm = malloc(2 * (size_t)n_in * sizeof(double));
        s = norm ? read_span(ld, &spans[2 * o->n_layers], norm)
                 : FNN_ERR_NOMEM;
        if (s == FNN_OK) {
            s = read_span(ld, &spans[2 * o->n_layers + 1], norm + n_in);
        }
        for (int j = 0; s == FNN_OK && j < n_in; j++) {
            if (!isfinite(norm[j]) || !isfinite(norm[n_in + j]) ||
                !(norm[n_in + j] > 0)) {
                s = fnn_fail(ld->err, FNN_ERR_FORMAT,
                             "%s: normalize feature %d has mean %g and std "
                             "%g: the mean must be finite and the std "
                             "finite and positive",
                             ld->path, j, norm[j], norm[n_in + j]);
            }
        }
        if (s == FNN_OK) {
            s = fnn_net_set_normalization(net, norm, norm + n_in);
        }
    }
    if (s == FNN_ERR_NOMEM) {
        fnn_fail(ld->err, s, "%s: out of memory", ld->path);
    }
    free(norm);
    free(spans);
    free(names);
    return s;
}

static fnn_status copy_training(loader *ld, fnn_net *net) {
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(ld->root,
                                                         "__metadata__");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(meta, "training");
    if (cJSON_IsString(t)) {
        net->training_json = fnn_strdup(t->valuestring);
        if (!net->training_json) {
            return fnn_fail(ld->err, FNN_ERR_NOMEM, "%s: out of memory",
                            ld->path);
        }
    }
    return FNN_OK;
}

// Rejects layer sizes whose parameters could not be in the data_len bytes
// present, before fnn_net_alloc allocates them.
static fnn_status check_param_bytes(loader *ld, const fnn_net_options *o) {
    size_t elem = o->dtype == FNN_F64 ? sizeof(double) : sizeof(float);
    int64_t count = 0;
    int ok = 1;
    for (int l = 0; ok && l < o->n_layers; l++) {
        int64_t w = 0;
        ok = fnn_mul_size(o->sizes[l] + (int64_t)1, o->sizes[l + 1], &w) &&
             count <= INT64_MAX - w;
        count += ok ? w : 0;
    }
    int64_t bytes = 0;
    if (!ok || !fnn_mul_size(count, (int64_t)elem, &bytes) ||
        bytes > ld->data_len) {
        return fnn_fail(ld->err, FNN_ERR_FORMAT,
                        "%s: the layer sizes in the metadata need %s%lld "
                        "parameter bytes, but the file has %lld data bytes",
                        ld->path, ok ? "" : "more than ",
                        ok ? (long long)bytes : (long long)INT64_MAX,
                        (long long)ld->data_len);
    }
    return FNN_OK;
}

fnn_net *fnn_model_net_from_metadata(const char *path, const cJSON *root,
                                     int64_t data_len, int *normalized,
                                     fnn_error *err, fnn_status *status) {
    loader ld = {.path = path, .err = err, .root = (cJSON *)root,
                 .data_len = data_len};
    fnn_net_options o;
    fnn_net *net = NULL;
    fnn_status s = read_options(&ld, &o, normalized);
    if (s == FNN_OK) {
        s = check_param_bytes(&ld, &o);
    }
    if (s == FNN_OK && !(net = fnn_net_alloc(&o, &s))) {
        s = fnn_fail(err, s, "%s: invalid network options in the metadata",
                     path);
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    const cJSON *inits = cJSON_GetObjectItemCaseSensitive(meta, "init");
    if (s == FNN_OK) {
        s = cJSON_IsString(inits) ? parse_inits(&ld, inits->valuestring, net)
                                  : fnn_fail(err, FNN_ERR_FORMAT,
                                             "%s: metadata \"init\" is "
                                             "missing", path);
    }
    if (s != FNN_OK) {
        fnn_net_free(net);
        net = NULL;
    }
    fnn_set_status(status, s);
    return net;
}

fnn_net *fnn_model_load(const char *path, fnn_error *err,
                        fnn_status *status) {
    loader ld = {.path = path, .err = err};
    fnn_net *net = NULL;
    fnn_status s = FNN_OK;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    s = fnn_fail(err, FNN_ERR_UNSUPPORTED,
                 "model files are little-endian; this host is not");
#endif
    if (s == FNN_OK && !path) {
        s = fnn_fail(err, FNN_ERR_INVALID, "missing model path");
    }
    if (s == FNN_OK && !(ld.f = fopen(path, "rb"))) {
        s = fnn_fail(err, FNN_ERR_IO, "%s: cannot open: %s", path,
                     strerror(errno));
    }
    if (s == FNN_OK) {
        s = read_header(&ld);
    }
    int normalized = 0;
    if (s == FNN_OK) {
        net = fnn_model_net_from_metadata(path, ld.root, ld.data_len,
                                          &normalized, err, &s);
    }
    if (s == FNN_OK) {
        s = read_tensors(&ld, net, normalized);
    }
    if (s == FNN_OK) {
        s = copy_training(&ld, net);
    }
    if (ld.f) {
        fclose(ld.f);
    }
    cJSON_Delete(ld.root);
    if (s != FNN_OK) {
        fnn_net_free(net);
        net = NULL;
    }
    fnn_set_status(status, s);
    return net;
}
