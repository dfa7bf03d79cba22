// Line plots drawn by gnuplot through a pipe, as PNG (pngcairo) or SVG at
// 800x500 pixels. Not part of the library API.
#ifndef FNN_PLOT_H
#define FNN_PLOT_H

#define PLOT_WIDTH 800
#define PLOT_HEIGHT 500
#define PLOT_MAX_HLINES 4

// One line of a panel: n points (x[i], y[i]). A non-finite y, or a y <= 0
// on a log axis, leaves a gap.
typedef struct plot_series {
    const char *title; // legend entry
    const double *x;
    const double *y;
    int n;
    int y2;     // 1: plot against the right-hand axis
    int dashed; // 1: dashed line
} plot_series;

// Where a panel draws its legend.
typedef enum plot_key {
    PLOT_KEY_INSIDE, // top right inside the panel
    PLOT_KEY_INSIDE_BOTTOM, // bottom right inside, for rising curves
    PLOT_KEY_BELOW,  // below all panels, for series that every panel shares
    PLOT_KEY_NONE,
} plot_key;

typedef struct plot_panel {
    const char *title;
    const char *xlabel;  // with the unit, e.g. "training step (mini-batches)"
    const char *ylabel;
    const char *y2label; // NULL: no right-hand axis
    int log_x;
    int log_y;
    int log_y2;
    int integer_x;       // x is a count: no fractional tic labels
    double y_max;        // top of the left axis; 0: fit the data
    // Horizontal reference lines on the left axis, drawn as dashed grey
    // lines without a legend entry.
    double hlines[PLOT_MAX_HLINES];
    int n_hlines;
    plot_key key;
    const plot_series *series;
    int n_series;
} plot_panel;

// Checks that `path` ends in .png or .svg (any case) and that it can be
// created. Prints the error and returns 0 when it cannot be used.
int plot_check_path(const char *path, const char *option);

// Draws the panels side by side under `title` into `path`. gnuplot writes a
// temporary file in the same directory that is renamed over `path` only
// when gnuplot exits with status 0, so a failure leaves `path` untouched.
// Prints the error and returns a CLI exit status (0 on success).
int plot_draw(const char *path, const char *title, const plot_panel *panels,
              int n_panels);

#endif
