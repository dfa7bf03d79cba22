// Parser for the header of a NumPy .npy file: the subset of Python literal
// syntax that numpy.lib.format writes (a dict of three keys whose values are
// strings, True or False, and tuples of integers).
#include "npy.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

// Maximum number of header characters quoted in a message.
#define NPY_QUOTE_MAX 24

typedef struct npy_parser {
    const char *path;
    const char *text; // header text, NUL-terminated
    size_t len;
    size_t pos;
    int64_t base; // file offset of text[0]
    fnn_error *err;
} npy_parser;

// Copies up to NPY_QUOTE_MAX characters from the parse position into buf,
// escaping what is not printable, or "end of header" at the end.
static void npy_quote(const npy_parser *p, char *buf, size_t size) {
    if (p->pos >= p->len) {
        snprintf(buf, size, "the end of the header");
        return;
    }
    size_t n = 0;
    buf[n++] = '"';
    for (size_t i = p->pos; i < p->len && i < p->pos + NPY_QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)p->text[i];
        if (n + 6 >= size) {
            break;
        }
        if (c >= 0x20 && c < 0x7F && c != '"') {
            buf[n++] = (char)c;
        } else {
            n += (size_t)snprintf(buf + n, size - n, "\\x%02X", c);
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
}

static fnn_status npy_syntax(const npy_parser *p, const char *expected) {
    char found[NPY_QUOTE_MAX * 4 + 8];
    npy_quote(p, found, sizeof found);
    return fnn_fail(p->err, FNN_ERR_FORMAT,
                    "%s: invalid .npy header at byte %lld: expected %s, found "
                    "%s: the file is not a NumPy array saved with np.save",
                    p->path, (long long)(p->base + (int64_t)p->pos), expected,
                    found);
}

static void npy_skip_space(npy_parser *p) {
    while (p->pos < p->len && (p->text[p->pos] == ' ' ||
                               p->text[p->pos] == '\t' ||
                               p->text[p->pos] == '\r' ||
                               p->text[p->pos] == '\n')) {
        p->pos++;
    }
}

static int npy_peek(const npy_parser *p) {
    return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1;
}

// Accepts the character c, after optional spaces.
static int npy_accept(npy_parser *p, char c) {
    npy_skip_space(p);
    if (npy_peek(p) == (unsigned char)c) {
        p->pos++;
        return 1;
    }
    return 0;
}

// Parses a quoted string without escapes into out [size].
static fnn_status npy_parse_string(npy_parser *p, char *out, size_t size) {
    npy_skip_space(p);
    int quote = npy_peek(p);
    if (quote != '\'' && quote != '"') {
        return npy_syntax(p, "a quoted string");
    }
    size_t start = ++p->pos;
    while (p->pos < p->len && p->text[p->pos] != quote) {
        if (p->text[p->pos] == '\\' || p->text[p->pos] == '\n') {
            return npy_syntax(p, "a string without escapes or line breaks");
        }
        p->pos++;
    }
    if (p->pos >= p->len) {
        p->pos = start - 1;
        return npy_syntax(p, "a closing quote");
    }
    size_t n = p->pos - start;
    if (n >= size) {
        p->pos = start;
        return npy_syntax(p, "a string of at most 31 characters");
    }
    memcpy(out, p->text + start, n);
    out[n] = '\0';
    p->pos++;
    return FNN_OK;
}

static int npy_accept_word(npy_parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos >= n && strncmp(p->text + p->pos, word, n) == 0) {
        p->pos += n;
        return 1;
    }
    return 0;
}

static fnn_status npy_parse_bool(npy_parser *p, int *out) {
    npy_skip_space(p);
    if (npy_accept_word(p, "True")) {
        *out = 1;
    } else if (npy_accept_word(p, "False")) {
        *out = 0;
    } else {
        return npy_syntax(p, "True or False");
    }
    return FNN_OK;
}

