//! Times one training step (forward + backward + Adam) of an embedding → GRU → linear → BCE
//! sentiment model, with burn's stock `nn::Gru` and with `kann_models::cells::Recurrent`.
//!
//! ```text
//! cargo run --release -p kann-models --example bench_cells -- --steps 100,400,1000
//! ```
//! Prints one `RESULT impl=<stock|fast> steps=<T> secs=<median> device=<name>` line per measurement;
//! `scripts/bench_cells.sh` runs it next to the PyTorch reference and prints the ratios.

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::nn::loss::BinaryCrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, Gru, GruConfig, Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor};
use clap::Parser;
use kann_models::cells::{CellKind, Recurrent, RecurrentConfig};
use std::time::Instant;

/// Large training buffers are backed by transparent huge pages (see `kann_models::hugepages`).
#[global_allocator]
static ALLOC: kann_models::hugepages::HugePageAlloc = kann_models::hugepages::HugePageAlloc;

#[derive(Parser, Debug)]
#[command(about = "Benchmark burn's stock GRU against the fast recurrent cells")]
struct Args {
    /// Sequence lengths to time, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "100,400,1000")]
    steps: Vec<usize>,
    /// Batch size.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Embedding width.
    #[arg(long, default_value_t = 128)]
    emb: usize,
    /// Hidden width.
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// Vocabulary size.
    #[arg(long, default_value_t = 32_000)]
    vocab: usize,
    /// Timed training steps per measurement (after one warm-up step); the median is reported.
    #[arg(long, default_value_t = 3)]
    iters: usize,
    /// Skip the stock GRU for sequence lengths above this (it is quadratic: ~46 s at T=1000).
    #[arg(long)]
    stock_max_steps: Option<usize>,
    /// Skip the stock GRU entirely.
    #[arg(long)]
    no_stock: bool,
    /// Also print the forward / backward / optimizer split of every timed step.
    #[arg(long)]
    phases: bool,
    /// Backend: `flex` (CPU), `ndarray` (CPU, deprecated) or `wgpu` (need the cargo feature of
    /// that name).
    #[arg(long, default_value = "flex")]
    device: String,
}

/// The recurrent layer under test.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // built once per benchmark; boxing would not change timings
enum Layer {
    Stock(Gru),
    Fast(Recurrent),
}

#[derive(Module, Debug)]
struct Model {
    embedding: Embedding,
    layer: Layer,
    head: Linear,
}

impl Model {
    fn new(args: &Args, stock: bool, device: &Device) -> Self {
        let layer = if stock {
            Layer::Stock(GruConfig::new(args.emb, args.hidden, true).init(device))
        } else {
            Layer::Fast(RecurrentConfig::new(CellKind::Gru, args.emb, args.hidden).init(device))
        };
        Model {
            embedding: EmbeddingConfig::new(args.vocab, args.emb).init(device),
            layer,
            head: LinearConfig::new(args.hidden, 1).init(device),
        }
    }

    /// Logits `[B, 1]` from the hidden state at the last step.
    fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let [b, t] = tokens.dims();
        let x = self.embedding.forward(tokens);
        let hidden = match &self.layer {
            Layer::Stock(gru) => gru.forward(x, None),
            Layer::Fast(rec) => rec.forward(x, false).hidden,
        };
        let h = hidden.dims()[2];
        let last = hidden.narrow(1, t - 1, 1).reshape([b, h]);
        self.head.forward(last)
    }
}

fn device(name: &str) -> Result<Device> {
    let base = match name {
        "flex" => Device::flex(),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)] // the deprecated backend is what is being compared
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        other => bail!(
            "unknown or not compiled-in device `{other}`: use flex, or build with --features ndarray or wgpu"
        ),
    };
    Ok(base.autodiff())
}

/// Median seconds of `iters` training steps at sequence length `steps`.
fn time_steps(args: &Args, stock: bool, steps: usize, device: &Device) -> Result<f64> {
    let mut model = Model::new(args, stock, device);
    let mut optim = AdamConfig::new().init();
    let loss_fn = BinaryCrossEntropyLossConfig::new()
        .with_logits(true)
        .init(device);
    let tokens = Tensor::<2>::random(
        [args.batch, steps],
        Distribution::Uniform(0.0, args.vocab as f64 - 1.0),
        device,
    )
    .int();
    let labels = Tensor::<2>::random([args.batch, 1], Distribution::Bernoulli(0.5), device).int();
    let mut times = Vec::new();
    for i in 0..=args.iters {
        let start = Instant::now();
        let logits = model.forward(tokens.clone());
        let loss = loss_fn.forward(logits, labels.clone());
        device.sync().context("device sync")?;
        let forward = start.elapsed().as_secs_f64();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        device.sync().context("device sync")?;
        let backward = start.elapsed().as_secs_f64() - forward;
        model = optim.step(1e-3, model, grads);
        device.sync().context("device sync")?;
        let total = start.elapsed().as_secs_f64();
        if i > 0 {
            times.push(total);
            if args.phases {
                println!(
                    "PHASES impl={} steps={steps} forward={forward:.4} backward={backward:.4} optim={:.4}",
                    if stock { "stock" } else { "fast" },
                    total - forward - backward
                );
            }
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn main() -> Result<()> {
    // As `train` does: freed buffers are recycled rather than unmapped.
    kann_models::hugepages::retain_freed_memory();
    let args = Args::parse();
    if args.iters == 0 {
        bail!("--iters must be at least 1");
    }
    if args.steps.contains(&0) {
        bail!("--steps must be positive");
    }
    let device = device(&args.device)?;
    println!(
        "# B={} emb={} hidden={} vocab={} device={} threads={}",
        args.batch,
        args.emb,
        args.hidden,
        args.vocab,
        args.device,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for &steps in &args.steps {
        let fast = time_steps(&args, false, steps, &device)?;
        println!(
            "RESULT impl=fast steps={steps} secs={fast:.4} device={}",
            args.device
        );
        let run_stock = !args.no_stock && args.stock_max_steps.is_none_or(|m| steps <= m);
        if run_stock {
            let stock = time_steps(&args, true, steps, &device)?;
            println!(
                "RESULT impl=stock steps={steps} secs={stock:.4} device={}",
                args.device
            );
        }
    }
    Ok(())
}
