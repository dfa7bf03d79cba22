// Reader for numeric comma-separated files, plain or gzip-compressed (zlib
// reads both). One pass over the lines: after opts->skip_rows lines, the first
// non-blank row fixes the column count and may be a header, every other
// non-blank row is data. Fields may be surrounded by spaces or tabs and may be
// quoted ("a ""b"" c"), but a quoted field cannot span lines. Line numbers in
// messages count physical lines from 1, blank lines included.
#include "internal.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>

// Labels are class indices only below 2^24, because from there on float32
// cannot hold every integer, so an integral value no longer marks a class.
#define CSV_MAX_CLASS_LABEL 16777215.0f
// Rows allocated by the first growth step. Later steps double the capacity.
#define CSV_FIRST_ROWS 64
// Maximum number of characters of a field or name quoted in a message.
#define CSV_QUOTE_MAX 60

typedef struct csv_reader {
    const char *path;
    const fnn_csv_options *opts;
    fnn_error *err;
    int64_t line_no;    // physical line being parsed, from 1
    int64_t first_line; // line of the first non-blank row
    char **fields;      // [n_fields] of the current line, in the line buffer
    int n_fields;
    int fields_cap;
    int n_cols;      // fields per row; 0 until the first row is read
    int label_col;   // 0-based, or -1 when the file has no label column
    char **names;    // [n_cols] header names, or NULL without a header
    float *features; // [cap_rows, n_cols - 1]
    float *labels;   // [cap_rows]
    int64_t n_rows;
    int64_t cap_rows;
} csv_reader;

static int csv_feature_count(const csv_reader *r) {
    return r->label_col >= 0 ? r->n_cols - 1 : r->n_cols;
}

static fnn_status csv_nomem(const csv_reader *r) {
    return fnn_fail(r->err, FNN_ERR_NOMEM, "%s: out of memory at line %lld",
                    r->path, (long long)r->line_no);
}

static int csv_is_blank(char c) {
    return c == ' ' || c == '\t';
}

static fnn_status csv_push_field(csv_reader *r, char *field) {
    if (r->n_fields == r->fields_cap) {
        if (r->fields_cap > INT_MAX / 2) {
            return fnn_fail(r->err, FNN_ERR_FORMAT,
                            "%s: line %lld has more than %d fields", r->path,
                            (long long)r->line_no, r->fields_cap);
        }
        int cap = r->fields_cap ? 2 * r->fields_cap : 16;
        char **grown = realloc(r->fields, (size_t)cap * sizeof *grown);
        if (!grown) {
            return csv_nomem(r);
        }
        r->fields = grown;
        r->fields_cap = cap;
    }
    r->fields[r->n_fields++] = field;
    return FNN_OK;
}

// Removes the quotes of the field starting at *pos (on the opening quote),
// writing the content from *pos onwards. On return *pos is on the separator
// after the field and *end just past its content.
static fnn_status csv_unquote(const csv_reader *r, char **pos, char **end) {
    char *dst = *pos;
    char *src = *pos + 1;
    int column = r->n_fields + 1;
    for (;;) {
        if (*src == '\0') {
            return fnn_fail(r->err, FNN_ERR_FORMAT,
                            "%s: line %lld, column %d: unterminated quoted "
                            "field: add the closing quote (a field cannot "
                            "span lines)",
                            r->path, (long long)r->line_no, column);
        }
        if (src[0] == '"' && src[1] == '"') {
            *dst++ = '"';
            src += 2;
        } else if (src[0] == '"') {
            src++;
            break;
        } else {
            *dst++ = *src++;
        }
    }
    *end = dst;
    while (csv_is_blank(*src)) {
        src++;
    }
    if (*src != ',' && *src != '\0') {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: line %lld, column %d: unexpected character '%c' "
                        "after a closing quote: expected a comma",
                        r->path, (long long)r->line_no, column, *src);
    }
    *pos = src;
    return FNN_OK;
}

