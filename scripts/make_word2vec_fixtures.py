# Reference word2vec files written by gensim (KeyedVectors.save_word2vec_format), plus gensim's own answers for
# neighbours and an analogy, for Tests/OnyxTests/Word2VecTests.swift. Run via scripts/make_word2vec_fixtures.sh.
import json
import numpy as np
from gensim.models import KeyedVectors

out = "Tests/OnyxTests/Fixtures/word2vec/"
rng = np.random.default_rng(7)
words = ["the", "king", "queen", "man", "woman", "café", "naïve", "don't", "x", "über"]
kv = KeyedVectors(vector_size=6)
kv.add_vectors(words, rng.standard_normal((len(words), 6)).astype(np.float32))
kv.save_word2vec_format(out + "gensim.txt", binary=False)
kv.save_word2vec_format(out + "gensim.bin", binary=True)
ref = {
    "words": words,
    "vectors": [[float(x) for x in kv[w]] for w in words],
    "neighbors_king": [w for w, _ in kv.most_similar("king", topn=3)],
    "analogy_man_king_woman": [w for w, _ in kv.most_similar(positive=["king", "woman"], negative=["man"], topn=3)],
}
with open(out + "gensim.json", "w") as f:
    json.dump(ref, f, indent=1, ensure_ascii=False)
