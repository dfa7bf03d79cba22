"""Runs fastnn and its peers one after the other on the same machine and
prints a Markdown table of medians and ratios.

    /usr/bin/python3 bench/run.py BUILD_DIR [--quick]

--quick runs batch 128 only and skips the time to accuracy. BUILD_DIR
contains fnn_bench and fma_peak (make bench builds them). Peers:
PyTorch from PyPI in a virtual environment (installed when missing), Debian's
python3-torch and scikit-learn under /usr/bin/python3 (installed with apt-get
when missing). Environment knobs: FNN_BENCH_ROWS (training rows per
throughput epoch, default 20000), FNN_BENCH_EPOCHS (default 4, the first is
a warm-up), FNN_BENCH_ROUNDS (default 2: every workload runs once per round
and the best round's median is kept), FNN_BENCH_VENV (default
~/.cache/fastnn-bench/venv).
"""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.environ.get("FNN_BENCH_VENV",
                      os.path.expanduser("~/.cache/fastnn-bench/venv"))
ROWS = int(os.environ.get("FNN_BENCH_ROWS", "20000"))
EPOCHS = int(os.environ.get("FNN_BENCH_EPOCHS", "4"))
# Each program runs every workload once per round, and the table keeps the
# best round's median. A burst of load from another process on this shared
# machine then costs a program one round, not its place in the table.
ROUNDS = int(os.environ.get("FNN_BENCH_ROUNDS", "2"))
BATCHES = [32, 128, 1024]
OPTIMIZERS = ["momentum", "adam"]
# FLOPs per training sample of 784-256-128-10: forward 2 n_in n_out per
# layer, dW the same, da 2 n_in n_out for every layer but the first.
SIZES = [784, 256, 128, 10]
PAIRS = [(SIZES[i], SIZES[i + 1]) for i in range(3)]
FLOPS_PER_SAMPLE = (4 * sum(a * b for a, b in PAIRS)
                    + 2 * sum(a * b for a, b in PAIRS[1:]))


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def ensure_peers():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        log(f"installing PyTorch from PyPI into {VENV} (large download)")
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    if subprocess.run([py, "-c", "import torch, numpy"],
                      capture_output=True).returncode != 0:
        subprocess.run([py, "-m", "pip", "install", "-q", "torch", "numpy"],
                       check=True)
    need = [p for p, mod in (("python3-torch", "torch"),
                             ("python3-sklearn", "sklearn"))
            if subprocess.run(["/usr/bin/python3", "-c", f"import {mod}"],
                              capture_output=True).returncode != 0]
    if need:
        log(f"installing {' '.join(need)} with apt-get")
        subprocess.run(["apt-get", "install", "-y", "-qq"] + need, check=True)
    return py


def base_env(**overrides):
    env = dict(os.environ)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY",
              "MKL_NUM_THREADS"):
        env.pop(k, None)
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def configs(build, pypi):
    fnn = os.path.join(build, "fnn_bench")
    torch = os.path.join(HERE, "torch_mlp.py")
    deb = "/usr/bin/python3"
    one = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    unset = {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None}
    return [
        ("fastnn 1t", [fnn], ["--threads", "1"], base_env(**one)),
        ("fastnn 2t split", [fnn], ["--threads", "2"], base_env(**one)),
        ("fastnn 1t/blas 2t", [fnn], ["--threads", "1"],
         base_env(OPENBLAS_NUM_THREADS="2")),
        ("torch-deb 1t", [deb, torch], ["--threads", "1"], base_env(**one)),
        ("torch-deb 2t passive", [deb, torch], ["--threads", "2"],
         base_env(OMP_WAIT_POLICY="PASSIVE")),
        ("torch-deb 1t/blas 2t", [deb, torch], ["--threads", "1"],
         base_env(OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="1")),
        ("torch-pypi 1t", [pypi, torch], ["--threads", "1"], base_env(**one)),
        ("torch-pypi 2t passive", [pypi, torch], ["--threads", "2"],
         base_env(OMP_WAIT_POLICY="PASSIVE")),
        ("sklearn", [deb, os.path.join(HERE, "sklearn_mlp.py")], [],
         base_env(OPENBLAS_NUM_THREADS="2")),
        ("torch-deb unset-core 1t/blas 2t", [deb, torch], ["--threads", "1"],
         base_env(OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="1", **unset)),
    ]


