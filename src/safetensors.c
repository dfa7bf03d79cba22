// Generic safetensors reading and writing; see safetensors.h. Every number
// in a header comes from an untrusted file, so each one is range-checked and
// every product is overflow-checked before it is used.
#include "safetensors.h"

#include "model.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

typedef struct st_dtype {
    const char *name;
    int elem;
} st_dtype;

// The dtypes of the safetensors format.
static const st_dtype ST_DTYPES[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
    {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U64", 8},  {"U32", 4},
    {"U16", 2}, {"U8", 1},  {"BOOL", 1},
};

static const st_dtype *st_find_dtype(const char *name) {
    for (size_t i = 0; i < sizeof ST_DTYPES / sizeof ST_DTYPES[0]; i++) {
        if (strcmp(ST_DTYPES[i].name, name) == 0) {
            return &ST_DTYPES[i];
        }
    }
    return NULL;
}

// Reads a JSON number that must be an integer in [0, 2^53], the range in
// which a JSON double represents every integer exactly.
static int st_json_int(const cJSON *v, int64_t *out) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
        v->valuedouble > 9007199254740992.0 ||
        v->valuedouble != floor(v->valuedouble)) {
        return 0;
    }
    *out = (int64_t)v->valuedouble;
    return 1;
}

// Requires every number in the header JSON to be an integer token (no
// fraction, no exponent): the only numbers in a safetensors header are
// shape entries and data_offsets. cJSON keeps no token text, so this scans
// the raw text, skipping strings. `key` tracks the last string before a
// colon, which names the field in the message.
static fnn_status st_check_numbers(const char *path, const char *json,
                                   size_t n, fnn_error *err) {
    const char *key = "";
    size_t key_len = 0;
    const char *str = NULL;
    size_t str_len = 0;
    for (size_t i = 0; i < n; i++) {
        char c = json[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < n && json[j] != '"') {
                j += json[j] == '\\' ? 2 : 1;
            }
            str = json + i + 1;
            str_len = j < n ? j - i - 1 : n - i - 1;
            i = j;
        } else if (c == ':') {
            key = str ? str : "";
            key_len = str ? str_len : 0;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            while (j < n && strchr("+-0123456789.eE", json[j])) {
                j++;
            }
            if (memchr(json + i, '.', j - i) || memchr(json + i, 'e', j - i) ||
                memchr(json + i, 'E', j - i)) {
                return fnn_fail(err, FNN_ERR_FORMAT,
                                "%s: header byte %zu: \"%.*s\" contains the "
                                "number %.*s: expected a JSON integer (no "
                                "fraction or exponent)",
                                path, 8 + i, (int)(key_len < 40 ? key_len
                                                                   : 40),
                                key, (int)(j - i < 40 ? j - i : 40), json + i);
            }
            i = j - 1;
        }
    }
    return FNN_OK;
}

static int st_name_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// Rejects an object, at any depth, that repeats a key: cJSON keeps both and
// its lookups return the first, so a second value would be ignored.
static fnn_status st_check_duplicates(const char *path, const cJSON *v,
                                      fnn_error *err) {
    int n = 0;
    for (const cJSON *c = v ? v->child : NULL; c; c = c->next) {
        n++;
    }
    if (n == 0) {
        return FNN_OK;
    }
    fnn_status s = FNN_OK;
    if (cJSON_IsObject(v)) {
        const char **names = malloc((size_t)n * sizeof *names);
        if (!names) {
            return fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory",
                            path);
        }
        int i = 0;
        for (const cJSON *c = v->child; c; c = c->next) {
            names[i++] = c->string ? c->string : "";
        }
        qsort(names, (size_t)n, sizeof *names, st_name_cmp);
        for (i = 1; s == FNN_OK && i < n; i++) {
            if (strcmp(names[i - 1], names[i]) == 0) {
                s = fnn_fail(err, FNN_ERR_FORMAT,
                             "%s: duplicate key \"%.60s\" in %s%.60s%s",
                             path, names[i],
                             v->string ? "\"" : "the header",
                             v->string ? v->string : "",
                             v->string ? "\"" : "");
            }
        }
        free(names);
    }
    for (const cJSON *c = v->child; s == FNN_OK && c; c = c->next) {
        s = st_check_duplicates(path, c, err);
    }
    return s;
}

