//! The update maps `s' = F(s, x)` of the recurrent cells and their closed-form Jacobians.
//!
//! Weights are in the fused layout of `kann-models` (row-major): `w_x [X, G·H]`, `b_x [G·H]`,
//! `w_h [H, G·H]`, `b_h [G·H]`, gate blocks of width `H`. The input enters only through its
//! projection `x̃ = x W_x + b_x` (`G·H`), so every map takes `x̃` ([`Cell::project_input`]); the
//! hidden projection is `h̃ = h W_h + b_h`. With `σ` the logistic function:
//!
//! - **RNN** (`G = 1`): `h' = tanh(x̃ + h̃)`;
//! - **GRU** (`G = 3`, gates `z, r, n`): `z = σ(x̃_z + h̃_z)`, `r = σ(x̃_r + h̃_r)`,
//!   `n = tanh(x̃_n + r ⊙ h̃_n)`, `h' = (1 − z) ⊙ n + z ⊙ h`;
//! - **LSTM** (`G = 4`, gates `i, f, g, o`): `a = x̃ + h̃`, `c' = σ(a_f) ⊙ c + σ(a_i) ⊙ tanh(a_g)`,
//!   `h' = σ(a_o) ⊙ tanh(c')`.
//!
//! The state `s` is `h` (`H` numbers) for the GRU and RNN and `[h; c]` (`2H`) for the LSTM: the
//! LSTM's map is a map of the pair, and a fixed point of `h` alone does not exist without `c`.
//!
//! Jacobians are written with `F` a column vector: `J[r, j] = ∂F_r/∂s_j`. Every output row `r`
//! belongs to one unit `u(r)` (`r mod H`) and depends on the state through the pre-activations of
//! that unit's gates, `h̃_{g,u} = b_h[gH+u] + Σ_j h_j W_h[j, gH+u]`, plus at most one direct term:
//!
//! `J[r, j] = Σ_g γ_g(r) W_h[j, gH + u(r)] (j < H)  +  δ(j, d(r)) κ(r)`,
//!
//! with, for unit `i` (`z, r, n, h'` of the GRU above; `ĉ = tanh(a_g)`, `t = tanh(c')`):
//!
//! | cell | `γ_g` | direct term `κ` at column `d` |
//! | --- | --- | --- |
//! | RNN | `γ = 1 − h'²` | none |
//! | GRU | `γ_z = (h − n) z(1 − z)`, `γ_r = (1 − z)(1 − n²) h̃_n r(1 − r)`, `γ_n = (1 − z)(1 − n²) r` | `z` at `d = i` |
//! | LSTM row `c'_i` | `γ_i = ĉ σ_i(1 − σ_i)`, `γ_f = c σ_f(1 − σ_f)`, `γ_g = σ_i(1 − ĉ²)`, `γ_o = 0` | `σ_f` at `d = H + i` |
//! | LSTM row `h'_i` | `o(1 − t²)` × the `c'` row's `γ_{i,f,g}`, `γ_o = σ_o(1 − σ_o) t` | `o(1 − t²) σ_f` at `d = H + i` |
//!
//! The input Jacobian is `∂F_r/∂x̃_{gH+u(r)} = β_g(r)` with `β = γ` except the GRU's new gate,
//! `β_n = (1 − z)(1 − n²)` (the reset gate multiplies only the hidden part), and
//! `∂F/∂x = (∂F/∂x̃) W_xᵀ`.

use faer::Mat;
use serde::{Deserialize, Serialize};

use crate::error::{DynamicsError, Result};

/// The recurrent cell type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    /// Gated recurrent unit (gates `z, r, n`).
    Gru,
    /// Long short-term memory (gates `i, f, g, o`); state `[h; c]`.
    Lstm,
    /// Vanilla tanh RNN.
    Rnn,
}

impl CellKind {
    /// Number of gate blocks `G` in the fused weights.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Gru => 3,
            CellKind::Lstm => 4,
            CellKind::Rnn => 1,
        }
    }
}

impl std::fmt::Display for CellKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CellKind::Gru => "gru",
            CellKind::Lstm => "lstm",
            CellKind::Rnn => "rnn",
        })
    }
}

