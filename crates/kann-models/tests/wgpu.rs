//! The GPU path (`--device wgpu`) against the CPU one (flex): the same initial weights, the same
//! batches, forward states and a few Adam steps of each model must agree to 1e-4.
//!
//! On flex the recurrent layers run the fused CPU kernels (`cells/cpu.rs`); on wgpu they run the
//! backend-generic composition of primitive ops (`cells/generic.rs`) compiled by burn/cubecl into
//! GPU kernels. Both sides start from the same weights (initialised on flex, copied to wgpu
//! through burnpack bytes) and see identical batches.
//!
//! Runs only with `--features wgpu`:
//! `cargo test -p kann-models --features wgpu --test wgpu`. Without a GPU, Debian's
//! `mesa-vulkan-drivers` (lavapipe, a software Vulkan driver on the CPU) provides an adapter.
//! When no adapter is found the tests print why and pass, unless `KANN_REQUIRE_WGPU=1`, which
//! turns a missing adapter into a failure (for machines that are meant to have one).

#![cfg(feature = "wgpu")]

use std::path::Path;
use std::sync::OnceLock;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use kann_models::cells::{CellKind, RecurrentConfig};
use kann_models::integrity::{module_bytes, module_from_bytes};
use kann_models::npy::tensor_to_vec;
use kann_models::{EcgAutoencoderConfig, SentimentConfig, bce_with_logits, l1_per_beat};

/// Largest allowed difference, relative to `max(1, |flex value|)`.
const TOL: f32 = 1e-4;

/// The wgpu device, initialised once per process (burn refuses a second initialisation), or
/// why there is none.
fn wgpu_device() -> Option<Device> {
    static DEVICE: OnceLock<Result<Device, String>> = OnceLock::new();
    let found = DEVICE.get_or_init(|| {
        let (device, setup) = Device::wgpu_options()
            .init_with_setup()
            .map_err(|e| format!("wgpu unavailable ({e})"))?;
        let info = setup.adapter.get_info();
        eprintln!(
            "wgpu adapter: {} ({:?}, driver {} {}) on {:?}",
            info.name, info.device_type, info.driver, info.driver_info, setup.backend
        );
        Ok(device)
    });
    match found {
        Ok(dev) => Some(dev.clone()),
        Err(why) if std::env::var("KANN_REQUIRE_WGPU").is_ok_and(|v| v == "1") => {
            panic!("{why} (KANN_REQUIRE_WGPU=1 demands an adapter)")
        }
        Err(why) => {
            eprintln!(
                "{why}: skipping the flex-vs-wgpu comparison (install mesa-vulkan-drivers for a \
                 software Vulkan adapter; KANN_REQUIRE_WGPU=1 makes this a failure)"
            );
            None
        }
    }
}

/// Copies `module`'s weights onto a module of the same shape built on another device.
fn copy_weights<M: Module>(from: &M, onto: M) -> M {
    let bytes = module_bytes(from).expect("weights serialise");
    module_from_bytes(onto, bytes, Path::new("<flex weights in memory>"))
        .expect("weights load onto the wgpu module")
}

/// Worst difference of `b` from `a`, relative to `max(1, |a|)`.
fn worst_rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            if x.is_finite() && y.is_finite() {
                (x - y).abs() / x.abs().max(1.0)
            } else {
                f32::INFINITY
            }
        })
        .fold(0.0, f32::max)
}

fn assert_close(what: &str, a: &[f32], b: &[f32]) -> f32 {
    let d = worst_rel_diff(a, b);
    assert!(
        d <= TOL,
        "{what}: flex and wgpu differ by {d:e} (> {TOL:e})"
    );
    d
}

fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    tensor_to_vec(t).expect("f32 tensor")
}

/// Every float parameter of a module, named by its path, in visiting order.
fn parameters<M: Module>(module: &M) -> Vec<(String, Vec<f32>)> {
    #[derive(Default)]
    struct Collect {
        path: Vec<String>,
        found: Vec<(String, Vec<f32>)>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let name = format!("{}#{}", self.path.join("."), self.found.len());
            self.found.push((name, values(&param.val())));
        }
    }
    let mut c = Collect::default();
    module.visit(&mut c);
    c.found
}

/// Asserts that two modules hold the same parameters (to [`TOL`]) and returns the worst
/// difference.
fn assert_same_parameters<M: Module>(what: &str, a: &M, b: &M) -> f32 {
    let (pa, pb) = (parameters(a), parameters(b));
    assert_eq!(pa.len(), pb.len(), "{what}: parameter counts");
    assert!(!pa.is_empty(), "{what}: no parameters visited");
    let mut worst = 0.0f32;
    for ((name, va), (_, vb)) in pa.iter().zip(&pb) {
        worst = worst.max(assert_close(&format!("{what}: {name}"), va, vb));
    }
    worst
}