fnn_status fnn_st_parse_header(const char *path, const char *json, size_t n,
                               cJSON **root, fnn_error *err) {
    *root = NULL;
    fnn_status s = st_check_numbers(path, json, n, err);
    const char *end = json;
    if (s == FNN_OK) {
        *root = cJSON_ParseWithLengthOpts(json, n, &end, 0);
    }
    if (s == FNN_OK && !cJSON_IsObject(*root)) {
        s = fnn_fail(err, FNN_ERR_FORMAT,
                     "%s: the %llu-byte header is not a JSON object",
                     path, (unsigned long long)n);
    }
    size_t at = (size_t)(end - json);
    while (s == FNN_OK && at < n && json[at] == ' ') {
        at++;
    }
    if (s == FNN_OK && at < n) {
        // The header is padded with spaces only, so any other byte after
        // the JSON object is damage.
        s = fnn_fail(err, FNN_ERR_FORMAT,
                     "%s: unexpected byte 0x%02x at byte %zu after the header "
                     "JSON: only spaces may pad the header",
                     path, (unsigned char)json[at], 8 + at);
    }
    if (s == FNN_OK) {
        s = st_check_duplicates(path, *root, err);
    }
    return s;
}

static fnn_status st_read_json(fnn_st_file *st, fnn_error *err) {
    struct stat sb;
    unsigned char b[8];
    if (fstat(fileno(st->f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        return fnn_fail(err, FNN_ERR_IO, "%s: not a regular file", st->path);
    }
    if (fread(b, 1, 8, st->f) != 8) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: %lld bytes is too short for a safetensors file",
                        st->path, (long long)sb.st_size);
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) {
        n = (n << 8) | b[i];
    }
    if (n < 2 || n > FNN_MODEL_MAX_HEADER || n > (uint64_t)sb.st_size - 8) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: header length %llu at byte 0 exceeds the %lld "
                        "bytes after it (or the %d-byte limit)",
                        st->path, (unsigned long long)n,
                        (long long)sb.st_size - 8, FNN_MODEL_MAX_HEADER);
    }
    char *json = malloc((size_t)n);
    if (!json) {
        return fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", st->path);
    }
    if (fread(json, 1, (size_t)n, st->f) != (size_t)n) {
        free(json);
        return fnn_fail(err, FNN_ERR_IO, "%s: cannot read the header",
                        st->path);
    }
    st->header = json;
    st->header_len = (int64_t)n;
    fnn_status s = fnn_st_parse_header(st->path, json, (size_t)n, &st->root,
                                       err);
    if (s != FNN_OK) {
        return s;
    }
    st->data_start = 8 + (int64_t)n;
    st->data_len = (int64_t)sb.st_size - st->data_start;
    return FNN_OK;
}

static fnn_status st_check_meta(fnn_st_file *st, const cJSON *meta,
                                fnn_error *err) {
    if (!cJSON_IsObject(meta)) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: __metadata__ is not a JSON object", st->path);
    }
    for (const cJSON *v = meta->child; v; v = v->next) {
        if (!cJSON_IsString(v)) {
            return fnn_fail(err, FNN_ERR_FORMAT,
                            "%s: metadata \"%.40s\" is not a string",
                            st->path, v->string);
        }
    }
    st->meta = meta;
    return FNN_OK;
}

static fnn_status st_parse_shape(const fnn_st_file *st, const cJSON *sh,
                                 fnn_st_tensor *t, fnn_error *err) {
    int rank = cJSON_IsArray(sh) ? cJSON_GetArraySize(sh) : -1;
    if (rank < 0 || rank > FNN_ST_MAX_RANK) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: tensor \"%.60s\" has no shape list of at most %d "
                        "sizes",
                        st->path, t->name, FNN_ST_MAX_RANK);
    }
    t->rank = rank;
    t->count = 1;
    for (int i = 0; i < rank; i++) {
        const cJSON *v = cJSON_GetArrayItem(sh, i);
        if (!st_json_int(v, &t->shape[i])) {
            return fnn_fail(err, FNN_ERR_FORMAT,
                            "%s: tensor \"%.60s\" shape entry %d is %g: "
                            "expected a non-negative integer",
                            st->path, t->name, i,
                            cJSON_IsNumber(v) ? v->valuedouble : NAN);
        }
        if (!fnn_mul_size(t->count, t->shape[i], &t->count)) {
            return fnn_fail(err, FNN_ERR_FORMAT,
                            "%s: tensor \"%.60s\" shape overflows at entry "
                            "%d (%lld)",
                            st->path, t->name, i, (long long)t->shape[i]);
        }
    }
    return FNN_OK;
}