// Splits a line into r->fields in place: each field is trimmed of spaces and
// tabs, unquoted, and terminated by NUL.
static fnn_status csv_split(csv_reader *r, char *line) {
    r->n_fields = 0;
    char *p = line;
    for (;;) {
        while (csv_is_blank(*p)) {
            p++;
        }
        char *field = p;
        char *end = NULL;
        if (*p == '"') {
            fnn_status s = csv_unquote(r, &p, &end);
            if (s != FNN_OK) {
                return s;
            }
        } else {
            p += strcspn(p, ",");
            end = p;
            while (end > field && csv_is_blank(end[-1])) {
                end--;
            }
        }
        char separator = *p;
        *end = '\0';
        fnn_status s = csv_push_field(r, field);
        if (s != FNN_OK || separator == '\0') {
            return s;
        }
        p++;
    }
}

// Formats "column 3" or, with a header, `column 3 ("alcohol")`.
static void csv_format_column(const csv_reader *r, int col, char *buf,
                              size_t size) {
    if (r->names) {
        snprintf(buf, size, "column %d (\"%.*s\")", col + 1, CSV_QUOTE_MAX,
                 r->names[col]);
    } else {
        snprintf(buf, size, "column %d", col + 1);
    }
}

// Copies up to CSV_QUOTE_MAX bytes of field into buf [4 CSV_QUOTE_MAX + 4]
// for a message, writing bytes outside printable ASCII as \xNN so that a
// control byte shows, and "..." when the field is longer.
static void csv_escape(const char *field, char *buf) {
    size_t n = 0;
    size_t i = 0;
    for (; field[i] != '\0' && i < CSV_QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)field[i];
        if (c >= 0x20 && c < 0x7f) {
            buf[n++] = (char)c;
        } else {
            n += (size_t)sprintf(buf + n, "\\x%02X", c);
        }
    }
    strcpy(buf + n, field[i] != '\0' ? "..." : "");
}

static fnn_status csv_field_error(const csv_reader *r, int col,
                                  const char *problem, const char *expected) {
    char column[CSV_QUOTE_MAX + 32];
    csv_format_column(r, col, column, sizeof column);
    const char *field = r->fields[col];
    if (*field == '\0') {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: line %lld, %s: empty field: expected %s", r->path,
                        (long long)r->line_no, column, expected);
    }
    char quoted[4 * CSV_QUOTE_MAX + 4];
    csv_escape(field, quoted);
    return fnn_fail(r->err, FNN_ERR_FORMAT,
                    "%s: line %lld, %s: %s \"%s\": expected %s", r->path,
                    (long long)r->line_no, column, problem, quoted, expected);
}

// Returns 1 when the whole field parses as a decimal number, which goes to
// *out. strtod also reads hexadecimal floats ("0x1p3"), which are rejected
// here so that messages can promise a decimal value.
// NOTE: strtod follows the C locale's decimal point. The library never calls
// setlocale, but a host program that sets a comma locale breaks parsing.
static int csv_parse_double(const char *field, double *out) {
    char *end = NULL;
    if (*field == '\0' || strpbrk(field, "xX")) {
        return 0;
    }
    *out = strtod(field, &end);
    return end != field && *end == '\0';
}

static fnn_status csv_parse_field(const csv_reader *r, int col, float *out) {
    double value = 0.0;
    if (!csv_parse_double(r->fields[col], &value)) {
        return csv_field_error(r, col, "invalid number",
                               "a finite decimal value");
    }
    if (!isfinite(value)) {
        return csv_field_error(r, col, "non-finite number",
                               "a finite decimal value");
    }
    if (fabs(value) > FLT_MAX) {
        return csv_field_error(r, col, "number outside the float32 range",
                               "a magnitude of at most 3.4e38");
    }
    *out = (float)value;
    return FNN_OK;
}

