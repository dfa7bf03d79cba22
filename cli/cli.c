// realpath is an XSI extension in glibc unless _DEFAULT_SOURCE is set.
#define _DEFAULT_SOURCE
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fastnn: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fastnn: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_exit_for(fnn_status s) {
    if (s == FNN_OK) {
        return CLI_EXIT_OK;
    }
    return s == FNN_ERR_NONFINITE ? CLI_EXIT_FAILED : CLI_EXIT_USAGE;
}

// Writes " (default: VALUE)" for options that have a default, else "".
static void format_default(const cli_opt *o, char *buf, size_t size) {
    buf[0] = '\0';
    switch (o->kind) {
    case CLI_FLAG:
        return;
    case CLI_INT:
        snprintf(buf, size, " (default: %d)", *(int *)o->dest);
        return;
    case CLI_INT64:
        snprintf(buf, size, " (default: %" PRId64 ")", *(int64_t *)o->dest);
        return;
    case CLI_DOUBLE:
        snprintf(buf, size, " (default: %g)", *(double *)o->dest);
        return;
    case CLI_STRING: {
        const char *s = *(const char **)o->dest;
        if (s) {
            snprintf(buf, size, " (default: %s)", *s ? s : "\"\"");
        }
        return;
    }
    }
}

// Help lines end by column HELP_WIDTH. Continuation lines start at
// HELP_INDENT, under the first line's text.
enum { HELP_WIDTH = 80, HELP_INDENT = 29 };

// Prints `text` from column `col` (HELP_INDENT or more) word by word,
// wrapping before HELP_WIDTH, and returns the column after it. A word longer
// than a line is printed whole.
static int print_words(const char *text, int col) {
    const char *p = text;
    for (;;) {
        p += strspn(p, " \n");
        size_t len = strcspn(p, " \n");
        if (len == 0) {
            return col;
        }
        // A default written into the help text stays whole, like a printed
        // one.
        if (len == 9 && strncmp(p, "(default:", 9) == 0 && p[9] == ' ') {
            len += 1 + strcspn(p + 10, " \n");
        }
        int space = col > HELP_INDENT;
        if (space && col + 1 + (int)len > HELP_WIDTH) {
            printf("\n%*s", HELP_INDENT, "");
            col = HELP_INDENT;
            space = 0;
        }
        printf("%s%.*s", space ? " " : "", (int)len, p);
        col += space + (int)len;
        p += len;
    }
}

// Prints one option: the name column, then its help wrapped under the
// first line's text, and the default kept whole on one line.
static void print_option(const char *left, const char *help,
                         const char *dflt) {
    printf("  %-26s ", left);
    int col = 2 + (int)strlen(left) + 1;
    if (col > HELP_INDENT) {
        printf("\n%*s", HELP_INDENT, "");
    }
    col = print_words(help, HELP_INDENT);
    int len = (int)strlen(dflt);
    if (len > 0 && col + len > HELP_WIDTH) {
        // dflt starts with a space, which the new line does not need.
        printf("\n%*s%s", HELP_INDENT, "", dflt + 1);
    } else {
        fputs(dflt, stdout);
    }
    putchar('\n');
}

// Returns the length of the bracketed group at p, nested groups included,
// up to its closing bracket (or the end of the text). Line breaks inside
// it count as spaces.
static size_t bracket_length(const char *p) {
    int depth = 0;
    size_t i = 0;
    for (; p[i]; i++) {
        depth += p[i] == '[';
        depth -= p[i] == ']';
        if (depth == 0) {
            return i + 1;
        }
    }
    return i;
}

void cli_print_usage(const char *usage) {
    fputs("usage:", stdout);
    int col = 6;
    int indent = 0; // set at the first bracket: the column under it
    const char *p = usage;
    for (;;) {
        p += strspn(p, " \n");
        if (!*p) {
            break;
        }
        size_t len = *p == '[' ? bracket_length(p) : strcspn(p, " \n");
        if (*p == '[' && !indent) {
            indent = col + 1;
        }
        if (indent && (int)len > HELP_WIDTH - indent) {
            len = strcspn(p, " \n"); // a group wider than a line breaks
        }
        if (indent && col + 1 + (int)len > HELP_WIDTH) {
            printf("\n%*s%.*s", indent, "", (int)len, p);
            col = indent + (int)len;
        } else {
            printf(" %.*s", (int)len, p);
            col += 1 + (int)len;
        }
        p += len;
    }
    putchar('\n');
}