impl std::str::FromStr for CellKind {
    type Err = DynamicsError;

    /// `gru`, `lstm` or `rnn`, in any case, surrounding spaces ignored.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gru" => Ok(CellKind::Gru),
            "lstm" => Ok(CellKind::Lstm),
            "rnn" => Ok(CellKind::Rnn),
            _ => Err(DynamicsError::UnknownCellKind(s.to_string())),
        }
    }
}

/// A recurrent cell with its weights as numbers (see the module docs for the layout).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    kind: CellKind,
    d_input: usize,
    d_hidden: usize,
    w_x: Vec<f64>,
    b_x: Vec<f64>,
    w_h: Vec<f64>,
    b_h: Vec<f64>,
}

/// Everything one evaluation of `F` yields: the next state and the coefficients of both
/// Jacobians (module docs).
struct Eval {
    next: Vec<f64>,
    /// `γ_g(r)`, `G` per row.
    gamma: Vec<[f64; 4]>,
    /// `β_g(r)`, `G` per row.
    beta: Vec<[f64; 4]>,
    /// The direct term `(d(r), κ(r))` of each row, if any.
    direct: Vec<Option<(usize, f64)>>,
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn check_len(what: &'static str, v: &[f64], expected: usize) -> Result<()> {
    if v.len() != expected {
        return Err(DynamicsError::Shape {
            what,
            expected,
            got: v.len(),
        });
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(DynamicsError::NonFinite(what));
    }
    Ok(())
}

impl Cell {
    /// A cell from its fused weights (row-major `w_x [X, G·H]`, `b_x [G·H]`, `w_h [H, G·H]`,
    /// `b_h [G·H]`); an error names the array of the wrong length or with a non-finite value.
    pub fn new(
        kind: CellKind,
        d_input: usize,
        d_hidden: usize,
        w_x: Vec<f64>,
        b_x: Vec<f64>,
        w_h: Vec<f64>,
        b_h: Vec<f64>,
    ) -> Result<Cell> {
        if d_input == 0 || d_hidden == 0 {
            return Err(DynamicsError::InvalidParameter(format!(
                "input width {d_input} and hidden width {d_hidden} must be at least 1"
            )));
        }
        let gh = kind.gates() * d_hidden;
        check_len("w_x", &w_x, d_input * gh)?;
        check_len("b_x", &b_x, gh)?;
        check_len("w_h", &w_h, d_hidden * gh)?;
        check_len("b_h", &b_h, gh)?;
        Ok(Cell {
            kind,
            d_input,
            d_hidden,
            w_x,
            b_x,
            w_h,
            b_h,
        })
    }

    /// The cell type.
    pub fn kind(&self) -> CellKind {
        self.kind
    }

    /// Input width `X`.
    pub fn d_input(&self) -> usize {
        self.d_input
    }

    /// Hidden width `H`.
    pub fn d_hidden(&self) -> usize {
        self.d_hidden
    }

    /// Width `G·H` of the gate pre-activations (and of [`Cell::project_input`]).
    pub fn d_gates(&self) -> usize {
        self.kind.gates() * self.d_hidden
    }

    /// Width of the state `s`: `H`, or `2H` for the LSTM (`s = [h; c]`).
    pub fn state_dim(&self) -> usize {
        match self.kind {
            CellKind::Lstm => 2 * self.d_hidden,
            _ => self.d_hidden,
        }
    }