static fnn_status csv_reserve_row(csv_reader *r) {
    if (r->n_rows < r->cap_rows) {
        return FNN_OK;
    }
    int64_t cap = r->cap_rows ? 2 * r->cap_rows : CSV_FIRST_ROWS;
    int64_t n_floats = 0;
    int64_t n_bytes = 0;
    if (!fnn_mul_size(cap, csv_feature_count(r), &n_floats) ||
        !fnn_mul_size(n_floats, (int64_t)sizeof(float), &n_bytes) ||
        (uint64_t)n_bytes > (uint64_t)PTRDIFF_MAX) {
        return csv_nomem(r);
    }
    float *features = realloc(r->features, (size_t)n_bytes);
    if (!features) {
        return csv_nomem(r);
    }
    r->features = features;
    float *labels = realloc(r->labels, (size_t)cap * sizeof *labels);
    if (!labels) {
        return csv_nomem(r);
    }
    r->labels = labels;
    r->cap_rows = cap;
    return FNN_OK;
}

static fnn_status csv_store_row(csv_reader *r) {
    if (r->n_fields != r->n_cols) {
        // A mismatch right after the first line often means that the first
        // line is a note, such as scikit-learn's "150,4,setosa,..." counts.
        char hint[160] = "";
        if (r->line_no == r->first_line + 1) {
            snprintf(hint, sizeof hint,
                     ": if line %lld is not the header or data, skip it "
                     "(skip_rows %lld, --skip-rows %lld)",
                     (long long)r->first_line, (long long)r->first_line,
                     (long long)r->first_line);
        }
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: line %lld has %d fields, expected %d as on line "
                        "%lld%s",
                        r->path, (long long)r->line_no, r->n_fields, r->n_cols,
                        (long long)r->first_line, hint);
    }
    fnn_status s = csv_reserve_row(r);
    if (s != FNN_OK) {
        return s;
    }
    float *row = r->features + r->n_rows * csv_feature_count(r);
    for (int col = 0; col < r->n_cols && s == FNN_OK; col++) {
        if (col == r->label_col) {
            s = csv_parse_field(r, col, &r->labels[r->n_rows]);
        } else {
            s = csv_parse_field(r, col, row++);
        }
    }
    if (s == FNN_OK) {
        r->n_rows++;
    }
    return s;
}

// Returns 1 when a field of the current row is text, which marks a header.
// Empty fields do not count, so a data row with a missing value still fails
// as data instead of being taken for a header.
static int csv_row_has_text(const csv_reader *r) {
    for (int col = 0; col < r->n_fields; col++) {
        double value = 0.0;
        const char *field = r->fields[col];
        if (*field != '\0' && !csv_parse_double(field, &value)) {
            return 1;
        }
    }
    return 0;
}

static fnn_status csv_store_names(csv_reader *r) {
    r->names = calloc((size_t)r->n_cols, sizeof *r->names);
    if (!r->names) {
        return csv_nomem(r);
    }
    for (int col = 0; col < r->n_cols; col++) {
        r->names[col] = fnn_strdup(r->fields[col]);
        if (!r->names[col]) {
            return csv_nomem(r);
        }
    }
    return FNN_OK;
}

// Formats up to eight header names as `"a", "b", ...` for a message.
static void csv_format_names(const csv_reader *r, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int col = 0; col < r->n_cols && used < size; col++) {
        if (col == 8) {
            snprintf(buf + used, size - used, ", ... (%d in all)", r->n_cols);
            return;
        }
        int n = snprintf(buf + used, size - used, "%s\"%.*s\"", col ? ", " : "",
                         CSV_QUOTE_MAX / 2, r->names[col]);
        used += n > 0 ? (size_t)n : 0;
    }
}