def run_json(cmd, env):
    """Runs cmd under /usr/bin/time -v; returns its JSON lines, the wall
    time and the peak RSS in KiB."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, env=env,
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        log(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
        return [], wall, None
    lines = [json.loads(x) for x in p.stdout.splitlines()
             if x.startswith("{")]
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return lines, wall, int(m.group(1)) if m else None


def throughput(cfg, batch, optimizer):
    name, prog, extra, env = cfg
    args = ["--batch", str(batch), "--optimizer", optimizer,
            "--epochs", str(EPOCHS), "--rows", str(ROWS)]
    if "sklearn" not in name:
        args = ["throughput"] + args + extra
    lines, _, _ = run_json(prog + args, env)
    rates = [x["samples_per_second"] for x in lines if "epoch" in x]
    return statistics.median(rates[1:]) if len(rates) > 1 else None


def fma_peak(build):
    exe = os.path.join(build, "fma_peak")
    one = max(json.loads(subprocess.run([exe, "0.5"], capture_output=True,
                                        text=True).stdout)["gflops"]
              for _ in range(3))
    procs = [subprocess.Popen([exe, "1"], stdout=subprocess.PIPE, text=True)
             for _ in range(os.cpu_count() or 1)]
    both = sum(json.loads(p.communicate()[0])["gflops"] for p in procs)
    return one, both


def versions(pypi):
    def ask(py, code):
        p = subprocess.run([py, "-c", code], capture_output=True, text=True)
        return p.stdout.strip() or p.stderr.strip().splitlines()[-1]
    core = ask("/usr/bin/python3",
               "import ctypes; l = ctypes.CDLL('libopenblas.so.0'); "
               "l.openblas_get_corename.restype = ctypes.c_char_p; "
               "l.openblas_get_config.restype = ctypes.c_char_p; "
               "print(l.openblas_get_corename().decode(), '|', "
               "l.openblas_get_config().decode())")
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores ({platform.machine()})",
        "openblas": core,
        "torch-deb": ask("/usr/bin/python3",
                         "import torch; print(torch.__version__)"),
        "torch-pypi": ask(pypi, "import torch; print(torch.__version__, "
                          "torch.backends.mkldnn.is_available())"),
        "sklearn": ask("/usr/bin/python3",
                       "import sklearn; print(sklearn.__version__)"),
        "env": " ".join(f"{k}={os.environ[k]}" for k in
                        ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                        if k in os.environ),
    }


def fmt(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: run.py BUILD_DIR [--quick]")
    build = sys.argv[1]
    global BATCHES
    if "--quick" in sys.argv:
        BATCHES = [128]
    pypi = ensure_peers()
    cfgs = configs(build, pypi)
    ver = versions(pypi)
    one_core, all_cores = fma_peak(build)
    peak = max(all_cores, one_core * (os.cpu_count() or 1))
    log(f"fp32 FMA peak: {one_core:.0f} GFLOP/s on one core, "
        f"{all_cores:.0f} with all cores busy at once")

    names = [c[0] for c in cfgs]
    results = {}
    for r in range(ROUNDS):
        for batch in BATCHES:
            for opt in OPTIMIZERS:
                for cfg in cfgs:
                    log(f"round {r + 1}/{ROUNDS}, batch {batch} {opt}: "
                        f"{cfg[0]}")
                    rate = throughput(cfg, batch, opt)
                    key = (batch, opt, cfg[0])
                    if rate is not None and (results.get(key) or 0) < rate:
                        results[key] = rate
                    results.setdefault(key, None)
    acc = {} if "--quick" in sys.argv else time_to_accuracy(cfgs)
    report(ver, one_core, all_cores, peak, names, results, acc)
    report_shapes(build)


def report_shapes(build):
    """Prints bench/sgemm_shapes: the forward product of each layer on one
    thread, with the weights packed per call, packed once beforehand, and
    the library's choice."""
    log("forward product shapes")
    env = base_env(OPENBLAS_NUM_THREADS="1")
    p = subprocess.run([os.path.join(build, "sgemm_shapes")], env=env,
                       capture_output=True, text=True)
    rows = [json.loads(x) for x in p.stdout.splitlines()
            if x.startswith("{")]
    if p.returncode != 0 or not rows or "skipped" in rows[0]:
        log(f"sgemm_shapes: {p.stdout.strip() or p.stderr.strip()}")
        return
    print("\nForward product Z = X W^T on one thread, GFLOP/s (best of 5; "
          "pack_wt packs W^T in the call, shared_wt uses a W^T packed "
          "beforehand, fnn_sgemm packs X^T instead for up to 64 rows):\n")
    print("| layer | rows | pack_wt | shared_wt | fnn_sgemm |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n_in']}-{r['n_out']} | {r['rows']} | {r['pack_wt']:.0f} "
              f"| {r['shared_wt']:.0f} | {r['fnn_sgemm']:.0f} |")


