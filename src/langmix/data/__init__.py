"""Data formats and loaders: LAReQA benchmarks, parallel training corpora, BEIR/MIRACL retrieval sets."""
