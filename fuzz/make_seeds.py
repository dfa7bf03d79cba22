#!/usr/bin/python3
"""Writes the seed corpora in fuzz/corpus/<target>/ from small valid files.

The two-file targets (idx, npy) take a 2-byte little-endian length of the
first file followed by both files; csv takes one option byte and the file.
Model and checkpoint seeds are written by fuzz/make_seeds.sh with fastnn.
"""
import io
import os
import struct
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


def pair(a, b):
    return struct.pack("<H", len(a)) + a + b


def idx(magic, dims, body):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + body


def npy(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def main():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(3, 2, 2), dtype=np.uint8)
    images = idx(0x803, [3, 2, 2], pixels.tobytes())
    labels = idx(0x801, [3], bytes([0, 1, 2]))
    put("idx", "valid", pair(images, labels))
    put("idx", "reject_swapped", pair(labels, images))
    put("idx", "reject_truncated", pair(images[:-3], labels))
    put("idx", "reject_float_type", pair(idx(0xD03, [1, 1, 1], b"\0\0\0\0"), labels))

    put("csv", "header", b"\x00a,b,label\n1,2,0\n3.5,-4e2,1\n")
    put("csv", "no_header", b"\x04" + b"0,1,2\r\n1,0.5,3\r\n")
    put("csv", "quoted", b"\x0e\"x \"\"1\"\"\",label\n\"1\",2\n 3 ,0\n")
    put("csv", "blank_lines", b"\x08\n1,2,3\n\n4,5,6\n")

    x = rng.standard_normal((4, 3)).astype("<f4")
    y = np.array([0, 1, 1, 2], dtype="<i8")
    put("npy", "f4_i8", pair(npy(x), npy(y)))
    put("npy", "u1_fortran", pair(npy(np.asfortranarray(
        rng.integers(0, 255, (2, 2, 3), dtype=np.uint8))), npy(np.array([1, 0], ">u2"))))
    put("npy", "f8_column", pair(npy(x.astype(">f8")), npy(y.reshape(4, 1).astype("?"))))
    put("npy", "f4_labels", pair(npy(x), npy(y.astype("<f4"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
