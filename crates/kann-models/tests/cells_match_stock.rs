//! The fast recurrent cells match burn's stock `nn::Gru`, `nn::Lstm` and `nn::Rnn` loaded with the
//! same weights, in outputs and in gradients (input and every weight), to 1e-5.

use burn::module::{Module, Param};
use burn::nn::{GateController, GruConfig, LstmConfig, RnnConfig};
use burn::tensor::{Device, Distribution, Tensor};
use kann_models::cells::{CellKind, Recurrent, RecurrentConfig};

const B: usize = 3;
const T: usize = 7;
const X: usize = 5;
const H: usize = 6;
const TOL: f32 = 1e-5;

fn device() -> Device {
    Device::flex().autodiff()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

/// Asserts `|a − b| ≤ TOL · max(1, |b|)` elementwise.
fn assert_close<const D: usize>(what: &str, a: Tensor<D>, b: Tensor<D>) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes differ");
    let (a, b) = (values(a), values(b));
    let mut worst = 0.0f32;
    for (x, y) in a.iter().zip(&b) {
        let err = (x - y).abs() / y.abs().max(1.0);
        assert!(err.is_finite(), "{what}: non-finite value");
        worst = worst.max(err);
    }
    assert!(
        worst <= TOL,
        "{what}: max scaled difference {worst:e} > {TOL:e}"
    );
}

/// A fresh leaf copy of `t`.
fn leaf<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    Tensor::from_data(t.into_data(), &device())
}

/// Loads gate block `k` of `cell` into a stock gate controller.
fn load_gate(gate: &mut GateController, cell: &Recurrent, k: usize) {
    let h = cell.d_hidden();
    gate.input_transform.weight = Param::from_tensor(leaf(cell.w_x.val().narrow(1, k * h, h)));
    gate.input_transform.bias = Some(Param::from_tensor(leaf(cell.b_x.val().narrow(0, k * h, h))));
    gate.hidden_transform.weight = Param::from_tensor(leaf(cell.w_h.val().narrow(1, k * h, h)));
    gate.hidden_transform.bias = Some(Param::from_tensor(leaf(cell.b_h.val().narrow(0, k * h, h))));
}

/// Gradients of the stock gates, concatenated in our fused layout.
struct StockGrads {
    w_x: Tensor<2>,
    b_x: Tensor<1>,
    w_h: Tensor<2>,
    b_h: Tensor<1>,
}

fn stock_grads(gates: &[&GateController], grads: &burn::tensor::Gradients) -> StockGrads {
    let g2 = |p: &Param<Tensor<2>>| p.val().grad(grads).expect("stock weight grad");
    let g1 = |p: &Option<Param<Tensor<1>>>| {
        p.as_ref()
            .expect("stock bias")
            .val()
            .grad(grads)
            .expect("stock bias grad")
    };
    StockGrads {
        w_x: Tensor::cat(
            gates
                .iter()
                .map(|g| g2(&g.input_transform.weight))
                .collect(),
            1,
        ),
        b_x: Tensor::cat(
            gates.iter().map(|g| g1(&g.input_transform.bias)).collect(),
            0,
        ),
        w_h: Tensor::cat(
            gates
                .iter()
                .map(|g| g2(&g.hidden_transform.weight))
                .collect(),
            1,
        ),
        b_h: Tensor::cat(
            gates.iter().map(|g| g1(&g.hidden_transform.bias)).collect(),
            0,
        ),
    }
}

fn check_grads(cell: &Recurrent, grads: &burn::tensor::Gradients, stock: StockGrads) {
    assert_close(
        "grad w_x",
        cell.w_x.val().grad(grads).expect("grad w_x"),
        stock.w_x,
    );
    assert_close(
        "grad b_x",
        cell.b_x.val().grad(grads).expect("grad b_x"),
        stock.b_x,
    );
    assert_close(
        "grad w_h",
        cell.w_h.val().grad(grads).expect("grad w_h"),
        stock.w_h,
    );
    assert_close(
        "grad b_h",
        cell.b_h.val().grad(grads).expect("grad b_h"),
        stock.b_h,
    );
}

fn inputs() -> (Tensor<3>, Tensor<3>) {
    let d = device();
    let x = Tensor::<3>::random([B, T, X], Distribution::Normal(0.0, 1.0), &d);
    let weight = Tensor::<3>::random([B, T, H], Distribution::Normal(0.0, 1.0), &d);
    (x, weight)
}