static fnn_status st_parse_offsets(const fnn_st_file *st, const cJSON *off,
                                   fnn_st_tensor *t, fnn_error *err) {
    int ok = cJSON_IsArray(off) && cJSON_GetArraySize(off) == 2 &&
             st_json_int(cJSON_GetArrayItem(off, 0), &t->begin) &&
             st_json_int(cJSON_GetArrayItem(off, 1), &t->end);
    if (!ok) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: tensor \"%.60s\" data_offsets is not a list of "
                        "two non-negative integers",
                        st->path, t->name);
    }
    if (t->end < t->begin) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: tensor \"%.60s\" has reversed data_offsets "
                        "[%lld, %lld]",
                        st->path, t->name, (long long)t->begin,
                        (long long)t->end);
    }
    if (t->end > st->data_len) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: tensor \"%.60s\" has data_offsets [%lld, %lld] "
                        "outside the %lld data bytes",
                        st->path, t->name, (long long)t->begin,
                        (long long)t->end, (long long)st->data_len);
    }
    int64_t bytes;
    if (!fnn_mul_size(t->count, t->elem, &bytes) ||
        bytes != t->end - t->begin) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: tensor \"%.60s\" spans %lld bytes, but %lld "
                        "elements of %s need %lld",
                        st->path, t->name, (long long)(t->end - t->begin),
                        (long long)t->count, t->dtype,
                        (long long)t->count * t->elem);
    }
    return FNN_OK;
}

static fnn_status st_parse_tensor(const fnn_st_file *st, const cJSON *v,
                                  fnn_st_tensor *t, fnn_error *err) {
    t->name = v->string;
    if (!cJSON_IsObject(v)) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: tensor \"%.60s\" is not a JSON object", st->path,
                        t->name);
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "dtype");
    const st_dtype *d = cJSON_IsString(dt) ? st_find_dtype(dt->valuestring)
                                           : NULL;
    if (!d) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: tensor \"%.60s\" has unknown dtype \"%.16s\"",
                        st->path, t->name,
                        cJSON_IsString(dt) ? dt->valuestring : "(none)");
    }
    t->dtype = d->name;
    t->elem = d->elem;
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(v, "shape");
    fnn_status s = st_parse_shape(st, sh, t, err);
    if (s != FNN_OK) {
        return s;
    }
    return st_parse_offsets(st, cJSON_GetObjectItemCaseSensitive(v, "data_offsets"),
                            t, err);
}

static int st_span_cmp(const void *a, const void *b) {
    const fnn_st_tensor *x = *(const fnn_st_tensor *const *)a;
    const fnn_st_tensor *y = *(const fnn_st_tensor *const *)b;
    if (x->begin != y->begin) {
        return x->begin < y->begin ? -1 : 1;
    }
    return (x->end > y->end) - (x->end < y->end);
}

// Requires the spans to tile [0, data_len) with no gap or overlap.
static fnn_status st_check_coverage(const fnn_st_file *st, fnn_error *err) {
    const fnn_st_tensor **order = malloc(((size_t)st->n_tensors + 1) *
                                         sizeof *order);
    if (!order) {
        return fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", st->path);
    }
    for (int i = 0; i < st->n_tensors; i++) {
        order[i] = &st->tensors[i];
    }
    qsort(order, (size_t)st->n_tensors, sizeof *order, st_span_cmp);
    fnn_status s = FNN_OK;
    int64_t at = 0;
    for (int i = 0; i < st->n_tensors && s == FNN_OK; i++) {
        if (order[i]->begin != at) {
            s = fnn_fail(err, FNN_ERR_FORMAT,
                         "%s: tensor \"%.60s\" starts at data byte %lld: "
                         "expected %lld (tensors %s)",
                         st->path, order[i]->name, (long long)order[i]->begin,
                         (long long)at,
                         order[i]->begin < at ? "overlap" : "leave a gap");
        }
        at = order[i]->end;
    }
    if (s == FNN_OK && at != st->data_len) {
        s = fnn_fail(err, FNN_ERR_FORMAT,
                     "%s: tensors cover %lld of the %lld data bytes",
                     st->path, (long long)at, (long long)st->data_len);
    }
    free(order);
    return s;
}

