//! Benchmark of the Koopman fit against the numpy/scikit-learn reference
//! (`scripts/bench_koopman.sh` drives both and prints the ratio).
//!
//! ```text
//! bench_fit generate --out states.npy [--s 64 --n 1000 --k 256 --seed 0]
//! bench_fit fit --data states.npy --out rust.json [--repeats 3] [--precision mixed|f64]
//! bench_fit profile --data states.npy          # time of each stage of the fit
//! bench_fit agree --data states.npy [--lengths lengths.npy]  # mixed vs f64 eigenvalues
//! bench_fit peak [--repeats 5]                 # faer GEMM GFLOP/s of this machine
//! bench_fit stream --sequences 2560 [--total 25000 --batch 64 --n 1000 --k 256]
//! bench_fit resample [--data states.npy | --s 64 --n 1000 --k 256] [--replicates 200]
//!     [--scheme bootstrap|subsample]   # resampled spectrum intervals against one fit
//! ```
//!
//! States come from a seeded RNN-like recurrence `h_{t+1} = tanh(W h_t + x_t)` (f32).

use kann_koopman::faer::linalg::matmul::matmul;
use kann_koopman::faer::{Accum, Mat, Par, c64};
use kann_koopman::io::{read_states_npy, write_f32_npy, write_json_atomic};
use kann_koopman::*;
use std::time::Instant;

/// A small, fast, seeded generator (xorshift64*), enough for synthetic benchmark data.
struct XorShift(u64);
impl XorShift {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1).
    fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// The recurrence weights `W` (`k × k`, gain 1.2, entries uniform with variance gain²/k).
fn weights(k: usize, seed: u64) -> Mat<f32> {
    let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let scale = 1.2 * (3.0f32 / k as f32).sqrt();
    Mat::from_fn(k, k, |_, _| scale * rng.uniform())
}

/// Generates `s` sequences of `n` steps into `out` (C order `[s, n, k]`).
fn generate_batch(w: &Mat<f32>, s: usize, n: usize, seed: u64, out: &mut [f32]) {
    let k = w.nrows();
    let mut rng = XorShift(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
    let mut h = Mat::<f32>::from_fn(s, k, |_, _| 0.5 * rng.uniform());
    let mut z = Mat::<f32>::zeros(s, k);
    for t in 0..n {
        for i in 0..s {
            for j in 0..k {
                out[(i * n + t) * k + j] = h[(i, j)];
            }
        }
        matmul(
            z.as_mut(),
            Accum::Replace,
            h.as_ref(),
            w.transpose(),
            1.0,
            Par::rayon(0),
        );
        for i in 0..s {
            for j in 0..k {
                h[(i, j)] = (z[(i, j)] + 0.5 * rng.uniform()).tanh();
            }
        }
    }
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse().unwrap_or_else(|_| {
                eprintln!("bad value for {name}: {v}");
                std::process::exit(2)
            })
        })
        .unwrap_or(default)
}

