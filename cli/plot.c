#include "plot.h"

#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

// Lines of gnuplot's error output shown when it fails.
#define PLOT_ERROR_LINES 8
// Series with more points than this are drawn without point markers.
#define PLOT_MAX_MARKED 60

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s);
    size_t k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

int plot_check_path(const char *path, const char *option) {
    if (!ends_with(path, ".png") && !ends_with(path, ".svg")) {
        cli_error("invalid value \"%s\" for --%s: expected a file name "
                  "ending in .png or .svg",
                  path, option);
        return 0;
    }
    return cli_check_writable(path);
}

// Returns nonzero when an executable named gnuplot is on PATH.
static int gnuplot_on_path(void) {
    const char *path = getenv("PATH");
    if (!path) {
        return 0;
    }
    char *copy = strdup(path);
    if (!copy) {
        return 0;
    }
    int found = 0;
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        char file[4096];
        int w = snprintf(file, sizeof file, "%s/gnuplot", *dir ? dir : ".");
        found = w > 0 && (size_t)w < sizeof file && access(file, X_OK) == 0;
    }
    free(copy);
    return found;
}

// Writes s as a gnuplot single-quoted string, in which only ' needs
// escaping (as '').
static void put_string(FILE *out, const char *s) {
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'') {
            fputc('\'', out);
        }
        fputc(*s, out);
    }
    fputc('\'', out);
}

// Writes s as a gnuplot double-quoted string, in which a newline becomes
// the escape \n and backslashes and double quotes are escaped.
static void put_lines(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '\n') {
            fputs("\\n", out);
            continue;
        }
        if (*s == '"' || *s == '\\') {
            fputc('\\', out);
        }
        fputc(*s, out);
    }
    fputc('"', out);
}

static int valid_point(double y, int log) {
    return isfinite(y) && (!log || y > 0);
}

static int series_has_points(const plot_series *s, int log) {
    for (int i = 0; i < s->n; i++) {
        if (isfinite(s->x[i]) && valid_point(s->y[i], log)) {
            return 1;
        }
    }
    return 0;
}

static void put_data(FILE *out, const plot_panel *p, int panel) {
    for (int k = 0; k < p->n_series; k++) {
        const plot_series *s = &p->series[k];
        int log = s->y2 ? p->log_y2 : p->log_y;
        fprintf(out, "$p%ds%d << EOD\n", panel, k);
        for (int i = 0; i < s->n; i++) {
            if (isfinite(s->x[i]) && valid_point(s->y[i], log)) {
                fprintf(out, "%.17g %.17g\n", s->x[i], s->y[i]);
            } else {
                // A blank line breaks the line at a missing point.
                fputc('\n', out);
            }
        }
        fprintf(out, "EOD\n");
    }
}

static void put_axes(FILE *out, const plot_panel *p) {
    fprintf(out, "set title ");
    put_lines(out, p->title ? p->title : "");
    fprintf(out, " noenhanced\nset ylabel ");
    put_string(out, p->ylabel ? p->ylabel : "");
    fprintf(out, " noenhanced\n");
    fprintf(out, p->log_y ? "set logscale y\nset format y '10^{%%L}'\n"
                          : "unset logscale y\nset format y '%%g'\n");
    // Unit steps on a short count axis, so no tic falls between integers.
    double lo = INFINITY;
    double hi = -INFINITY;
    for (int k = 0; k < p->n_series; k++) {
        for (int i = 0; i < p->series[k].n; i++) {
            lo = fmin(lo, p->series[k].x[i]);
            hi = fmax(hi, p->series[k].x[i]);
        }
    }
    int unit = p->integer_x && hi - lo <= 12 && !p->log_x;
    fprintf(out, "set xtics %s\nset format x '%%g'\n%s logscale x\n",
            unit ? "1" : "autofreq", p->log_x ? "set" : "unset");
    if (p->y2label) {
        fprintf(out, "set y2label ");
        put_string(out, p->y2label);
        fprintf(out, " noenhanced\nset y2tics\nset ytics nomirror\n");
        fprintf(out, p->log_y2 ? "set logscale y2\n" : "unset logscale y2\n");
    } else {
        fprintf(out, "unset y2label\nunset y2tics\nset ytics mirror\n"
                     "unset logscale y2\n");
    }
    if (p->key == PLOT_KEY_NONE) {
        fprintf(out, "unset key\n");
    } else if (p->key == PLOT_KEY_BELOW) {
        fprintf(out, "set key at screen 0.5, 0.015 center bottom horizontal Left reverse "
                     "maxrows 2 font ',8' box opaque samplen 2\n");
    } else {
        fprintf(out, "set key inside %s right vertical box opaque "
                     "samplen 2\n",
                p->key == PLOT_KEY_INSIDE_BOTTOM ? "bottom" : "top");
    }
}