#[test]
fn gru_matches_stock() {
    let d = device();
    let cell = RecurrentConfig::new(CellKind::Gru, X, H).init(&d);
    let mut stock = GruConfig::new(X, H, true).init(&d);
    load_gate(&mut stock.update_gate, &cell, 0);
    load_gate(&mut stock.reset_gate, &cell, 1);
    load_gate(&mut stock.new_gate, &cell, 2);
    let (x, w) = inputs();

    let x1 = x.clone().require_grad();
    let ours = cell.forward(x1.clone(), false);
    assert!(ours.cell.is_none());
    let g1 = (ours.hidden.clone() * w.clone()).sum().backward();

    let x2 = x.require_grad();
    let theirs = stock.forward(x2.clone(), None);
    let g2 = (theirs.clone() * w).sum().backward();

    assert_close("hidden", ours.hidden, theirs);
    assert_close("grad x", x1.grad(&g1).unwrap(), x2.grad(&g2).unwrap());
    let gates = [&stock.update_gate, &stock.reset_gate, &stock.new_gate];
    check_grads(&cell, &g1, stock_grads(&gates, &g2));
}

#[test]
fn lstm_matches_stock() {
    let d = device();
    let cell = RecurrentConfig::new(CellKind::Lstm, X, H).init(&d);
    let mut stock = LstmConfig::new(X, H, true).init(&d);
    load_gate(&mut stock.input_gate, &cell, 0);
    load_gate(stock.forget_gate.as_mut().expect("forget gate"), &cell, 1);
    load_gate(&mut stock.cell_gate, &cell, 2);
    load_gate(&mut stock.output_gate, &cell, 3);
    let (x, w) = inputs();
    let wc = Tensor::<2>::random([B, H], Distribution::Normal(0.0, 1.0), &d);

    // Loss on all hidden states and on the final cell state.
    let x1 = x.clone().require_grad();
    let ours = cell.forward(x1.clone(), true);
    let c_last = ours
        .cell
        .clone()
        .expect("cell states")
        .narrow(1, T - 1, 1)
        .reshape([B, H]);
    let g1 =
        ((ours.hidden.clone() * w.clone()).sum() + (c_last.clone() * wc.clone()).sum()).backward();

    let x2 = x.require_grad();
    let (theirs, state) = stock.forward(x2.clone(), None);
    let g2 = ((theirs.clone() * w).sum() + (state.cell.clone() * wc).sum()).backward();

    assert_close("hidden", ours.hidden, theirs);
    assert_close("last cell", c_last, state.cell);
    assert_close("grad x", x1.grad(&g1).unwrap(), x2.grad(&g2).unwrap());
    let forget = stock.forget_gate.as_ref().expect("forget gate");
    let gates = [
        &stock.input_gate,
        forget,
        &stock.cell_gate,
        &stock.output_gate,
    ];
    check_grads(&cell, &g1, stock_grads(&gates, &g2));
}

#[test]
fn rnn_matches_stock() {
    let d = device();
    let cell = RecurrentConfig::new(CellKind::Rnn, X, H).init(&d);
    let mut stock = RnnConfig::new(X, H, true).init(&d);
    load_gate(&mut stock.gate, &cell, 0);
    let (x, w) = inputs();

    let x1 = x.clone().require_grad();
    let ours = cell.forward(x1.clone(), false);
    let g1 = (ours.hidden.clone() * w.clone()).sum().backward();

    let x2 = x.require_grad();
    let (theirs, _) = stock.forward(x2.clone(), None);
    let g2 = (theirs.clone() * w).sum().backward();

    assert_close("hidden", ours.hidden, theirs);
    assert_close("grad x", x1.grad(&g1).unwrap(), x2.grad(&g2).unwrap());
    check_grads(&cell, &g1, stock_grads(&[&stock.gate], &g2));
}

