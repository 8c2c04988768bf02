//! Datasets (IMDB, ECG5000), tokenizer and batching.