/// Largest change of any parameter between two versions of a module (to check that training
/// steps moved the weights, so that equal weights mean something).
fn largest_change<M: Module>(before: &M, after: &M) -> f32 {
    parameters(before)
        .iter()
        .zip(parameters(after))
        .flat_map(|((_, a), (_, b))| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .collect::<Vec<_>>()
        })
        .fold(0.0, f32::max)
}

/// Smooth deterministic values in `[-0.8, 0.8]`.
fn wave(n: usize, seed: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as f32 + seed) * 0.7317).sin() * 0.8)
        .collect()
}

/// One layer of each cell: hidden (and LSTM cell) states and the gradients of every weight and
/// of the input agree.
#[test]
fn recurrent_layers_match_flex_on_wgpu() {
    let Some(gpu) = wgpu_device() else { return };
    let (gpu, cpu) = (gpu.autodiff(), Device::flex().autodiff());
    cpu.seed(11);
    let (b, t, x) = (3, 9, 4);
    for kind in [CellKind::Gru, CellKind::Lstm, CellKind::Rnn] {
        let config = RecurrentConfig::new(kind, x, 6);
        let on_cpu = config.init(&cpu);
        let on_gpu = copy_weights(&on_cpu, config.init(&gpu));
        let mut grads_of = Vec::new();
        let mut states_of = Vec::new();
        for (layer, dev) in [(&on_cpu, &cpu), (&on_gpu, &gpu)] {
            let input =
                Tensor::<3>::from_data(TensorData::new(wave(b * t * x, 1.0), [b, t, x]), dev)
                    .require_grad();
            let out = layer.forward(input.clone(), true);
            let cell = out.cell.clone();
            let weights =
                Tensor::<3>::from_data(TensorData::new(wave(b * t * 6, 2.0), [b, t, 6]), dev);
            let mut loss = (out.hidden.clone() * weights.clone()).sum();
            if let Some(c) = &cell {
                loss = loss + (c.clone() * weights).sum();
            }
            let grads = loss.backward();
            let mut g = vec![values(&input.grad(&grads).expect("input grad"))];
            for p in [&layer.w_x, &layer.w_h] {
                g.push(values(&p.val().grad(&grads).expect("weight grad")));
            }
            for p in [&layer.b_x, &layer.b_h] {
                g.push(values(&p.val().grad(&grads).expect("bias grad")));
            }
            grads_of.push(g);
            states_of.push((values(&out.hidden), cell.as_ref().map(values)));
        }
        assert_close(&format!("{kind} hidden"), &states_of[0].0, &states_of[1].0);
        if let (Some(a), Some(b)) = (&states_of[0].1, &states_of[1].1) {
            assert_close(&format!("{kind} cell"), a, b);
        }
        for (name, (a, b)) in ["x", "w_x", "w_h", "b_x", "b_h"]
            .iter()
            .zip(grads_of[0].iter().zip(&grads_of[1]))
        {
            assert_close(&format!("{kind} grad {name}"), a, b);
        }
        eprintln!("{kind} layer: states and gradients agree to {TOL:e}");
    }
}

fn tokens(rows: &[Vec<i64>], width: usize, dev: &Device) -> Tensor<2, Int> {
    let mut data = Vec::new();
    for r in rows {
        data.extend(r.iter().copied());
        data.extend(std::iter::repeat_n(0, width - r.len()));
    }
    Tensor::from_data(TensorData::new(data, [rows.len(), width]), dev)
}