/// All cell states, and gradients through them, match the unrolled reference graph.
#[test]
fn cell_states_match_unrolled_reference() {
    let d = device();
    for kind in [CellKind::Gru, CellKind::Lstm, CellKind::Rnn] {
        let cell = RecurrentConfig::new(kind, X, H).init(&d);
        let (x, w) = inputs();
        let wc = Tensor::<3>::random([B, T, H], Distribution::Normal(0.0, 1.0), &d);
        let run = |fast: bool| {
            let x = x.clone().require_grad();
            let out = if fast {
                cell.forward(x.clone(), true)
            } else {
                cell.forward_unrolled(x.clone(), true)
            };
            let mut loss = (out.hidden.clone() * w.clone()).sum();
            if let Some(c) = out.cell.clone() {
                loss = loss + (c * wc.clone()).sum();
            }
            let g = loss.backward();
            (out, x.grad(&g).unwrap(), cell.w_h.val().grad(&g).unwrap())
        };
        let (fast, gx_fast, gw_fast) = run(true);
        let (slow, gx_slow, gw_slow) = run(false);
        assert_eq!(
            fast.cell.is_some(),
            kind == CellKind::Lstm,
            "{kind}: cell presence"
        );
        assert_close("hidden", fast.hidden, slow.hidden);
        if let (Some(a), Some(b)) = (fast.cell, slow.cell) {
            assert_close("cell", a, b);
        }
        assert_close("grad x", gx_fast, gx_slow);
        assert_close("grad w_h", gw_fast, gw_slow);
    }
}

/// `forward_repeated` equals `forward` on the input repeated along time, gradients included.
#[test]
fn forward_repeated_matches_forward() {
    let d = device();
    for kind in [CellKind::Gru, CellKind::Lstm, CellKind::Rnn] {
        let cell = RecurrentConfig::new(kind, X, H).init(&d);
        let z = Tensor::<2>::random([B, X], Distribution::Normal(0.0, 1.0), &d);
        let w = Tensor::<3>::random([B, T, H], Distribution::Normal(0.0, 1.0), &d);
        let z1 = z.clone().require_grad();
        let a = cell.forward_repeated(z1.clone(), T, false).hidden;
        let g1 = (a.clone() * w.clone()).sum().backward();
        let z2 = z.require_grad();
        let x = z2.clone().unsqueeze_dim::<3>(1).repeat_dim(1, T);
        let b = cell.forward(x, false).hidden;
        let g2 = (b.clone() * w).sum().backward();
        assert_close("hidden", a, b);
        assert_close("grad z", z1.grad(&g1).unwrap(), z2.grad(&g2).unwrap());
    }
}

/// Without autodiff (inference) the fused path gives the same states.
#[test]
fn inference_without_autodiff_matches() {
    let d = device();
    let plain = Device::flex();
    let cell = RecurrentConfig::new(CellKind::Gru, X, H).init(&d);
    let (x, _) = inputs();
    let with_ad = cell.forward(x.clone(), false).hidden;
    let cell_plain = cell.clone().to_device(&plain);
    let x_plain = Tensor::<3>::from_data(x.into_data(), &plain);
    let without = cell_plain.forward(x_plain, false).hidden;
    assert_close(
        "hidden",
        Tensor::from_data(without.into_data(), &d),
        with_ad,
    );
}

#[test]
fn bad_input_width_is_a_clear_error() {
    let d = device();
    let cell = RecurrentConfig::new(CellKind::Gru, X, H).init(&d);
    let x = Tensor::<3>::zeros([B, T, X + 1], &d);
    let err = cell
        .try_forward(x, false)
        .expect_err("wrong width must fail");
    let msg = err.to_string();
    assert!(msg.contains("[B, T, 5]") && msg.contains("6"), "{msg}");
}

#[test]
fn cell_kind_parses_and_prints() {
    for (s, k) in [
        ("gru", CellKind::Gru),
        ("LSTM", CellKind::Lstm),
        ("rnn", CellKind::Rnn),
    ] {
        let parsed: CellKind = s.parse().unwrap();
        assert_eq!(parsed, k);
        assert_eq!(parsed.to_string(), s.to_ascii_lowercase());
    }
    assert_eq!(serde_json::to_string(&CellKind::Lstm).unwrap(), "\"lstm\"");
    let back: CellKind = serde_json::from_str("\"gru\"").unwrap();
    assert_eq!(back, CellKind::Gru);
    let err = "transformer".parse::<CellKind>().unwrap_err().to_string();
    assert!(err.contains("gru, lstm, rnn"), "{err}");
}