static fnn_status st_parse_entries(fnn_st_file *st, fnn_error *err) {
    int n = cJSON_GetArraySize(st->root);
    st->tensors = calloc((size_t)n + 1, sizeof *st->tensors);
    if (!st->tensors) {
        return fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", st->path);
    }
    fnn_status s = FNN_OK;
    for (const cJSON *v = st->root->child; v && s == FNN_OK; v = v->next) {
        if (strcmp(v->string, "__metadata__") == 0) {
            s = st->meta ? fnn_fail(err, FNN_ERR_FORMAT,
                                    "%s: __metadata__ appears twice",
                                    st->path)
                         : st_check_meta(st, v, err);
            continue;
        }
        if (fnn_st_find(st, v->string)) {
            return fnn_fail(err, FNN_ERR_FORMAT,
                            "%s: tensor \"%.60s\" appears twice", st->path,
                            v->string);
        }
        s = st_parse_tensor(st, v, &st->tensors[st->n_tensors], err);
        st->n_tensors += s == FNN_OK;
    }
    return s == FNN_OK ? st_check_coverage(st, err) : s;
}

fnn_status fnn_st_open(fnn_st_file *st, const char *path, fnn_error *err) {
    memset(st, 0, sizeof *st);
    st->path = path;
    fnn_status s = FNN_OK;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    s = fnn_fail(err, FNN_ERR_UNSUPPORTED,
                 "safetensors files are little-endian; this host is not");
#endif
    if (s == FNN_OK && !path) {
        s = fnn_fail(err, FNN_ERR_INVALID, "missing safetensors path");
    }
    if (s == FNN_OK && !(st->f = fopen(path, "rb"))) {
        s = fnn_fail(err, FNN_ERR_IO, "%s: cannot open: %s", path,
                     strerror(errno));
    }
    if (s == FNN_OK) {
        s = st_read_json(st, err);
    }
    if (s == FNN_OK) {
        s = st_parse_entries(st, err);
    }
    if (s != FNN_OK) {
        fnn_st_close(st);
    }
    return s;
}

void fnn_st_close(fnn_st_file *st) {
    if (st->f) {
        fclose(st->f);
    }
    cJSON_Delete(st->root);
    free(st->header);
    free(st->tensors);
    memset(st, 0, sizeof *st);
}

const fnn_st_tensor *fnn_st_find(const fnn_st_file *st, const char *name) {
    for (int i = 0; i < st->n_tensors; i++) {
        if (strcmp(st->tensors[i].name, name) == 0) {
            return &st->tensors[i];
        }
    }
    return NULL;
}

fnn_status fnn_st_expect(const fnn_st_file *st, const char *name,
                         const char *dtype, int rank, const int64_t *shape,
                         const fnn_st_tensor **out, fnn_error *err) {
    const fnn_st_tensor *t = fnn_st_find(st, name);
    if (!t) {
        return fnn_fail(err, FNN_ERR_FORMAT, "%s: tensor \"%s\" is missing",
                        st->path, name);
    }
    if (strcmp(t->dtype, dtype) != 0) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: tensor \"%s\" has dtype %s: expected %s",
                        st->path, name, t->dtype, dtype);
    }
    int ok = t->rank == rank;
    for (int i = 0; ok && i < rank; i++) {
        ok = t->shape[i] == shape[i];
    }
    if (!ok) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: tensor \"%s\" has rank %d and %lld elements: "
                        "expected shape [%lld%s%lld]",
                        st->path, name, t->rank, (long long)t->count,
                        (long long)shape[0], rank > 1 ? ", " : "",
                        rank > 1 ? (long long)shape[1] : 0LL);
    }
    *out = t;
    return FNN_OK;
}

fnn_status fnn_st_read(const fnn_st_file *st, const fnn_st_tensor *t,
                       void *dst, fnn_error *err) {
    size_t n = (size_t)(t->end - t->begin);
    if (fseeko(st->f, (off_t)(st->data_start + t->begin), SEEK_SET) != 0 ||
        (n > 0 && fread(dst, 1, n, st->f) != n)) {
        return fnn_fail(err, FNN_ERR_IO, "%s: cannot read tensor \"%s\"",
                        st->path, t->name);
    }
    return FNN_OK;
}