/// `--precision mixed|f64` (default mixed).
fn precision_arg(args: &[String]) -> Precision {
    match arg(args, "--precision", "mixed".to_string()).as_str() {
        "f64" => Precision::F64,
        "mixed" => Precision::Mixed,
        p => {
            eprintln!("--precision {p}: expected f64 or mixed");
            std::process::exit(2)
        }
    }
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// One fit with the outputs of the numpy pipelines: basis, C, the eigenvalues of C, e_rel.
fn full_fit(states: &States, precision: Precision) -> (KoopmanModel, Vec<c64>, RelativeError) {
    let options = FitOptions {
        precision,
        ..FitOptions::default()
    };
    let model = koopman_operator(states, &options).expect("fit");
    let eigenvalues = model.koopman_operator.eigenvalues().expect("eigenvalues");
    let err = relative_error(states, &model).expect("e_rel");
    (model, eigenvalues, err)
}

/// Sorted eigenvalue moduli and `e_rel` of a fit from Grams in `precision`, without the
/// conditioning guard of `koopman_operator` (the raw mixed-precision result).
fn raw_fit(states: &States, precision: Precision) -> (Vec<f64>, f64, f64) {
    let mut acc = GramAccumulator::with_precision(states.hidden(), precision);
    acc.push(states).expect("push");
    let model = acc.finish(&FitOptions::default()).expect("fit");
    let spectrum = Spectrum::new(&model).expect("spectrum");
    let err = relative_error(states, &model).expect("e_rel");
    let mut moduli: Vec<f64> = spectrum.eigenvalues.iter().map(|l| l.norm()).collect();
    moduli.sort_by(|a, b| b.total_cmp(a));
    (moduli, err.e_rel, model.condition)
}

/// Agreement of the mixed-precision fit with the `f64` one on a states file (real steps, and
/// all steps when padded): max |Δ|λ|| of the sorted moduli, Δe_rel, the normal matrix's
/// condition, and the precision `koopman_operator` chose.
fn agree(data: &str, lengths: &str) {
    let mut states = read_states_npy(data).expect("read states");
    if !lengths.is_empty() {
        let l =
            kann_koopman::io::read_lengths_npy(lengths, states.num_sequences(), states.seq_len())
                .expect("read lengths");
        states = states.with_lengths(l).expect("lengths");
    }
    let mut views = vec![("real steps", states.clone())];
    if states.is_padded() {
        views.push(("all steps", states.with_all_steps().expect("all steps")));
    }
    for (name, st) in &views {
        let (m64, e64, cond) = raw_fit(st, Precision::F64);
        let (mmx, emx, _) = raw_fit(st, Precision::Mixed);
        let worst = m64
            .iter()
            .zip(&mmx)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let mixed = FitOptions {
            precision: Precision::Mixed,
            ..FitOptions::default()
        };
        let chosen = koopman_operator(st, &mixed).expect("fit");
        println!(
            "{data} ({name}, {} states, rank {}): cond(X~ᵀX~) {cond:.3e}; mixed vs f64: max |d|lambda|| {worst:.2e}, |d e_rel| {:.2e} (e_rel {e64:.6}); koopman_operator(precision mixed) uses {}",
            st.num_valid(),
            m64.len(),
            (e64 - emx).abs(),
            chosen.precision
        );
    }
}

/// Best-of-`repeats` GFLOP/s of `c = a b` (faer, both cores) for an `m × kk` times `kk × n`
/// product of type `T`.
fn gemm_rate<T: kann_koopman::faer::traits::ComplexField + Copy>(
    m: usize,
    kk: usize,
    n: usize,
    repeats: usize,
    val: impl Fn(usize, usize) -> T,
) -> f64 {
    let a = Mat::<T>::from_fn(kk, m, &val);
    let b = Mat::<T>::from_fn(kk, n, |i, j| val(j, i));
    let mut c = Mat::<T>::zeros(m, n);
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let t0 = Instant::now();
        matmul(
            c.as_mut(),
            Accum::Replace,
            a.transpose(),
            b.as_ref(),
            T::one_impl(),
            Par::rayon(0),
        );
        best = best.min(t0.elapsed().as_secs_f64());
    }
    2.0 * (m * kk * n) as f64 / best / 1e9
}

/// Measured peak GEMM rates of this machine with faer (the floor of the fit is its FLOPs over
/// these rates).
fn peak(repeats: usize) {
    let f = |i: usize, j: usize| ((i * 7 + j * 13) % 17) as f64 / 17.0 - 0.5;
    let g = |i: usize, j: usize| f(i, j) as f32;
    for &(m, kk, n) in &[(2048, 2048, 2048), (256, 64_000, 256)] {
        println!(
            "faer GEMM {m} x {kk} x {n} ({} threads): f64 {:.1} GFLOP/s, f32 {:.1} GFLOP/s (best of {repeats})",
            Par::rayon(0).degree(),
            gemm_rate::<f64>(m, kk, n, repeats, f),
            gemm_rate::<f32>(m, kk, n, repeats, g),
        );
    }
}

