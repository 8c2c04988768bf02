//! Sequence models in burn: fast recurrent cells, IMDB GRU classifier, ECG LSTM autoencoder.
