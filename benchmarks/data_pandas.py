"""Benchmark helpers for benchmarks/data_bench.sh.

  data_pandas.py generate OUT.csv [ROWS]   write a ROWS x 20 numeric CSV (~2% missing cells), seed 0
  data_pandas.py prepare IN.csv OUT.csv    pandas + scikit-learn: read, impute mean, z-score, write
  data_pandas.py time CMD_A -- CMD_B       alternate A/B 3 rounds under /usr/bin/time -v; median s, peak RSS
"""
import os
import re
import statistics
import subprocess
import sys
import time


def generate(path, rows):
    import numpy as np
    rng = np.random.default_rng(0)
    cols = 20
    with open(path + ".tmp", "w") as f:
        f.write(",".join(f"f{i}" for i in range(cols)) + "\n")
        block = 100_000
        for start in range(0, rows, block):
            n = min(block, rows - start)
            x = rng.normal(0, 1, (n, cols)) * rng.uniform(0.5, 100, cols) + rng.uniform(-50, 50, cols)
            missing = rng.random((n, cols)) < 0.02
            lines = []
            for r in range(n):
                lines.append(",".join("" if missing[r, c] else f"{x[r, c]:.6f}" for c in range(cols)))
            f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def prepare(src, dst):
    import pandas as pd
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler
    df = pd.read_csv(src)
    x = SimpleImputer(strategy="mean").fit_transform(df.to_numpy())
    x = StandardScaler().fit_transform(x)
    pd.DataFrame(x, columns=df.columns).to_csv(dst + ".tmp", index=False)
    os.replace(dst + ".tmp", dst)


def measure(cmd):
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return elapsed, rss / 1024


def timing(a, b, rounds=3):
    results = {"onyx": [], "pandas": []}
    for _ in range(rounds):
        for name, cmd in (("onyx", a), ("pandas", b)):
            results[name].append(measure(cmd))
            print(f"  {name}: {results[name][-1][0]:.2f} s, {results[name][-1][1]:.0f} MiB", flush=True)
    med = {k: (statistics.median(t for t, _ in v), max(m for _, m in v)) for k, v in results.items()}
    for k, (t, m) in med.items():
        print(f"{k}: median {t:.2f} s, peak RSS {m:.0f} MiB")
    print(f"onyx / pandas time: {med['onyx'][0] / med['pandas'][0]:.2f}x")


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000)
    elif sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "time":
        i = sys.argv.index("--")
        timing(sys.argv[2:i], sys.argv[i + 1:])