/// The sentiment model (GRU as in the paper, and the LSTM and RNN variants): hooked states, then
/// five Adam steps on a padded batch: every loss and every weight agree.
#[test]
fn sentiment_model_trains_the_same_on_wgpu() {
    let Some(gpu) = wgpu_device() else { return };
    let (gpu, cpu) = (gpu.autodiff(), Device::flex().autodiff());
    cpu.seed(12);
    let rows = vec![
        vec![3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        vec![7, 8, 9],
        vec![1, 30, 2, 29, 3, 28],
        vec![40],
    ];
    let lengths: Vec<usize> = rows.iter().map(Vec::len).collect();
    let labels = [1.0f32, 0.0, 1.0, 0.0];
    for cell in [CellKind::Gru, CellKind::Lstm, CellKind::Rnn] {
        let config = SentimentConfig::new(50)
            .with_d_embed(8)
            .with_d_hidden(12)
            .with_cell(cell);
        let start = config.init(&cpu);
        let mut models = [start.clone(), copy_weights(&start, config.init(&gpu))];
        let devices = [&cpu, &gpu];
        // Hooked states (what the Koopman analysis reads), LSTM cell states included.
        let states: Vec<_> = models
            .iter()
            .zip(devices)
            .map(|(m, dev)| {
                let s = m
                    .forward_states(tokens(&rows, 10, dev), &lengths, true)
                    .expect("valid lengths");
                (values(&s.hidden), s.cell.as_ref().map(values))
            })
            .collect();
        assert_close(&format!("{cell} hidden states"), &states[0].0, &states[1].0);
        if let (Some(a), Some(b)) = (&states[0].1, &states[1].1) {
            assert_close(&format!("{cell} cell states"), a, b);
        }
        let mut optims = [AdamConfig::new().init(), AdamConfig::new().init()];
        for step in 0..5 {
            let mut losses = [0.0f32; 2];
            for i in 0..2 {
                let dev = devices[i];
                let y = Tensor::<1>::from_data(TensorData::new(labels.to_vec(), [4]), dev);
                let logits = models[i]
                    .forward(tokens(&rows, 10, dev), &lengths)
                    .expect("valid lengths");
                let loss = bce_with_logits(logits, y);
                losses[i] = loss.clone().into_scalar::<f32>();
                let grads = GradientsParams::from_grads(loss.backward(), &models[i]);
                models[i] = optims[i].step(1e-2, models[i].clone(), grads);
            }
            assert_close(
                &format!("{cell} loss at step {step}"),
                &losses[..1],
                &losses[1..],
            );
        }
        let worst = assert_same_parameters(&format!("{cell} sentiment"), &models[0], &models[1]);
        let moved = largest_change(&start, &models[0]);
        assert!(moved > 1e-2, "{cell}: training moved no weight ({moved})");
        eprintln!(
            "{cell} sentiment: states, 5 losses and all weights agree (worst {worst:e}; weights moved up to {moved:.3})"
        );
    }
}

/// The ECG autoencoder (LSTM, as in the paper): encoder states, then three Adam steps on a batch
/// of beats: every summed-L1 loss and every weight agree.
#[test]
fn ecg_autoencoder_trains_the_same_on_wgpu() {
    let Some(gpu) = wgpu_device() else { return };
    let (gpu, cpu) = (gpu.autodiff(), Device::flex().autodiff());
    cpu.seed(13);
    let config = EcgAutoencoderConfig::new()
        .with_d_latent(8)
        .with_d_decoder(16);
    let start = config.init(&cpu);
    let mut models = [start.clone(), copy_weights(&start, config.init(&gpu))];
    let devices = [&cpu, &gpu];
    let (b, t) = (4, 140);
    let beats = wave(b * t, 3.0);
    let batch = |dev: &Device| Tensor::<2>::from_data(TensorData::new(beats.clone(), [b, t]), dev);
    let states: Vec<_> = models
        .iter()
        .zip(devices)
        .map(|(m, dev)| {
            let s = m
                .encode_states(batch(dev), true)
                .expect("full-length beats");
            (values(&s.hidden), s.cell.as_ref().map(values))
        })
        .collect();
    assert_close("encoder hidden states", &states[0].0, &states[1].0);
    let (Some(ca), Some(cb)) = (&states[0].1, &states[1].1) else {
        panic!("the LSTM encoder returned no cell states")
    };
    assert_close("encoder cell states", ca, cb);
    let mut optims = [AdamConfig::new().init(), AdamConfig::new().init()];
    for step in 0..3 {
        let mut losses = [0.0f32; 2];
        for i in 0..2 {
            let x = batch(devices[i]);
            let recon = models[i].forward(x.clone()).expect("full-length beats");
            let loss = l1_per_beat(recon, x).mean();
            losses[i] = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &models[i]);
            models[i] = optims[i].step(5e-3, models[i].clone(), grads);
        }
        assert_close(
            &format!("summed L1 at step {step}"),
            &losses[..1],
            &losses[1..],
        );
    }
    let worst = assert_same_parameters("ecg autoencoder", &models[0], &models[1]);
    let moved = largest_change(&start, &models[0]);
    assert!(moved > 1e-3, "training moved no weight ({moved})");
    eprintln!(
        "ecg autoencoder: states, 3 losses and all weights agree (worst {worst:e}; weights moved up to {moved:.4})"
    );
}