// Parses a non-negative integer with an optional 'L' suffix, which headers
// written under Python 2 can contain (numpy.lib.format strips it too).
static fnn_status npy_parse_size(npy_parser *p, int64_t *out) {
    npy_skip_space(p);
    if (!isdigit(npy_peek(p))) {
        return npy_syntax(p, "a non-negative integer dimension");
    }
    size_t start = p->pos;
    int64_t v = 0;
    while (isdigit(npy_peek(p))) {
        int digit = p->text[p->pos] - '0';
        if (v > (INT64_MAX - digit) / 10) {
            p->pos = start;
            return npy_syntax(p, "a dimension below 2^63");
        }
        v = 10 * v + digit;
        p->pos++;
    }
    if (npy_peek(p) == 'L' || npy_peek(p) == 'l') {
        p->pos++;
    }
    *out = v;
    return FNN_OK;
}

// Parses a tuple of dimensions: "()", "(3,)", "(3, 4)", "(3, 4,)". A single
// dimension needs its comma, because "(3)" is the integer 3 in Python.
static fnn_status npy_parse_shape(npy_parser *p, fnn_npy_header *h) {
    if (!npy_accept(p, '(')) {
        return npy_syntax(p, "a shape tuple such as (3, 4)");
    }
    h->ndim = 0;
    while (!npy_accept(p, ')')) {
        if (h->ndim == FNN_NPY_MAX_DIMS) {
            return npy_syntax(p, "at most 32 dimensions");
        }
        fnn_status s = npy_parse_size(p, &h->shape[h->ndim]);
        if (s != FNN_OK) {
            return s;
        }
        h->ndim++;
        if (npy_accept(p, ')')) {
            if (h->ndim == 1) {
                p->pos--;
                return npy_syntax(p, "a comma after the only dimension");
            }
            break;
        }
        if (!npy_accept(p, ',')) {
            return npy_syntax(p, "',' or ')' in the shape");
        }
    }
    return FNN_OK;
}

static int npy_host_big_endian(void) {
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 0;
}

static fnn_status npy_unsupported_dtype(const npy_parser *p,
                                        const char *descr,
                                        const char *what) {
    return fnn_fail(p->err, FNN_ERR_UNSUPPORTED,
                    "%s: unsupported dtype '%s' in the .npy header%s: "
                    "expected float32 or float64 ('<f4', '>f4', '<f8', "
                    "'>f8'), a signed or unsigned integer of 1 to 8 bytes "
                    "('|u1', '<i4', '>i8', ...) or bool ('|b1'): convert "
                    "with a.astype(np.float32) before np.save",
                    p->path, descr, what);
}

// Sets kind, itemsize and byte order from a dtype string such as "<f8".
static fnn_status npy_parse_dtype(const npy_parser *p, fnn_npy_header *h) {
    const char *d = h->descr;
    char order = '=';
    if (*d && strchr("<>|=", *d)) {
        order = *d++;
    }
    if (d[0] == 'O') {
        return npy_unsupported_dtype(p, h->descr, " (Python objects)");
    }
    char kind = d[0];
    int size = 0;
    if (kind == '?' && d[1] == '\0') {
        kind = 'b';
        size = 1;
    } else if (kind && d[1] >= '1' && d[1] <= '8' && d[2] == '\0') {
        size = d[1] - '0';
    }
    int ok = (kind == 'f' && (size == 4 || size == 8)) ||
             ((kind == 'i' || kind == 'u') &&
              (size == 1 || size == 2 || size == 4 || size == 8)) ||
             (kind == 'b' && size == 1);
    if (!ok) {
        return npy_unsupported_dtype(p, h->descr, "");
    }
    if (order == '|' && size > 1) {
        return fnn_fail(p->err, FNN_ERR_FORMAT,
                        "%s: invalid dtype '%s' in the .npy header: a "
                        "%d-byte type needs the byte order '<' or '>'",
                        p->path, h->descr, size);
    }
    h->kind = kind;
    h->itemsize = size;
    h->big_endian = order == '>' || (order == '=' && npy_host_big_endian());
    return FNN_OK;
}

