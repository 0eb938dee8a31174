"""word2vec training speed: `onyx data word2vec train` vs gensim's Word2Vec, same corpus and settings.

Usage: python benchmarks/word2vec_bench.py [ONYX] [ROUNDS]   (ONYX default .build/release/onyx; needs gensim:
       pip install gensim). Corpus: Tests/OnyxTests/Fixtures/word2vec/kjv.txt (King James Bible, 790k words).
Settings for both: skip-gram, dim 100, window 5, 5 negatives, min count 5, sample 1e-3, 5 epochs, 2 threads.
Alternates onyx / gensim for ROUNDS rounds (default 3) and prints wall times, words/s and the median ratio.
gensim's words/s counts the corpus words it trained on (before subsampling), as onyx's does.
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ONYX = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "release", "onyx")
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
CORPUS = os.path.join(ROOT, "Tests", "OnyxTests", "Fixtures", "word2vec", "kjv.txt")
THREADS = 2


def onyx():
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        p = subprocess.run([ONYX, "data", "word2vec", "train", CORPUS, "-o", os.path.join(d, "v.bin"), "--dim", "100",
                            "--window", "5", "--negative", "5", "--min-count", "5", "--epochs", "5",
                            "--threads", str(THREADS)], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t
    wps = int(re.search(r"(\d+) words/s", p.stdout).group(1))
    return wall, wps


def gensim_run(sentences, n_words):
    from gensim.models import Word2Vec
    t = time.perf_counter()
    Word2Vec(sentences, vector_size=100, window=5, negative=5, min_count=5, sample=1e-3, sg=1, epochs=5,
             workers=THREADS, seed=1)
    wall = time.perf_counter() - t
    return wall, int(n_words * 5 / wall)


def main():
    import gensim
    with open(CORPUS, encoding="utf-8") as f:
        text = f.read().lower()
    # Sentences of up to 1000 words, as the C tool and onyx read the corpus.
    words = re.findall(r"[^\W_]+(?:['-][^\W_]+)*", text)
    sentences = [words[i:i + 1000] for i in range(0, len(words), 1000)]
    print(f"corpus: {len(words)} words; gensim {gensim.__version__}; {os.cpu_count()} cores; {THREADS} threads")
    res = {"onyx": [], "gensim": []}
    for r in range(ROUNDS):
        res["onyx"].append(onyx())
        res["gensim"].append(gensim_run(sentences, len(words)))
        print(f"round {r + 1}: onyx {res['onyx'][-1][0]:.1f} s ({res['onyx'][-1][1]} words/s), "
              f"gensim {res['gensim'][-1][0]:.1f} s ({res['gensim'][-1][1]} words/s)", flush=True)
    mo = statistics.median(w for w, _ in res["onyx"])
    mg = statistics.median(w for w, _ in res["gensim"])
    print(f"median: onyx {mo:.1f} s ({statistics.median(s for _, s in res['onyx'])} words/s), "
          f"gensim {mg:.1f} s ({statistics.median(s for _, s in res['gensim'])} words/s); onyx/gensim time {mo / mg:.2f}x")


if __name__ == "__main__":
    main()