def time_to_accuracy(cfgs):
    """Whole-process time and peak RSS to 0.88 test accuracy, Adam, batch
    128, for fastnn and each PyTorch at its one-thread setting."""
    out = {}
    for cfg in cfgs:
        name, prog, extra, env = cfg
        if name not in ("fastnn 1t", "fastnn 2t split", "torch-deb 1t",
                        "torch-pypi 1t"):
            continue
        log(f"time to 0.88: {name}")
        lines, wall, rss = run_json(prog + ["accuracy", "--target", "0.88"]
                                    + extra, env)
        epochs = [x for x in lines if "test_accuracy" in x]
        out[name] = (wall, rss, len(epochs),
                     epochs[-1]["test_accuracy"] if epochs else None)
    return out


def report(ver, one_core, all_cores, peak, names, results, acc):
    peers = [n for n in names if not n.startswith("fastnn")
             and "unset" not in n]
    print(f"CPU: {ver['cpu']}  ")
    print(f"OpenBLAS core | config: {ver['openblas']}  ")
    print(f"Environment: {ver['env']}  ")
    print(f"PyTorch (Debian): {ver['torch-deb']}; PyTorch (PyPI), oneDNN: "
          f"{ver['torch-pypi']}; scikit-learn: {ver['sklearn']}  ")
    print(f"fp32 FMA peak: {one_core:.0f} GFLOP/s one core alone, "
          f"{all_cores:.0f} GFLOP/s all cores at once, peak used: "
          f"{peak:.0f} GFLOP/s  ")
    print(f"FLOPs per training sample: {FLOPS_PER_SAMPLE:,}; "
          f"{ROWS} rows per epoch, median of epochs 2..{EPOCHS}, best of "
          f"{ROUNDS} rounds\n")
    print("Training samples/s (median of epochs, best round):\n")
    print("| workload | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for (batch, opt) in sorted({(b, o) for b, o, _ in results}):
        row = [fmt(results[(batch, opt, n)]) for n in names]
        print(f"| {opt} b{batch} | " + " | ".join(row) + " |")
    print("\nRatios (best fastnn setting / best peer setting):\n")
    print("| workload | fastnn best | best peer | ratio | vs unset-core "
          "torch | fastnn GFLOP/s | % of peak |")
    print("|---|---|---|---|---|---|---|")
    for (batch, opt) in sorted({(b, o) for b, o, _ in results}):
        ours = [(results[(batch, opt, n)] or 0, n) for n in names
                if n.startswith("fastnn")]
        theirs = [(results[(batch, opt, n)] or 0, n) for n in peers]
        unset = results.get((batch, opt, "torch-deb unset-core 1t/blas 2t"))
        best, best_name = max(ours)
        peer, peer_name = max(theirs)
        gflops = best * FLOPS_PER_SAMPLE * 1e-9
        print(f"| {opt} b{batch} | {best:,.0f} ({best_name}) | "
              f"{peer:,.0f} ({peer_name}) | {best / peer:.2f}x | "
              f"{best / unset:.2f}x | {gflops:.0f} | "
              f"{100 * gflops / peak:.0f}% |" if peer and unset else
              f"| {opt} b{batch} | {best:,.0f} | - | - | - | - | - |")
    print("\nTime to 0.88 test accuracy (Adam, batch 128, constant rate, "
          "whole process) and peak RSS:\n")
    print("| program | wall s | epochs | final accuracy | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for name, (wall, rss, epochs, final) in acc.items():
        print(f"| {name} | {wall:.1f} | {epochs} | {fmt(final, 4)} | "
              f"{fmt(rss / 1024 if rss else None, 1)} |")


if __name__ == "__main__":
    main()