    /// The hidden part `h` of a state (all of it, except the LSTM's `c` half).
    pub fn hidden<'a>(&self, s: &'a [f64]) -> &'a [f64] {
        &s[..self.d_hidden.min(s.len())]
    }

    /// The input projection `x̃ = x W_x + b_x` (`G·H`).
    pub fn project_input(&self, x: &[f64]) -> Result<Vec<f64>> {
        check_len("input x", x, self.d_input)?;
        let gh = self.d_gates();
        let mut out = self.b_x.clone();
        for (m, &xm) in x.iter().enumerate() {
            let row = &self.w_x[m * gh..(m + 1) * gh];
            for (o, w) in out.iter_mut().zip(row) {
                *o += xm * w;
            }
        }
        Ok(out)
    }

    fn check(&self, s: &[f64], xp: &[f64]) -> Result<()> {
        check_len("state s", s, self.state_dim())?;
        check_len("input projection x~", xp, self.d_gates())
    }

    /// `s' = F(s, x̃)`, with `x̃` from [`Cell::project_input`].
    pub fn map(&self, s: &[f64], xp: &[f64]) -> Result<Vec<f64>> {
        self.check(s, xp)?;
        Ok(self.step(s, xp))
    }

    /// `F` without the checks (lengths must be right).
    pub(crate) fn step(&self, s: &[f64], xp: &[f64]) -> Vec<f64> {
        self.eval(s, xp, false).next
    }

    /// `h̃ = h W_h + b_h`.
    fn hidden_projection(&self, h: &[f64]) -> Vec<f64> {
        let gh = self.d_gates();
        let mut out = self.b_h.clone();
        for (j, &hj) in h.iter().enumerate() {
            if hj == 0.0 {
                continue;
            }
            let row = &self.w_h[j * gh..(j + 1) * gh];
            for (o, w) in out.iter_mut().zip(row) {
                *o += hj * w;
            }
        }
        out
    }

    fn eval(&self, s: &[f64], xp: &[f64], coefficients: bool) -> Eval {
        let hd = self.d_hidden;
        let n = self.state_dim();
        let hp = self.hidden_projection(&s[..hd]);
        let mut next = vec![0.0; n];
        let cap = if coefficients { n } else { 0 };
        let mut gamma = Vec::with_capacity(cap);
        let mut beta = Vec::with_capacity(cap);
        let mut direct = Vec::with_capacity(cap);
        match self.kind {
            CellKind::Rnn => {
                for i in 0..hd {
                    let y = (xp[i] + hp[i]).tanh();
                    next[i] = y;
                    if coefficients {
                        let d = 1.0 - y * y;
                        gamma.push([d, 0.0, 0.0, 0.0]);
                        beta.push([d, 0.0, 0.0, 0.0]);
                        direct.push(None);
                    }
                }
            }
            CellKind::Gru => {
                for i in 0..hd {
                    let z = sigmoid(xp[i] + hp[i]);
                    let r = sigmoid(xp[hd + i] + hp[hd + i]);
                    let hn = hp[2 * hd + i];
                    let nn = (xp[2 * hd + i] + r * hn).tanh();
                    let h = s[i];
                    next[i] = (1.0 - z) * nn + z * h;
                    if coefficients {
                        let dn = (1.0 - z) * (1.0 - nn * nn);
                        let gz = (h - nn) * z * (1.0 - z);
                        let gr = dn * hn * r * (1.0 - r);
                        gamma.push([gz, gr, dn * r, 0.0]);
                        beta.push([gz, gr, dn, 0.0]);
                        direct.push(Some((i, z)));
                    }
                }
            }
            CellKind::Lstm => {
                let mut g_h = Vec::with_capacity(cap);
                let mut g_c = Vec::with_capacity(cap);
                for i in 0..hd {
                    let a = |g: usize| xp[g * hd + i] + hp[g * hd + i];
                    let (si, sf, ch, so) =
                        (sigmoid(a(0)), sigmoid(a(1)), a(2).tanh(), sigmoid(a(3)));
                    let c = s[hd + i];
                    let c2 = sf * c + si * ch;
                    let t = c2.tanh();
                    next[i] = so * t;
                    next[hd + i] = c2;
                    if coefficients {
                        let cg = [
                            ch * si * (1.0 - si),
                            c * sf * (1.0 - sf),
                            si * (1.0 - ch * ch),
                            0.0,
                        ];
                        let d = so * (1.0 - t * t);
                        let hg = [d * cg[0], d * cg[1], d * cg[2], so * (1.0 - so) * t];
                        g_h.push((hg, (hd + i, d * sf)));
                        g_c.push((cg, (hd + i, sf)));
                    }
                }
                for (g, dir) in g_h.into_iter().chain(g_c) {
                    gamma.push(g);
                    beta.push(g);
                    direct.push(Some(dir));
                }
            }
        }
        Eval {
            next,
            gamma,
            beta,
            direct,
        }
    }

    /// `F(s, x̃)` and the state Jacobian `J = ∂F/∂s` (`n × n`, `n` = [`Cell::state_dim`]) in
    /// closed form (module docs).
    pub fn map_and_jacobian(&self, s: &[f64], xp: &[f64]) -> Result<(Vec<f64>, Mat<f64>)> {
        self.check(s, xp)?;
        Ok(self.step_jacobian(s, xp))
    }

    /// The state Jacobian `∂F/∂s` at `(s, x̃)`.
    pub fn jacobian_state(&self, s: &[f64], xp: &[f64]) -> Result<Mat<f64>> {
        Ok(self.map_and_jacobian(s, xp)?.1)
    }

    pub(crate) fn step_jacobian(&self, s: &[f64], xp: &[f64]) -> (Vec<f64>, Mat<f64>) {
        let e = self.eval(s, xp, true);
        let (hd, n, gh, g) = (
            self.d_hidden,
            self.state_dim(),
            self.d_gates(),
            self.kind.gates(),
        );
        let mut jac = Mat::<f64>::zeros(n, n);
        for r in 0..n {
            let u = r % hd;
            let gam = &e.gamma[r];
            for j in 0..hd {
                let row = &self.w_h[j * gh..(j + 1) * gh];
                let mut v = 0.0;
                for (k, gk) in gam.iter().enumerate().take(g) {
                    v += gk * row[k * hd + u];
                }
                jac[(r, j)] = v;
            }
            if let Some((d, kappa)) = e.direct[r] {
                jac[(r, d)] += kappa;
            }
        }
        (e.next, jac)
    }

    /// `∂F/∂x̃` (`n × G·H`): row `r` is non-zero only at the gates of its unit.
    pub fn jacobian_projected_input(&self, s: &[f64], xp: &[f64]) -> Result<Mat<f64>> {
        self.check(s, xp)?;
        let e = self.eval(s, xp, true);
        let (hd, n) = (self.d_hidden, self.state_dim());
        let mut out = Mat::<f64>::zeros(n, self.d_gates());
        for r in 0..n {
            for (k, b) in e.beta[r].iter().enumerate().take(self.kind.gates()) {
                out[(r, k * hd + r % hd)] = *b;
            }
        }
        Ok(out)
    }

    /// The input Jacobian `B = ∂F/∂x = (∂F/∂x̃) W_xᵀ` (`n × X`) at `(s, x̃)`.
    pub fn jacobian_input(&self, s: &[f64], xp: &[f64]) -> Result<Mat<f64>> {
        self.check(s, xp)?;
        let e = self.eval(s, xp, true);
        let (hd, n, gh, x) = (
            self.d_hidden,
            self.state_dim(),
            self.d_gates(),
            self.d_input,
        );
        let mut out = Mat::<f64>::zeros(n, x);
        for r in 0..n {
            let u = r % hd;
            for m in 0..x {
                let row = &self.w_x[m * gh..(m + 1) * gh];
                let mut v = 0.0;
                for (k, b) in e.beta[r].iter().enumerate().take(self.kind.gates()) {
                    v += b * row[k * hd + u];
                }
                out[(r, m)] = v;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random numbers in `[-scale, scale]`.
    pub(crate) fn numbers(n: usize, seed: u64, scale: f64) -> Vec<f64> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                scale * (2.0 * (x >> 11) as f64 / (1u64 << 53) as f64 - 1.0)
            })
            .collect()
    }

    fn cell(kind: CellKind, x: usize, h: usize, seed: u64) -> Cell {
        let gh = kind.gates() * h;
        Cell::new(
            kind,
            x,
            h,
            numbers(x * gh, seed, 0.8),
            numbers(gh, seed + 1, 0.5),
            numbers(h * gh, seed + 2, 0.8),
            numbers(gh, seed + 3, 0.5),
        )
        .unwrap()
    }

    /// Central differences of `F` agree with the closed-form Jacobians (state and input) for
    /// every cell, to 1e-7.
    #[test]
    fn closed_form_jacobians_match_finite_differences() {
        for kind in [CellKind::Rnn, CellKind::Gru, CellKind::Lstm] {
            let c = cell(kind, 3, 4, 7);
            let n = c.state_dim();
            let s = numbers(n, 11, 0.9);
            let x = numbers(3, 12, 1.0);
            let xp = c.project_input(&x).unwrap();
            let j = c.jacobian_state(&s, &xp).unwrap();
            let b = c.jacobian_input(&s, &xp).unwrap();
            let eps = 1e-6;
            for col in 0..n {
                let (mut sp, mut sm) = (s.clone(), s.clone());
                sp[col] += eps;
                sm[col] -= eps;
                let (fp, fm) = (c.map(&sp, &xp).unwrap(), c.map(&sm, &xp).unwrap());
                for r in 0..n {
                    let fd = (fp[r] - fm[r]) / (2.0 * eps);
                    assert!((fd - j[(r, col)]).abs() < 1e-7, "{kind} J[{r},{col}]");
                }
            }
            for col in 0..3 {
                let (mut xpl, mut xm) = (x.clone(), x.clone());
                xpl[col] += eps;
                xm[col] -= eps;
                let fp = c.map(&s, &c.project_input(&xpl).unwrap()).unwrap();
                let fm = c.map(&s, &c.project_input(&xm).unwrap()).unwrap();
                for r in 0..n {
                    let fd = (fp[r] - fm[r]) / (2.0 * eps);
                    assert!((fd - b[(r, col)]).abs() < 1e-7, "{kind} B[{r},{col}]");
                }
            }
        }
    }

    #[test]
    fn bad_shapes_and_values_are_errors_not_panics() {
        assert!(
            Cell::new(
                CellKind::Gru,
                2,
                2,
                vec![0.0; 11],
                vec![0.0; 6],
                vec![0.0; 12],
                vec![0.0; 6]
            )
            .is_err()
        );
        let mut w = vec![0.0; 12];
        w[3] = f64::NAN;
        let e = Cell::new(
            CellKind::Gru,
            2,
            2,
            w,
            vec![0.0; 6],
            vec![0.0; 12],
            vec![0.0; 6],
        );
        assert!(matches!(e, Err(DynamicsError::NonFinite("w_x"))));
        assert!(
            Cell::new(
                CellKind::Rnn,
                0,
                2,
                vec![],
                vec![0.0; 2],
                vec![0.0; 4],
                vec![0.0; 2]
            )
            .is_err()
        );
        let c = cell(CellKind::Lstm, 2, 3, 1);
        assert!(
            c.map(&[0.0; 3], &[0.0; 12]).is_err(),
            "the LSTM state is [h; c]"
        );
        assert!(c.map(&[0.0; 6], &[0.0; 12]).is_ok());
        assert!(c.project_input(&[1.0]).is_err());
    }

    /// The RNN map is `tanh(x̃ + h W_h + b_h)`, with the weights read in the fused layout.
    #[test]
    fn rnn_map_reads_the_fused_layout() {
        // H = 2, X = 1: w_h = [[1, 2], [3, 4]] means h̃_0 = h_0 + 3 h_1, h̃_1 = 2 h_0 + 4 h_1.
        let c = Cell::new(
            CellKind::Rnn,
            1,
            2,
            vec![0.5, -0.5],
            vec![0.1, 0.2],
            vec![1.0, 2.0, 3.0, 4.0],
            vec![0.0, 0.0],
        )
        .unwrap();
        let xp = c.project_input(&[2.0]).unwrap();
        assert_eq!(xp, vec![1.1, -0.8]);
        let f = c.map(&[0.1, -0.2], &xp).unwrap();
        assert!((f[0] - (1.1f64 + 0.1 - 0.6).tanh()).abs() < 1e-15);
        assert!((f[1] - (-0.8f64 + 0.2 - 0.8).tanh()).abs() < 1e-15);
    }
}