static fnn_status csv_find_label_name(csv_reader *r, const char *name) {
    if (!r->names) {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: line %lld: label column \"%.*s\" requested, but "
                        "the file has no header row: select the label column "
                        "by index",
                        r->path, (long long)r->first_line, CSV_QUOTE_MAX, name);
    }
    for (int col = 0; col < r->n_cols; col++) {
        if (strcmp(r->names[col], name) == 0) {
            r->label_col = col;
            return FNN_OK;
        }
    }
    char names[320];
    csv_format_names(r, names, sizeof names);
    return fnn_fail(r->err, FNN_ERR_FORMAT,
                    "%s: line %lld: label column \"%.*s\" not found in the "
                    "header: the columns are %s",
                    r->path, (long long)r->first_line, CSV_QUOTE_MAX, name,
                    names);
}

static fnn_status csv_resolve_label(csv_reader *r) {
    if (r->opts->label_column == FNN_CSV_NO_LABEL) {
        r->label_col = -1;
        return FNN_OK;
    }
    if (r->opts->label_name) {
        return csv_find_label_name(r, r->opts->label_name);
    }
    int col =
        r->opts->label_column == -1 ? r->n_cols - 1 : r->opts->label_column;
    if (col >= r->n_cols) {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: line %lld: label column %d is out of range: the "
                        "file has %d columns, numbered 0 to %d",
                        r->path, (long long)r->first_line, col, r->n_cols,
                        r->n_cols - 1);
    }
    r->label_col = col;
    return FNN_OK;
}

// Fixes the column count, the header and the label column from the first
// non-blank row, and stores that row when it is data.
static fnn_status csv_first_row(csv_reader *r) {
    r->n_cols = r->n_fields;
    r->first_line = r->line_no;
    if (r->n_cols < 2 && r->opts->label_column != FNN_CSV_NO_LABEL) {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: line %lld has 1 field: expected at least 2 "
                        "comma-separated columns, the features and the label",
                        r->path, (long long)r->line_no);
    }
    int header = r->opts->header == -1 ? csv_row_has_text(r) : r->opts->header;
    fnn_status s = header ? csv_store_names(r) : FNN_OK;
    if (s == FNN_OK) {
        s = csv_resolve_label(r);
    }
    if (s == FNN_OK && !header) {
        s = csv_store_row(r);
    }
    return s;
}

static fnn_status csv_parse_line(csv_reader *r, char *line, size_t len) {
    // Skipped lines are not read at all: a preamble may hold any bytes.
    if (r->line_no <= r->opts->skip_rows) {
        return FNN_OK;
    }
    if (strlen(line) != len) {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: line %lld contains a NUL byte at character %zu: "
                        "expected a text file",
                        r->path, (long long)r->line_no, strlen(line) + 1);
    }
    if (len > 0 && line[len - 1] == '\n') {
        line[--len] = '\0';
    }
    if (len > 0 && line[len - 1] == '\r') {
        line[--len] = '\0';
    }
    const char *cr = memchr(line, '\r', len);
    if (cr) {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: line %lld contains a carriage return at "
                        "character %td: the file uses CR-only line ends, "
                        "which are not supported: convert them to LF",
                        r->path, (long long)r->line_no, cr - line + 1);
    }
    // A UTF-8 byte order mark, as some spreadsheets write, is not data.
    if (r->line_no == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
    }
    if (line[strspn(line, " \t")] == '\0') {
        return FNN_OK;
    }
    fnn_status s = csv_split(r, line);
    if (s != FNN_OK) {
        return s;
    }
    return r->n_cols == 0 ? csv_first_row(r) : csv_store_row(r);
}

// Buffered line reader over zlib, which reads plain files as they are and
// decompresses gzip files, so "data.csv.gz" needs no separate path.
typedef struct csv_input {
    gzFile gz;
    unsigned char chunk[1 << 16];
    size_t pos, end;
    int eof;
} csv_input;