const char *fnn_st_meta(const fnn_st_file *st, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st->meta, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int st_add_entry(cJSON *root, const fnn_st_entry *e, int64_t at) {
    cJSON *t = cJSON_CreateObject();
    cJSON *shape = cJSON_CreateArray();
    cJSON *off = cJSON_CreateArray();
    int ok = t && shape && off;
    for (int i = 0; ok && i < e->rank; i++) {
        ok = cJSON_AddItemToArray(shape,
                                  cJSON_CreateNumber((double)e->shape[i]));
    }
    ok = ok && cJSON_AddItemToArray(off, cJSON_CreateNumber((double)at)) &&
         cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(at + e->bytes)));
    ok = ok && cJSON_AddStringToObject(t, "dtype", e->dtype) != NULL;
    if (!ok) {
        cJSON_Delete(t);
        cJSON_Delete(shape);
        cJSON_Delete(off);
        return 0;
    }
    cJSON_AddItemToObject(t, "shape", shape);
    cJSON_AddItemToObject(t, "data_offsets", off);
    return cJSON_AddItemToObject(root, e->name, t);
}

// Builds the header, padded with spaces to a multiple of 8 bytes.
char *fnn_st_pad_header(char *json, size_t *len) {
    if (!json) {
        return NULL;
    }
    size_t used = strlen(json);
    size_t padded = (used + 7) / 8 * 8;
    char *out = realloc(json, padded + 1);
    if (!out) {
        free(json);
        return NULL;
    }
    memset(out + used, ' ', padded - used);
    out[padded] = '\0';
    *len = padded;
    return out;
}

static char *st_build_header(const cJSON *meta, const fnn_st_entry *entries,
                             int n, size_t *len) {
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && meta) {
        cJSON *copy = cJSON_Duplicate(meta, 1);
        ok = copy && cJSON_AddItemToObject(root, "__metadata__", copy);
    }
    int64_t at = 0;
    for (int i = 0; ok && i < n; i++) {
        ok = st_add_entry(root, &entries[i], at);
        at += entries[i].bytes;
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return fnn_st_pad_header(json, len);
}

// Writes the 8-byte little-endian header length that starts a file.
static void st_length_le(uint64_t n, unsigned char out[8]) {
    for (int i = 0; i < 8; i++) {
        out[i] = (unsigned char)(n >> (8 * i));
    }
}

typedef struct st_body {
    const char *header;
    size_t header_len;
    const fnn_st_entry *entries;
    int n;
} st_body;

static int st_write_body(FILE *f, void *ctx) {
    const st_body *b = ctx;
    unsigned char len_le[8];
    st_length_le(b->header_len, len_le);
    int ok = fwrite(len_le, 1, 8, f) == 8 &&
             fwrite(b->header, 1, b->header_len, f) == b->header_len;
    for (int i = 0; ok && i < b->n; i++) {
        size_t bytes = (size_t)b->entries[i].bytes;
        ok = bytes == 0 || fwrite(b->entries[i].data, 1, bytes, f) == bytes;
    }
    return ok;
}

// The 8 digits a checksum is computed with, and the width of its value.
#define ST_CRC_ZEROS "00000000"
#define ST_CRC_DIGITS 8

// Returns the first digit of metadata `key`'s string value "v..." in the
// header text, or NULL. A key inside another string value is escaped
// (\"key\"), so it cannot match the quoted pattern.
static char *st_find_value(const char *header, size_t len, const char *key,
                           const char *value) {
    char pattern[96];
    int n = snprintf(pattern, sizeof pattern, "\"%s\":\"%s\"", key, value);
    if (n < 0 || (size_t)n >= sizeof pattern) {
        return NULL;
    }
    // memmem is not in POSIX, so this scans with memcmp.
    for (size_t i = 0; i + (size_t)n <= len; i++) {
        if (header[i] == '"' && memcmp(header + i, pattern, (size_t)n) == 0) {
            return (char *)header + i + strlen(key) + 4;
        }
    }
    return NULL;
}