static void print_help(const cli_opt *opts, const char *usage,
                       const char *description) {
    cli_print_usage(usage);
    printf("\n%s\n\noptions:\n", description);
    for (const cli_opt *o = opts; o->name; o++) {
        char left[64];
        char dflt[160];
        snprintf(left, sizeof left, "--%s%s%s", o->name,
                 o->metavar ? " " : "", o->metavar ? o->metavar : "");
        format_default(o, dflt, sizeof dflt);
        print_option(left, o->help, dflt);
    }
    print_option("--help", "show this help and exit", "");
}

static int set_value(const cli_opt *o, const char *value) {
    char *end;
    errno = 0;
    if (o->kind == CLI_STRING) {
        *(const char **)o->dest = value;
        return 0;
    }
    if (o->kind == CLI_DOUBLE) {
        double d = strtod(value, &end);
        if (end != value && !*end && errno == ERANGE) {
            cli_error("invalid value \"%s\" for --%s: outside the range of "
                      "normal doubles (about 2.2e-308 to 1.8e308 in "
                      "magnitude)",
                      value, o->name);
            return -1;
        }
        if (end == value || *end || errno || !isfinite(d)) {
            cli_error("invalid value \"%s\" for --%s: expected a number",
                      value, o->name);
            return -1;
        }
        *(double *)o->dest = d;
        return 0;
    }
    long long v = strtoll(value, &end, 10);
    long long lo = o->kind == CLI_INT ? -2147483647LL : INT64_MIN;
    long long hi = o->kind == CLI_INT ? 2147483647LL : INT64_MAX;
    if (end == value || *end || errno || v < lo || v > hi) {
        cli_error("invalid value \"%s\" for --%s: expected an integer",
                  value, o->name);
        return -1;
    }
    if (o->kind == CLI_INT) {
        *(int *)o->dest = (int)v;
    } else {
        *(int64_t *)o->dest = v;
    }
    return 0;
}

static const cli_opt *find_opt(const cli_opt *opts, const char *name,
                               size_t len) {
    for (const cli_opt *o = opts; o->name; o++) {
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) {
            return o;
        }
    }
    return NULL;
}

int cli_parse(int argc, char **argv, const cli_opt *opts, const char *usage,
              const char *description) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(opts, usage, description);
            return CLI_EXIT_OK;
        }
        if (strncmp(arg, "--", 2) != 0) {
            cli_error("unexpected argument \"%s\": see 'fastnn %s --help'",
                      arg, argv[0]);
            return CLI_EXIT_USAGE;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = find_opt(opts, name, len);
        if (!o) {
            cli_error("unknown option \"%.*s\": see 'fastnn %s --help'",
                      (int)len + 2, arg, argv[0]);
            return CLI_EXIT_USAGE;
        }
        if (o->kind == CLI_FLAG) {
            if (eq) {
                cli_error("option --%s takes no value", o->name);
                return CLI_EXIT_USAGE;
            }
            *(int *)o->dest = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                cli_error("option --%s needs a value (%s)", o->name,
                          o->metavar ? o->metavar : "VALUE");
                return CLI_EXIT_USAGE;
            }
            value = argv[++i];
        }
        if (set_value(o, value) != 0) {
            return CLI_EXIT_USAGE;
        }
    }
    return -1;
}

static int parse_size(const char *s, char **end) {
    errno = 0;
    long v = strtol(s, end, 10);
    if (*end == s || errno || v < 1 || v > (1 << 24)) {
        return -1;
    }
    return (int)v;
}

