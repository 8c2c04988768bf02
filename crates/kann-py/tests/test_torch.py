"""kann.torch: states of nn.GRU / nn.LSTM / nn.RNN (batch_first or not, padded or packed) and the
forward-hook recorder. Runs only where torch is installed."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence  # noqa: E402

import kann  # noqa: E402
import kann.torch as kt  # noqa: E402


def batch(b=5, t=12, f=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, f, generator=g, dtype=torch.float64)
    lengths = torch.tensor([12, 7, 3, 12, 9])[:b]
    return x, lengths


@pytest.mark.parametrize("kind", [nn.GRU, nn.LSTM, nn.RNN])
def test_padded_with_lengths_equals_each_sequence_alone(kind):
    torch.manual_seed(0)
    rnn = kind(3, 4, batch_first=True).double()
    x, lengths = batch()
    states, lens = kt.rnn_states(rnn, x, lengths)
    assert states.shape == (5, 12, 4) and states.dtype == np.float64
    np.testing.assert_array_equal(lens, lengths.numpy())
    for i, l in enumerate(lengths.tolist()):
        alone = rnn(x[i:i + 1, :l])[0][0].detach().numpy()
        np.testing.assert_allclose(states[i, :l], alone, atol=1e-12)
        assert np.all(states[i, l:] == 0)


def test_time_major_and_packed_inputs_agree():
    torch.manual_seed(1)
    bf = nn.GRU(3, 4, batch_first=True).double()
    tm = nn.GRU(3, 4, batch_first=False).double()
    tm.load_state_dict(bf.state_dict())
    x, lengths = batch()
    a, la = kt.rnn_states(bf, x, lengths)
    b, lb = kt.rnn_states(tm, x.transpose(0, 1), lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    c, lc = kt.rnn_states(bf, packed)
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(a, c, atol=1e-12)
    np.testing.assert_array_equal(la, lc)
    # without lengths every step of the padded batch is a state
    d, ld = kt.rnn_states(tm, x.transpose(0, 1))
    assert d.shape == (5, 12, 4) and np.all(ld == 12)


def test_lower_layer_ends_in_its_final_hidden_state():
    torch.manual_seed(2)
    rnn = nn.GRU(3, 4, num_layers=2, batch_first=True).double()
    x, lengths = batch()
    low, lens = kt.rnn_states(rnn, x, lengths, layer=0)
    top, _ = kt.rnn_states(rnn, x, lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    _, h_n = rnn(packed)
    for i, l in enumerate(lens):
        np.testing.assert_allclose(low[i, l - 1], h_n[0, i].detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(top[i, l - 1], h_n[1, i].detach().numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="layer"):
        kt.rnn_states(rnn, x, layer=2)
    with pytest.raises(TypeError, match="rnn"):
        kt.rnn_states(nn.Linear(3, 4), x)


class Classifier(nn.Module):
    """Embedding -> GRU -> Linear, packing its padded input (the paper's IMDB architecture)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 3)
        self.gru = nn.GRU(3, 8, batch_first=True)
        self.out = nn.Linear(8, 1)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.emb(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)
        return self.out(h[-1])


def test_recorder_collects_every_call_of_a_whole_model():
    torch.manual_seed(3)
    model = Classifier()
    g = torch.Generator().manual_seed(4)
    calls = [(torch.randint(0, 10, (6, 20), generator=g), torch.randint(5, 21, (6,), generator=g))
             for _ in range(3)]
    with kt.Recorder(model.gru) as rec:
        for tokens, lengths in calls:
            model(tokens, lengths)
    model(*calls[0])  # after the block: not recorded
    assert rec.calls == 3
    states, lens = rec.result()
    assert states.shape[0] == 18 and states.dtype == np.float32
    np.testing.assert_array_equal(lens, torch.cat([l for _, l in calls]).numpy())
    first, _ = kt.rnn_states(model.gru, model.emb(calls[0][0]), calls[0][1])
    np.testing.assert_allclose(states[:6, :first.shape[1]], first, atol=1e-6)
    fit = kann.fit(states, lens, rank=4)
    assert fit.eigenvalues.shape == (4,) and 0 <= fit.relative_error < 1