// Sets the y range: the data's, widened past the reference lines so that
// they stand clear of the panel's border.
static void put_yrange(FILE *out, const plot_panel *p, int any) {
    if (!any) {
        // gnuplot rejects a plot without one defined point; keep the axes.
        fprintf(out, "set yrange [%s]\n", p->log_y ? "1:10" : "0:1");
        return;
    }
    if (p->n_hlines == 0) {
        if (p->y_max > 0) {
            fprintf(out, "set yrange [*:%.17g]\n", p->y_max);
        } else {
            fprintf(out, "set autoscale y\n");
        }
        return;
    }
    double lo = INFINITY;
    double hi = -INFINITY;
    for (int k = 0; k < p->n_series; k++) {
        const plot_series *s = &p->series[k];
        for (int i = 0; !s->y2 && i < s->n; i++) {
            if (isfinite(s->x[i]) && valid_point(s->y[i], p->log_y)) {
                lo = fmin(lo, s->y[i]);
                hi = fmax(hi, s->y[i]);
            }
        }
    }
    for (int i = 0; i < p->n_hlines; i++) {
        lo = fmin(lo, p->hlines[i]);
        hi = fmax(hi, p->hlines[i]);
    }
    // A factor of 3 on a log axis, 5% of the span on a linear one.
    double pad = p->log_y ? 0 : 0.05 * (hi - lo > 0 ? hi - lo : 1);
    double top = p->log_y ? hi * 3 : hi + pad;
    fprintf(out, "set yrange [%.17g:%.17g]\n", p->log_y ? lo / 3 : lo - pad,
            p->y_max > 0 ? p->y_max : top);
}

// Writes the x label, with a second line naming the series that have
// nothing to draw (the legend still lists them so that colors match across
// panels). Below the axis the note cannot cover a curve.
static void put_missing(FILE *out, const plot_panel *p) {
    char names[512] = "";
    size_t used = 0;
    int any = 0;
    for (int k = 0; k < p->n_series; k++) {
        const plot_series *s = &p->series[k];
        if (series_has_points(s, s->y2 ? p->log_y2 : p->log_y)) {
            any = 1;
            continue;
        }
        int w = snprintf(names + used, sizeof names - used, "%s%s",
                         used ? ", " : "", s->title ? s->title : "");
        used = w > 0 && used + (size_t)w < sizeof names ? used + (size_t)w
                                                         : used;
    }
    put_yrange(out, p, any);
    char text[700];
    const char *xlabel = p->xlabel ? p->xlabel : "";
    if (used == 0) {
        snprintf(text, sizeof text, "%s", xlabel);
    } else {
        snprintf(text, sizeof text, "%s\nnot drawn (%s): %s", xlabel,
                 p->log_y ? "values 0 or not finite" : "values not finite",
                 names);
    }
    fprintf(out, "set xlabel ");
    put_lines(out, text);
    fprintf(out, " noenhanced\n");
}

// Draws the reference lines as constant functions, which gnuplot clips to
// the panel (an arrow outside the range would be drawn outside the panel).
static void put_hlines(FILE *out, const plot_panel *p, int first) {
    for (int i = 0; i < p->n_hlines; i++) {
        fprintf(out, "%s%.17g with lines dashtype 2 linecolor rgb '#808080' "
                     "notitle",
                first && i == 0 ? "" : ", \\\n     ", p->hlines[i]);
    }
}

static void put_plot(FILE *out, const plot_panel *p, int panel) {
    put_missing(out, p);
    fprintf(out, "plot ");
    int first = 1;
    for (int k = 0; k < p->n_series; k++) {
        const plot_series *s = &p->series[k];
        int log = s->y2 ? p->log_y2 : p->log_y;
        int has_points = series_has_points(s, log);
        if (!has_points && p->key == PLOT_KEY_NONE) {
            continue;
        }
        fprintf(out, "%s", first ? "" : ", \\\n     ");
        first = 0;
        if (!has_points) {
            // A legend entry without data: the series is absent, not lost.
            fprintf(out, "keyentry with linespoints linetype %d title ",
                    k + 1);
        } else {
            // Point markers only where they stay apart.
            fprintf(out, "$p%ds%d using 1:2 axes x1%s with %s linetype %d%s "
                         "title ",
                    panel, k, s->y2 ? "y2" : "y1",
                    s->n > PLOT_MAX_MARKED ? "lines" : "linespoints", k + 1,
                    s->dashed ? " dashtype 2" : "");
        }
        put_string(out, s->title ? s->title : "");
        fprintf(out, " noenhanced");
    }
    put_hlines(out, p, first);
    if (first && p->n_hlines == 0) {
        // Nothing at all to draw: an invisible curve keeps the axes.
        fprintf(out, "NaN notitle");
    }
    fprintf(out, "\n");
}