// Writes the file's CRC-32 over the zero digits of checksum_key's value.
static int st_stamp_checksum(char *header, size_t header_len,
                             const char *key, const fnn_st_entry *entries,
                             int n) {
    char *digits = st_find_value(header, header_len, key, ST_CRC_ZEROS);
    if (!digits) {
        return 0;
    }
    unsigned char len_le[8];
    st_length_le(header_len, len_le);
    uLong crc = crc32_z(0, len_le, 8);
    crc = crc32_z(crc, (const unsigned char *)header, (z_size_t)header_len);
    for (int i = 0; i < n; i++) {
        crc = crc32_z(crc, entries[i].data, (z_size_t)entries[i].bytes);
    }
    char text[ST_CRC_DIGITS + 1];
    snprintf(text, sizeof text, "%08lx", crc & 0xffffffffUL);
    memcpy(digits, text, ST_CRC_DIGITS);
    return 1;
}

fnn_status fnn_st_write(const char *path, const cJSON *meta,
                        const fnn_st_entry *entries, int n,
                        const char *checksum_key, fnn_error *err) {
    cJSON *stamped = NULL;
    if (checksum_key) {
        stamped = meta ? cJSON_Duplicate(meta, 1) : cJSON_CreateObject();
        if (!stamped ||
            !cJSON_AddStringToObject(stamped, checksum_key, ST_CRC_ZEROS)) {
            cJSON_Delete(stamped);
            return fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", path);
        }
        meta = stamped;
    }
    size_t header_len = 0;
    char *header = st_build_header(meta, entries, n, &header_len);
    cJSON_Delete(stamped);
    if (!header || (checksum_key && !st_stamp_checksum(header, header_len,
                                                       checksum_key, entries,
                                                       n))) {
        free(header);
        return fnn_fail(err, FNN_ERR_NOMEM, "%s: cannot build the header",
                        path);
    }
    st_body body = {header, header_len, entries, n};
    fnn_status s = fnn_atomic_write(path, st_write_body, &body, err);
    free(header);
    return s;
}

fnn_status fnn_st_verify_checksum(const fnn_st_file *st, const char *key,
                                  fnn_error *err) {
    const char *value = fnn_st_meta(st, key);
    if (!value) {
        return FNN_OK;
    }
    char *digits = NULL;
    if (strlen(value) == ST_CRC_DIGITS &&
        strspn(value, "0123456789abcdef") == ST_CRC_DIGITS) {
        digits = st_find_value(st->header, (size_t)st->header_len, key,
                               value);
    }
    if (!digits) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: metadata \"%s\" is \"%.20s\": expected 8 "
                        "lowercase hex digits",
                        st->path, key, value);
    }
    uint32_t want = (uint32_t)strtoul(value, NULL, 16);
    // The CRC runs over the file as written: the length, the header with
    // the digits zeroed, then the data.
    unsigned char len_le[8];
    st_length_le((uint64_t)st->header_len, len_le);
    uLong crc = crc32_z(0, len_le, 8);
    size_t at = (size_t)(digits - st->header);
    crc = crc32_z(crc, (const unsigned char *)st->header, (z_size_t)at);
    crc = crc32_z(crc, (const unsigned char *)ST_CRC_ZEROS, ST_CRC_DIGITS);
    crc = crc32_z(crc, (const unsigned char *)digits + ST_CRC_DIGITS,
                  (z_size_t)((size_t)st->header_len - at - ST_CRC_DIGITS));
    unsigned char buf[1 << 16];
    int64_t left = st->data_len;
    if (fseeko(st->f, (off_t)st->data_start, SEEK_SET) != 0) {
        left = -1;
    }
    while (left > 0) {
        size_t chunk = left < (int64_t)sizeof buf ? (size_t)left : sizeof buf;
        if (fread(buf, 1, chunk, st->f) != chunk) {
            break;
        }
        crc = crc32_z(crc, buf, (z_size_t)chunk);
        left -= (int64_t)chunk;
    }
    if (left != 0) {
        return fnn_fail(err, FNN_ERR_IO, "%s: cannot read the tensor data",
                        st->path);
    }
    if ((uint32_t)crc != want) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: the file's CRC-32 is %08x, but its metadata "
                        "records %08x: the file is damaged",
                        st->path, (unsigned)crc, (unsigned)want);
    }
    return FNN_OK;
}
