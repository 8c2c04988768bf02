//! Koopman analysis of hidden states (paper Sec. 3), on plain arrays; no burn.