/// Cost of the resampled intervals (issue #23) against one fit, in the same run: one fit (Grams
/// pass, basis, operator, spectrum), the per-sequence Gram pass, the small dense problems of one
/// fit from Grams, and `replicates` refits with matching ([`bootstrap_spectrum`]).
fn resample_cost(states: &States, replicates: usize, scheme: Scheme) {
    let options = FitOptions::default();
    let mut fit_s = f64::INFINITY;
    let mut rank = 0;
    for _ in 0..2 {
        let t0 = Instant::now();
        let model = koopman_operator(states, &options).expect("fit");
        let spectrum = Spectrum::new(&model).expect("spectrum");
        fit_s = fit_s.min(t0.elapsed().as_secs_f64());
        rank = spectrum.len();
    }
    let t0 = Instant::now();
    let parts = SequenceGrams::from_states(states, Precision::F64).expect("per-sequence Grams");
    let parts_s = t0.elapsed().as_secs_f64();
    let ones = vec![1.0; states.num_sequences()];
    let mut dense_s = f64::INFINITY;
    for _ in 0..2 {
        let t0 = Instant::now();
        let model = parts.fit_weighted(&ones, &options).expect("refit");
        Spectrum::new(&model).expect("spectrum");
        dense_s = dense_s.min(t0.elapsed().as_secs_f64());
    }
    let boot = BootstrapOptions {
        scheme,
        replicates,
        ..BootstrapOptions::default()
    };
    let t0 = Instant::now();
    let ci = bootstrap_spectrum(&parts, &options, &boot).expect("resampling");
    let boot_s = t0.elapsed().as_secs_f64();
    let total = parts_s + boot_s;
    println!(
        "resample [{}, {}, {}] rank {rank}, {replicates} {scheme} replicates ({} failed), {} threads:",
        states.num_sequences(),
        states.seq_len(),
        states.hidden(),
        ci.failed,
        Par::rayon(0).degree()
    );
    println!("  one fit (Grams pass + basis + operator + spectrum): {fit_s:.3} s (best of 2)");
    println!(
        "  per-sequence Gram pass: {parts_s:.3} s; one refit from weighted Grams (sum + basis + operator + spectrum): {dense_s:.3} s (best of 2)"
    );
    println!(
        "  {replicates} replicates + matching: {boot_s:.3} s = {:.3} s per replicate = {:.2}x the refit from Grams",
        boot_s / replicates as f64,
        boot_s / replicates as f64 / dense_s
    );
    println!(
        "  RATIO intervals (Gram pass + replicates) / one fit = {total:.2} s / {fit_s:.3} s = {:.1}x (vs {replicates}x for {replicates} passes over the states)",
        total / fit_s
    );
    for e in ci.eigen.iter().take(3) {
        println!(
            "  lambda ({:.5}, {:.5}): |lambda| in [{:.5}, {:.5}], match {:.2}",
            e.lambda[0], e.lambda[1], e.modulus_ci[0], e.modulus_ci[1], e.match_fraction
        );
    }
    println!(
        "  count |lambda| > 0.99: {} in [{}, {}]",
        ci.count_above, ci.count_above_ci[0], ci.count_above_ci[1]
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().map(String::as_str).unwrap_or("");
    match cmd {
        "generate" => {
            let (s, n, k) = (
                arg(&args, "--s", 64),
                arg(&args, "--n", 1000),
                arg(&args, "--k", 256),
            );
            let seed: u64 = arg(&args, "--seed", 0);
            let out: String = arg(&args, "--out", "states.npy".to_string());
            let w = weights(k, seed);
            let mut data = vec![0.0f32; s * n * k];
            let t0 = Instant::now();
            generate_batch(&w, s, n, seed + 1, &mut data);
            write_f32_npy(&out, &data, &[s, n, k]).expect("write");
            println!(
                "generated [{s}, {n}, {k}] f32 states in {:.2}s -> {out}",
                t0.elapsed().as_secs_f64()
            );
        }
        "fit" => {
            let data: String = arg(&args, "--data", "states.npy".to_string());
            let out: String = arg(&args, "--out", "rust.json".to_string());
            let repeats: usize = arg(&args, "--repeats", 3);
            let precision = precision_arg(&args);
            let t_read = Instant::now();
            let states = read_states_npy(&data).expect("read states");
            let read_s = t_read.elapsed().as_secs_f64();
            let mut times = Vec::new();
            let mut last = None;
            for _ in 0..repeats.max(1) {
                let t0 = Instant::now();
                let res = full_fit(&states, precision);
                times.push(t0.elapsed().as_secs_f64());
                last = Some(res);
            }
            let (model, eigenvalues, err) = last.expect("at least one run");
            let mut sorted = times.clone();
            sorted.sort_by(f64::total_cmp);
            let median = sorted[sorted.len() / 2];
            // What the analysis adds: eigenvectors, U = V⁻¹, residuals (not in the numpy ratio).
            let t_spec = Instant::now();
            let spectrum = Spectrum::new(&model).expect("spectrum");
            let spectrum_s = t_spec.elapsed().as_secs_f64();
            assert_eq!(spectrum.len(), eigenvalues.len());
            let mut moduli: Vec<f64> = eigenvalues.iter().map(|l| l.norm()).collect();
            moduli.sort_by(|a, b| b.total_cmp(a));
            println!(
                "rust fit [{}, {}, {}] rank {} ({:?}, {} products, {} threads): runs {:?} s, median {median:.3} s (read {read_s:.2} s, not timed; full spectrum with eigenvectors, U and residuals {spectrum_s:.3} s more); e_rel {:.6}; top |lambda| {:?}; cond {:.2e}",
                states.num_sequences(),
                states.seq_len(),
                states.hidden(),
                model.rank(),
                model.method,
                model.precision,
                Par::rayon(0).degree(),
                times
                    .iter()
                    .map(|t| (t * 1000.0).round() / 1000.0)
                    .collect::<Vec<_>>(),
                err.e_rel,
                &moduli[..4.min(moduli.len())],
                model.condition
            );
            for w in &model.warnings {
                println!("warning: {w}");
            }
            let json = serde_json::json!({
                "seconds": median,
                "runs": times,
                "rank": model.rank(),
                "e_rel": err.e_rel,
                "moduli": moduli,
                "condition": model.condition,
                "method": format!("{:?}", model.method),
                "spectrum_seconds": spectrum_s,
                "precision": precision.to_string(),
                "used": model.precision.to_string(),
            });
            write_json_atomic(&out, &json).expect("write json");
        }
        "profile" => {
            let data: String = arg(&args, "--data", "states.npy".to_string());
            let states = read_states_npy(&data).expect("read states");
            let precision = precision_arg(&args);
            for _ in 0..2 {
                let t0 = Instant::now();
                let mut acc = GramAccumulator::with_precision(states.hidden(), precision);
                acc.push(&states).expect("push");
                let t1 = Instant::now();
                let model = acc.finish(&FitOptions::default()).expect("finish");
                let t2 = Instant::now();
                let eigenvalues = model.koopman_operator.eigenvalues().expect("eig");
                let t3 = Instant::now();
                let err = relative_error(&states, &model).expect("e_rel");
                let t4 = Instant::now();
                let spectrum = Spectrum::new(&model).expect("spectrum");
                println!(
                    "grams {:.3} s, finish {:.3} s, eigenvalues {:.3} s, e_rel {:.3} s; full spectrum {:.3} s (e_rel {:.4}, {} eigs)",
                    (t1 - t0).as_secs_f64(),
                    (t2 - t1).as_secs_f64(),
                    (t3 - t2).as_secs_f64(),
                    (t4 - t3).as_secs_f64(),
                    t4.elapsed().as_secs_f64(),
                    err.e_rel,
                    eigenvalues.len().min(spectrum.len())
                );
            }
        }
        "stream" => {
            let (n, k) = (arg(&args, "--n", 1000), arg(&args, "--k", 256));
            let total: usize = arg(&args, "--total", 25_000);
            let seqs: usize = arg(&args, "--sequences", total);
            let batch: usize = arg(&args, "--batch", 64);
            let w = weights(k, 0);
            let mut buf = vec![0.0f32; batch * n * k];
            let mut acc = GramAccumulator::new(k);
            let (mut gen_s, mut push_s, mut erel_s) = (0.0, 0.0, 0.0);
            let nb = seqs.div_ceil(batch);
            for b in 0..nb {
                let s = batch.min(seqs - b * batch);
                let t0 = Instant::now();
                generate_batch(&w, s, n, 1000 + b as u64, &mut buf[..s * n * k]);
                gen_s += t0.elapsed().as_secs_f64();
                let t0 = Instant::now();
                acc.push_f32(&buf[..s * n * k], s, n, None).expect("push");
                push_s += t0.elapsed().as_secs_f64();
            }
            let t0 = Instant::now();
            let model = acc.finish(&FitOptions::default()).expect("finish");
            let spectrum = Spectrum::new(&model).expect("spectrum");
            let finish_s = t0.elapsed().as_secs_f64();
            let mut ea = RelativeErrorAccumulator::new(&model);
            for b in 0..nb {
                let s = batch.min(seqs - b * batch);
                let t0 = Instant::now();
                generate_batch(&w, s, n, 1000 + b as u64, &mut buf[..s * n * k]);
                gen_s += t0.elapsed().as_secs_f64();
                let t0 = Instant::now();
                ea.push_f32(&buf[..s * n * k], s, n, None)
                    .expect("push e_rel");
                erel_s += t0.elapsed().as_secs_f64();
            }
            let err = ea.finish().expect("e_rel");
            let states = (seqs * n) as f64;
            let hwm = vm_hwm_kib().unwrap_or(0);
            println!(
                "stream: {seqs} x {n} x {k} f32 states in batches of {batch} (generated on the fly, {gen_s:.1} s generating, not counted)"
            );
            println!(
                "  pass 1 (Grams): {push_s:.2} s = {:.3e} states/s; finish (basis, C, eig): {finish_s:.3} s; pass 2 (e_rel): {erel_s:.2} s = {:.3e} states/s",
                states / push_s,
                states / erel_s
            );
            println!(
                "  rank {}, e_rel {:.6}, |lambda_1| {:.6}; peak memory VmHWM {:.1} MiB (batch buffer {:.1} MiB)",
                model.rank(),
                err.e_rel,
                spectrum.eigenvalues[0].norm(),
                hwm as f64 / 1024.0,
                (batch * n * k * 4) as f64 / (1 << 20) as f64
            );
            if seqs < total {
                let f = total as f64 / seqs as f64;
                println!(
                    "  EXTRAPOLATED (x{f:.2}, linear in the number of states) to {total} x {n} x {k}: pass 1 {:.0} s, pass 2 {:.0} s, total {:.0} s (excluding generation); memory does not grow with the number of sequences",
                    push_s * f,
                    erel_s * f,
                    (push_s + erel_s) * f + finish_s
                );
            }
        }
        "peak" => peak(arg(&args, "--repeats", 5)),
        "resample" => {
            let data: String = arg(&args, "--data", String::new());
            let states = if data.is_empty() {
                let (s, n, k) = (
                    arg(&args, "--s", 64),
                    arg(&args, "--n", 1000),
                    arg(&args, "--k", 256),
                );
                let seed: u64 = arg(&args, "--seed", 0);
                let w = weights(k, seed);
                let mut buf = vec![0.0f32; s * n * k];
                generate_batch(&w, s, n, seed + 1, &mut buf);
                States::from_f32(&buf, s, n, k).expect("states")
            } else {
                read_states_npy(&data).expect("read states")
            };
            let scheme = match arg(&args, "--scheme", "bootstrap".to_string()).as_str() {
                "bootstrap" => Scheme::Bootstrap,
                "subsample" => Scheme::Subsample,
                other => {
                    eprintln!("--scheme {other}: expected bootstrap or subsample");
                    std::process::exit(2)
                }
            };
            resample_cost(&states, arg(&args, "--replicates", 200), scheme);
        }
        "agree" => {
            let data: String = arg(&args, "--data", "states.npy".to_string());
            let lengths: String = arg(&args, "--lengths", String::new());
            agree(&data, &lengths);
        }
        _ => {
            eprintln!(
                "usage: bench_fit generate|fit|profile|stream|peak|agree|resample [options] (see the source header)"
            );
            std::process::exit(2);
        }
    }
}