// Reads the next line, with its newline, into *line; sets *len (0 at end of
// file). Returns -1 on a read error and -2 when memory runs out.
static int csv_next_line(csv_input *in, char **line, size_t *cap,
                         size_t *len) {
    *len = 0;
    for (;;) {
        if (in->pos == in->end) {
            if (in->eof) {
                return 0;
            }
            int got = gzread(in->gz, in->chunk, sizeof in->chunk);
            if (got < 0) {
                return -1;
            }
            in->eof = got == 0;
            in->pos = 0;
            in->end = (size_t)got;
            continue;
        }
        unsigned char *start = in->chunk + in->pos;
        unsigned char *nl = memchr(start, '\n', in->end - in->pos);
        size_t take = nl ? (size_t)(nl - start) + 1 : in->end - in->pos;
        if (*len + take + 1 > *cap) {
            size_t grown = (*len + take + 1) * 2;
            char *bigger = realloc(*line, grown);
            if (!bigger) {
                return -2;
            }
            *line = bigger;
            *cap = grown;
        }
        memcpy(*line + *len, start, take);
        *len += take;
        (*line)[*len] = '\0';
        in->pos += take;
        if (nl) {
            return 0;
        }
    }
}

static fnn_status csv_read_lines(csv_reader *r, csv_input *in) {
    char *line = NULL;
    size_t cap = 0;
    size_t len = 0;
    fnn_status s = FNN_OK;
    int rc;
    while (s == FNN_OK && (rc = csv_next_line(in, &line, &cap, &len)) == 0 &&
           len > 0) {
        r->line_no++;
        s = csv_parse_line(r, line, len);
    }
    if (s == FNN_OK && rc == -2) {
        s = csv_nomem(r);
    } else if (s == FNN_OK && rc == -1) {
        int code = 0;
        const char *msg = gzerror(in->gz, &code);
        s = fnn_fail(r->err, code == Z_ERRNO ? FNN_ERR_IO : FNN_ERR_FORMAT,
                     "%s: read failed after line %lld: %s", r->path,
                     (long long)r->line_no,
                     code == Z_ERRNO ? strerror(errno) : msg);
    }
    free(line);
    return s;
}

static fnn_status csv_check_rows(const csv_reader *r) {
    if (r->n_rows > 0) {
        return FNN_OK;
    }
    if (r->n_cols > 0) {
        return fnn_fail(r->err, FNN_ERR_FORMAT,
                        "%s: no data rows after the header on line %lld",
                        r->path, (long long)r->first_line);
    }
    return fnn_fail(r->err, FNN_ERR_FORMAT,
                    "%s: no data rows: the file is empty or contains only "
                    "blank lines (%lld lines)",
                    r->path, (long long)r->line_no);
}

// Sets labels_integer and n_classes from the labels.
static void csv_classify_labels(fnn_dataset *ds) {
    float max_label = 0.0f;
    ds->labels_integer = 1;
    for (int64_t i = 0; i < ds->n_rows && ds->labels_integer; i++) {
        float y = ds->labels[i];
        ds->labels_integer =
            y >= 0.0f && y <= CSV_MAX_CLASS_LABEL && floorf(y) == y;
        max_label = y > max_label ? y : max_label;
    }
    ds->n_classes = ds->labels_integer ? (int)max_label + 1 : 0;
}

// Moves the feature names, without the label's, from the reader to ds.
static fnn_status csv_move_names(csv_reader *r, fnn_dataset *ds) {
    ds->names = calloc((size_t)ds->n_features, sizeof *ds->names);
    if (!ds->names) {
        return csv_nomem(r);
    }
    int j = 0;
    for (int col = 0; col < r->n_cols; col++) {
        if (col != r->label_col) {
            ds->names[j++] = r->names[col];
            r->names[col] = NULL;
        }
    }
    return FNN_OK;
}