static fnn_status npy_parse_descr(npy_parser *p, fnn_npy_header *h) {
    npy_skip_space(p);
    if (npy_peek(p) == '[') {
        return fnn_fail(p->err, FNN_ERR_UNSUPPORTED,
                        "%s: unsupported structured dtype (a list of fields) "
                        "at byte %lld of the .npy header: save one plain "
                        "numeric array per file",
                        p->path, (long long)(p->base + (int64_t)p->pos));
    }
    fnn_status s = npy_parse_string(p, h->descr, sizeof h->descr);
    return s == FNN_OK ? npy_parse_dtype(p, h) : s;
}

enum { NPY_KEY_DESCR = 1, NPY_KEY_FORTRAN = 2, NPY_KEY_SHAPE = 4 };

static fnn_status npy_parse_entry(npy_parser *p, fnn_npy_header *h,
                                  int *seen) {
    size_t key_pos = p->pos;
    char key[32];
    fnn_status s = npy_parse_string(p, key, sizeof key);
    if (s != FNN_OK) {
        return s;
    }
    int bit = strcmp(key, "descr") == 0           ? NPY_KEY_DESCR
              : strcmp(key, "fortran_order") == 0 ? NPY_KEY_FORTRAN
              : strcmp(key, "shape") == 0         ? NPY_KEY_SHAPE
                                                  : 0;
    if (bit == 0 || (*seen & bit)) {
        p->pos = key_pos;
        npy_skip_space(p);
        return npy_syntax(p, bit ? "each key once"
                                 : "the key 'descr', 'fortran_order' or "
                                   "'shape'");
    }
    *seen |= bit;
    if (!npy_accept(p, ':')) {
        return npy_syntax(p, "':' after the key");
    }
    if (bit == NPY_KEY_DESCR) {
        return npy_parse_descr(p, h);
    }
    if (bit == NPY_KEY_FORTRAN) {
        return npy_parse_bool(p, &h->fortran_order);
    }
    return npy_parse_shape(p, h);
}

static fnn_status npy_parse_dict(npy_parser *p, fnn_npy_header *h) {
    int seen = 0;
    if (!npy_accept(p, '{')) {
        return npy_syntax(p, "'{' opening the header dict");
    }
    while (!npy_accept(p, '}')) {
        fnn_status s = npy_parse_entry(p, h, &seen);
        if (s != FNN_OK) {
            return s;
        }
        if (npy_accept(p, '}')) {
            break;
        }
        if (!npy_accept(p, ',')) {
            return npy_syntax(p, "',' or '}' after a value");
        }
    }
    if (seen != (NPY_KEY_DESCR | NPY_KEY_FORTRAN | NPY_KEY_SHAPE)) {
        return npy_syntax(p, !(seen & NPY_KEY_DESCR)     ? "the key 'descr'"
                             : !(seen & NPY_KEY_FORTRAN) ? "the key "
                                                           "'fortran_order'"
                                                         : "the key 'shape'");
    }
    npy_skip_space(p);
    if (p->pos != p->len) {
        return npy_syntax(p, "only spaces after the header dict");
    }
    return FNN_OK;
}

// Sets count from the shape, rejecting a byte size that does not fit.
static fnn_status npy_check_size(const char *path, fnn_npy_header *h,
                                 fnn_error *err) {
    int64_t count = 1;
    int64_t bytes = 0;
    int ok = 1;
    for (int d = 0; d < h->ndim && ok; d++) {
        ok = fnn_mul_size(count, h->shape[d], &count);
    }
    ok = ok && fnn_mul_size(count, h->itemsize, &bytes) &&
         bytes <= INT64_MAX - h->data_offset &&
         (uint64_t)bytes <= (uint64_t)SIZE_MAX;
    if (!ok) {
        char shape[FNN_NPY_MAX_DIMS * 22 + 4];
        fnn_npy_format_shape(h->shape, h->ndim, shape, sizeof shape);
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: shape %s of '%s' in the .npy header is too large "
                        "for this machine's address space",
                        path, shape, h->descr);
    }
    h->count = count;
    return FNN_OK;
}