static void put_script(FILE *out, const char *tmp_path, int svg,
                       const char *title, const plot_panel *panels,
                       int n_panels) {
    fprintf(out, "set terminal %s size %d,%d enhanced font 'DejaVu Sans,%d'\n",
            svg ? "svg" : "pngcairo", PLOT_WIDTH, PLOT_HEIGHT,
            n_panels > 1 ? 9 : 10);
    fprintf(out, "set output ");
    put_string(out, tmp_path);
    fprintf(out, "\nset grid\nset style textbox opaque noborder\n");
    // Eight distinguishable styles, repeated after the eighth series.
    fprintf(out, "do for [i=1:8] { set linetype i pointsize 0.6 "
                 "linewidth 1.5 }\n");
    for (int i = 0; i < n_panels; i++) {
        put_data(out, &panels[i], i);
    }
    int below = 0;
    for (int i = 0; i < n_panels; i++) {
        below |= panels[i].key == PLOT_KEY_BELOW;
    }
    fprintf(out, "set multiplot layout 1,%d title ", n_panels);
    put_string(out, title ? title : "");
    // A legend below the panels needs room at the bottom of the canvas.
    fprintf(out, " noenhanced%s\n",
            below ? " margins 0.09,0.97,0.25,0.88 spacing 0.1,0" : "");
    for (int i = 0; i < n_panels; i++) {
        put_axes(out, &panels[i]);
        put_plot(out, &panels[i], i);
    }
    fprintf(out, "unset multiplot\nset output\n");
}

// Prints the first lines of gnuplot's error output from `path`.
static void show_errors(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    char line[512];
    for (int i = 0; i < PLOT_ERROR_LINES && fgets(line, sizeof line, f); i++) {
        fprintf(stderr, "  gnuplot: %s", line);
    }
    fclose(f);
}

// Makes an empty temporary file from `template` (ending in XXXXXX) with the
// permissions of a newly created file. Returns 0 on success.
static int make_temp(char *template) {
    int fd = mkstemp(template);
    if (fd < 0) {
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    int rc = fchmod(fd, 0666 & ~mask);
    close(fd);
    return rc;
}

// Runs gnuplot on the script and returns its wait status, or -1.
static int run_gnuplot(const char *errors_path, const char *tmp_path, int svg,
                       const char *title, const plot_panel *panels,
                       int n_panels) {
    // Both paths come from mkstemp templates without quote characters.
    char command[4200];
    snprintf(command, sizeof command, "exec gnuplot 2>'%s'", errors_path);
    // A gnuplot that exits early must not kill the tool with SIGPIPE.
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    struct sigaction saved;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &saved);
    FILE *pipe = popen(command, "w");
    int status = -1;
    if (pipe) {
        put_script(pipe, tmp_path, svg, title, panels, n_panels);
        status = pclose(pipe);
    }
    sigaction(SIGPIPE, &saved, NULL);
    return status;
}

// Fills tmp with "<dir of path>/.fastnn-plot-XXXXXX".
static int temp_beside(const char *path, char *tmp, size_t size) {
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) + 1 : 0;
    int w = snprintf(tmp, size, "%.*s.fastnn-plot-XXXXXX", dir_len, path);
    return w > 0 && (size_t)w < size && !strchr(tmp, '\'') ? 0 : -1;
}

int plot_draw(const char *path, const char *title, const plot_panel *panels,
              int n_panels) {
    if (!gnuplot_on_path()) {
        cli_error("cannot draw %s: gnuplot was not found on PATH: install "
                  "it (Debian package gnuplot-nox) or leave out the plot "
                  "option",
                  path);
        return CLI_EXIT_USAGE;
    }
    char tmp[4096];
    char errors[] = "/tmp/fastnn-gnuplot-XXXXXX";
    if (temp_beside(path, tmp, sizeof tmp) != 0 || make_temp(tmp) != 0) {
        cli_error("cannot create a temporary file beside %s: %s", path,
                  strerror(errno));
        return CLI_EXIT_USAGE;
    }
    if (make_temp(errors) != 0) {
        cli_error("cannot create a temporary file in /tmp: %s",
                  strerror(errno));
        unlink(tmp);
        return CLI_EXIT_USAGE;
    }
    int status = run_gnuplot(errors, tmp, ends_with(path, ".svg"), title,
                             panels, n_panels);
    struct stat st;
    int ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
             stat(tmp, &st) == 0 && st.st_size > 0;
    if (ok && rename(tmp, path) != 0) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        ok = 0;
    } else if (!ok) {
        cli_error("gnuplot failed to draw %s (%s %d): see its messages "
                  "below",
                  path,
                  status != -1 && WIFEXITED(status) ? "exit status"
                                                    : "wait status",
                  status != -1 && WIFEXITED(status) ? WEXITSTATUS(status)
                                                    : status);
        show_errors(errors);
    }
    if (!ok) {
        unlink(tmp);
    }
    unlink(errors);
    return ok ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}
