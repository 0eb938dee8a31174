#!/bin/sh
# Word2vec fixtures (run from the repo root).
# 1. Corpus: the King James Bible (public domain), from Debian's bible-kjv-text package via its `bible` reader;
#    verse references ("Ge1:1 ") are stripped, one verse per line.
# 2. Reference files in gensim's word2vec text and binary formats (scripts/make_word2vec_fixtures.py).
set -e
apt-get install -y bible-kjv >/dev/null
bible -f "Gen1:1-Rev22:21" | sed -E 's/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ //' > Tests/OnyxTests/Fixtures/word2vec/kjv.txt
python3 -m venv /tmp/venv-w2v && /tmp/venv-w2v/bin/pip install -q gensim
/tmp/venv-w2v/bin/python scripts/make_word2vec_fixtures.py