static fnn_status npy_read_exact(FILE *f, const char *path, void *buf,
                                 size_t n, int64_t at, const char *what,
                                 fnn_error *err) {
    size_t got = fread(buf, 1, n, f);
    if (got == n) {
        return FNN_OK;
    }
    if (ferror(f)) {
        return fnn_fail(err, FNN_ERR_IO, "%s: read failed at byte %lld: %s",
                        path, (long long)at + (long long)got,
                        strerror(errno));
    }
    return fnn_fail(err, FNN_ERR_FORMAT,
                    "%s: file is truncated: it ends at byte %lld, inside the "
                    "%s, which needs %lld bytes from byte %lld",
                    path, (long long)at + (long long)got, what, (long long)n,
                    (long long)at);
}

// Reads the magic, the version and the header length.
static fnn_status npy_read_prefix(FILE *f, const char *path, fnn_npy_header *h,
                                  uint32_t *header_len, fnn_error *err) {
    unsigned char b[12];
    fnn_status s = npy_read_exact(f, path, b, 8, 0, "magic and version", err);
    if (s != FNN_OK) {
        return s;
    }
    if (memcmp(b, FNN_NPY_MAGIC, FNN_NPY_MAGIC_SIZE) != 0) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: invalid .npy magic at byte 0: expected "
                        "\"\\x93NUMPY\": the file is not a NumPy array saved "
                        "with np.save",
                        path);
    }
    h->major = b[6];
    h->minor = b[7];
    if ((h->major < 1 || h->major > 3) || h->minor != 0) {
        return fnn_fail(err, FNN_ERR_UNSUPPORTED,
                        "%s: unsupported .npy format version %d.%d at byte 6: "
                        "versions 1.0, 2.0 and 3.0 are supported",
                        path, h->major, h->minor);
    }
    int n_len = h->major == 1 ? 2 : 4;
    s = npy_read_exact(f, path, b + 8, (size_t)n_len, 8, "header length",
                       err);
    if (s != FNN_OK) {
        return s;
    }
    *header_len = (uint32_t)b[8] | (uint32_t)b[9] << 8;
    if (n_len == 4) {
        *header_len |= (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    }
    h->data_offset = 8 + n_len + (int64_t)*header_len;
    if (*header_len == 0 || *header_len > FNN_NPY_MAX_HEADER) {
        return fnn_fail(err, FNN_ERR_FORMAT,
                        "%s: invalid .npy header length %lu at byte 8: "
                        "expected 1 to %d bytes",
                        path, (unsigned long)*header_len, FNN_NPY_MAX_HEADER);
    }
    return FNN_OK;
}

fnn_status fnn_npy_read_header(FILE *f, const char *path, fnn_npy_header *h,
                               fnn_error *err) {
    memset(h, 0, sizeof *h);
    uint32_t len = 0;
    fnn_status s = npy_read_prefix(f, path, h, &len, err);
    if (s != FNN_OK) {
        return s;
    }
    int64_t base = h->data_offset - len;
    char *text = malloc((size_t)len + 1);
    if (!text) {
        return fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", path);
    }
    s = npy_read_exact(f, path, text, len, base, "header", err);
    if (s == FNN_OK) {
        text[len] = '\0';
        npy_parser p = {path, text, len, 0, base, err};
        const char *nul = memchr(text, '\0', len);
        if (nul) {
            p.pos = (size_t)(nul - text);
            s = npy_syntax(&p, "header text without NUL bytes");
        } else {
            s = npy_parse_dict(&p, h);
        }
    }
    free(text);
    return s == FNN_OK ? npy_check_size(path, h, err) : s;
}

void fnn_npy_format_shape(const int64_t *shape, int ndim, char *buf,
                          size_t size) {
    size_t n = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < ndim && n < size; d++) {
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? ", " : "",
                              (long long)shape[d]);
    }
    if (n < size) {
        snprintf(buf + n, size - n, ndim == 1 ? ",)" : ")");
    }
}
