//! Coverage of the resampling intervals of `|λ|` on planted noisy linear systems (issue #23,
//! item 4): prints a markdown table and writes it as CSV.
//!
//! ```text
//! cargo run --release -p kann-koopman --example calibrate_resample -- \
//!     [--repetitions 200] [--replicates 200] [--level 0.95] [--seed 0] [--out coverage.csv]
//! ```
//!
//! Settings: eigenvalues 0.9, 0.6 ± 0.3i (|λ| = 0.671), −0.5 (`k = 4`); noise σ ∈ {0.1, 0.3,
//! 1.0} (initial state N(0, I)); 20 or 100 sequences of 30 steps; both schemes.

use kann_koopman::Scheme;
use kann_koopman::calibration::{CoverageOptions, PlantedSetting, coverage};
use kann_koopman::faer::c64;
use kann_koopman::io::write_atomic;
use std::fmt::Write as _;
use std::io::Write;
use std::time::Instant;

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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repetitions: usize = arg(&args, "--repetitions", 200);
    let replicates: usize = arg(&args, "--replicates", 200);
    let level: f64 = arg(&args, "--level", 0.95);
    let seed: u64 = arg(&args, "--seed", 0);
    let out: String = arg(&args, "--out", "coverage.csv".to_string());
    let eigenvalues = vec![c64::new(0.9, 0.0), c64::new(0.6, 0.3), c64::new(-0.5, 0.0)];
    let t0 = Instant::now();
    let mut csv = String::from(
        "scheme,noise,sequences,steps,repetitions,replicates,level,lambda_re,lambda_im,modulus,coverage,mean_width,bias,spread\n",
    );
    println!(
        "Coverage of the nominal {:.0}% interval of |λ| ({repetitions} data sets per row, {replicates} replicates each; 30 steps per sequence)\n",
        100.0 * level
    );
    println!(
        "| scheme | σ | sequences | cover 0.9 | cover 0.671 (pair) | cover 0.5 | width (0.9) | bias / spread (0.9) | bias / spread (0.671) | bias / spread (0.5) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for scheme in [Scheme::Bootstrap, Scheme::Subsample] {
        for noise in [0.1, 0.3, 1.0] {
            for sequences in [20, 100] {
                let setting = PlantedSetting {
                    eigenvalues: eigenvalues.clone(),
                    sequences,
                    steps: 30,
                    noise,
                };
                let options = CoverageOptions {
                    scheme,
                    repetitions,
                    replicates,
                    level,
                    seed,
                };
                let c = coverage(&setting, &options).unwrap_or_else(|e| {
                    eprintln!("coverage of {setting:?}: {e}");
                    std::process::exit(1)
                });
                let m = &c.moduli;
                println!(
                    "| {scheme} | {noise} | {sequences} | {:.3} | {:.3} | {:.3} | {:.4} | {:+.4} / {:.4} | {:+.4} / {:.4} | {:+.4} / {:.4} |",
                    m[0].coverage,
                    m[1].coverage,
                    m[2].coverage,
                    m[0].mean_width,
                    m[0].bias,
                    m[0].spread,
                    m[1].bias,
                    m[1].spread,
                    m[2].bias,
                    m[2].spread,
                );
                for e in m {
                    let _ = writeln!(
                        csv,
                        "{scheme},{noise},{sequences},30,{},{replicates},{level},{},{},{},{},{},{},{}",
                        c.repetitions,
                        e.lambda[0],
                        e.lambda[1],
                        e.modulus,
                        e.coverage,
                        e.mean_width,
                        e.bias,
                        e.spread
                    );
                }
            }
        }
    }
    if let Err(e) = write_atomic(&out, |w| w.write_all(csv.as_bytes())) {
        eprintln!("writing {out}: {e}");
        std::process::exit(1);
    }
    println!(
        "\n({:.1} s; CSV written to {out}; bias = mean |λ̂| − |λ|, spread = sd of |λ̂| over the data sets)",
        t0.elapsed().as_secs_f64()
    );
}
