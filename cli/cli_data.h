// Data set loading for the command-line tool: turns a path given on the
// command line into a data set. Not part of the library API.
#ifndef CLI_DATA_H
#define CLI_DATA_H

#include "fastnn.h"

// Directory of the Fashion-MNIST IDX files on machines that ship them.
#define CLI_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

// Loads the data set at `path`, which is one of:
// - a directory with the MNIST file names: train-images-idx3-ubyte and
//   train-labels-idx1-ubyte when want_train is nonzero, else the t10k-*
//   pair. Each may end in .gz, and the uncompressed file wins when both exist.
// - an IDX images file, whose name contains "-images-idx3-ubyte". Its labels
//   come from labels_path or, when that is NULL, from the file of the same
//   name with "-labels-idx1-ubyte" in its place (the same .gz suffix first,
//   then the other).
// - a NumPy features file, whose name ends in ".npy", read with
//   fnn_npy_read. labels_path is the labels .npy, or NULL for no labels.
// - any other file, read as CSV with the options `csv` (NULL for defaults).
// labels_path must be NULL for a directory or a CSV file. Returns NULL on
// failure and fills err and status; never prints.
fnn_dataset *cli_data_load(const char *path, const char *labels_path,
                           int want_train, const fnn_csv_options *csv,
                           fnn_error *err, fnn_status *status);

#endif