int cli_parse_layers(const char *text, int *sizes, int max, int *n_hidden) {
    *n_hidden = 0;
    if (!*text) {
        return 0;
    }
    const char *p = text;
    char *end;
    int width = parse_size(p, &end);
    if (width > 0 && *end == 'x') {
        p = end + 1;
        int count = parse_size(p, &end);
        if (count < 1 || *end || count > max) {
            return -1;
        }
        for (int i = 0; i < count; i++) {
            sizes[i] = width;
        }
        *n_hidden = count;
        return 0;
    }
    for (;;) {
        int v = parse_size(p, &end);
        if (v < 1 || *n_hidden >= max) {
            return -1;
        }
        sizes[(*n_hidden)++] = v;
        if (*end == '\0') {
            return 0;
        }
        if (*end != ',') {
            return -1;
        }
        p = end + 1;
    }
}

int cli_bad_choice(const char *option, const char *value,
                   const char *choices) {
    cli_error("invalid value \"%s\" for --%s: expected one of %s", value,
              option, choices);
    return CLI_EXIT_USAGE;
}

int cli_check_writable(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_error("output path %s is a directory: give a file name", path);
        return 0;
    }
    char *copy = strdup(path);
    if (!copy) {
        cli_error("out of memory");
        return 0;
    }
    const char *dir = dirname(copy);
    int ok = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (!ok) {
        cli_error("cannot write %s: directory %s does not exist", path, dir);
    } else if (access(dir, W_OK) != 0) {
        cli_error("cannot write %s: directory %s is not writable: %s", path,
                  dir, strerror(errno));
        ok = 0;
    }
    free(copy);
    return ok;
}

fnn_csv_options cli_csv_options(int header, const char *label_column,
                                int skip_rows) {
    fnn_csv_options o = fnn_csv_options_default();
    if (header) {
        o.header = 1;
    }
    o.skip_rows = skip_rows;
    if (label_column && strcmp(label_column, "none") == 0) {
        o.label_column = FNN_CSV_NO_LABEL;
    } else if (label_column) {
        char *end;
        errno = 0;
        long v = strtol(label_column, &end, 10);
        if (end != label_column && *end == '\0' && !errno && v >= 0 &&
            v < 1000000) {
            o.label_column = (int)v;
        } else {
            o.label_name = label_column;
        }
    }
    return o;
}

// Returns the absolute form of path with its directory resolved, or a copy
// of path when the directory cannot be resolved. The caller frees it.
static char *canonical_path(const char *path) {
    char *copy_dir = strdup(path);
    char *copy_base = strdup(path);
    char *out = NULL;
    if (copy_dir && copy_base) {
        char *dir = realpath(dirname(copy_dir), NULL);
        const char *base = basename(copy_base);
        if (dir) {
            size_t n = strlen(dir) + strlen(base) + 2;
            out = malloc(n);
            if (out) {
                snprintf(out, n, "%s/%s", dir, base);
            }
            free(dir);
        }
    }
    free(copy_dir);
    free(copy_base);
    return out ? out : strdup(path);
}

// Returns 1 when a and b name the same file: the same inode when both
// exist, else the same resolved path.
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) {
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    }
    char *ca = canonical_path(a);
    char *cb = canonical_path(b);
    int same = ca && cb && strcmp(ca, cb) == 0;
    free(ca);
    free(cb);
    return same;
}

static int report_same(const cli_path *x, const cli_path *y) {
    cli_error("--%s and --%s name the same file, %s: give --%s another "
              "path so that the run does not overwrite it",
              x->option, y->option, x->path, x->option);
    return 0;
}

int cli_check_distinct(const cli_path *outputs, int n_outputs,
                       const cli_path *inputs, int n_inputs) {
    for (int i = 0; i < n_outputs; i++) {
        if (!outputs[i].path) {
            continue;
        }
        for (int j = i + 1; j < n_outputs; j++) {
            if (outputs[j].path && same_file(outputs[i].path,
                                             outputs[j].path)) {
                return report_same(&outputs[i], &outputs[j]);
            }
        }
        for (int j = 0; j < n_inputs; j++) {
            if (inputs[j].path && same_file(outputs[i].path,
                                            inputs[j].path)) {
                return report_same(&outputs[i], &inputs[j]);
            }
        }
    }
    return 1;
}