// Moves the parsed rows into ds, shrinking the buffers to their length.
static fnn_status csv_move_rows(csv_reader *r, fnn_dataset *ds) {
    ds->n_rows = r->n_rows;
    ds->n_features = csv_feature_count(r);
    size_t n_floats = (size_t)r->n_rows * (size_t)ds->n_features;
    float *features = realloc(r->features, n_floats * sizeof *features);
    float *labels = realloc(r->labels, (size_t)r->n_rows * sizeof *labels);
    // A failed shrink leaves the larger buffer valid, so keep that one.
    ds->f32 = features ? features : r->features;
    ds->storage_ = (void *)ds->f32;
    ds->labels = labels ? labels : r->labels;
    r->features = NULL;
    r->labels = NULL;
    if (r->label_col < 0) {
        free(ds->labels);
        ds->labels = NULL;
    } else {
        csv_classify_labels(ds);
    }
    ds->source = fnn_strdup(r->path);
    if (!ds->source) {
        return csv_nomem(r);
    }
    return r->names ? csv_move_names(r, ds) : FNN_OK;
}

static void csv_reader_free(csv_reader *r) {
    if (r->names) {
        for (int col = 0; col < r->n_cols; col++) {
            free(r->names[col]);
        }
        free(r->names);
    }
    free(r->fields);
    free(r->features);
    free(r->labels);
}

static fnn_status csv_check_options(const char *path,
                                    const fnn_csv_options *opts,
                                    fnn_error *err) {
    if (!path) {
        return fnn_fail(err, FNN_ERR_INVALID, "fnn_csv_read: path is NULL");
    }
    if (opts->header < -1 || opts->header > 1) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "%s: invalid header option %d: expected -1 (detect), "
                        "0 (none) or 1 (header row)",
                        path, opts->header);
    }
    if (opts->label_column < -1 && opts->label_column != FNN_CSV_NO_LABEL) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "%s: invalid label column %d: expected a 0-based index, "
                        "-1 for the last column or FNN_CSV_NO_LABEL",
                        path, opts->label_column);
    }
    if (opts->skip_rows < 0) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "%s: invalid skip_rows %d: expected >= 0", path,
                        opts->skip_rows);
    }
    if (opts->label_name && opts->header == 0) {
        return fnn_fail(err, FNN_ERR_INVALID,
                        "%s: label column \"%.*s\" selected by name, but the "
                        "header option says the file has no header row",
                        path, CSV_QUOTE_MAX, opts->label_name);
    }
    return FNN_OK;
}

static fnn_status csv_read_file(csv_reader *r, fnn_dataset *ds) {
    csv_input *in = calloc(1, sizeof *in);
    if (!in) {
        return csv_nomem(r);
    }
    in->gz = gzopen(r->path, "rb");
    if (!in->gz) {
        int e = errno;
        free(in);
        return fnn_fail(r->err, FNN_ERR_IO, "%s: failed to open: %s", r->path,
                        strerror(e ? e : ENOMEM));
    }
    fnn_status s = csv_read_lines(r, in);
    // The file was only read, so a failing close loses no data.
    (void)gzclose(in->gz);
    free(in);
    if (s == FNN_OK) {
        s = csv_check_rows(r);
    }
    if (s == FNN_OK) {
        s = csv_move_rows(r, ds);
    }
    return s;
}

fnn_dataset *fnn_csv_read(const char *path, const fnn_csv_options *opts,
                          fnn_error *err, fnn_status *status) {
    fnn_csv_options defaults = fnn_csv_options_default();
    csv_reader r = {.path = path, .opts = opts ? opts : &defaults, .err = err};
    fnn_dataset *ds = NULL;
    fnn_status s = csv_check_options(path, r.opts, err);
    if (s == FNN_OK) {
        ds = calloc(1, sizeof *ds);
        s = ds ? FNN_OK : csv_nomem(&r);
    }
    if (s == FNN_OK) {
        s = csv_read_file(&r, ds);
    }
    csv_reader_free(&r);
    fnn_set_status(status, s);
    if (s != FNN_OK) {
        fnn_dataset_free(ds);
        return NULL;
    }
    return ds;
}
