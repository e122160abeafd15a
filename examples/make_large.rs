//! Writes a seeded synthetic regression table of N rows × 8 features, straight to the binary
//! format `svgp fit` streams (`*.svgpb`) or as CSV (any other extension), one row at a time:
//! xⱼ ~ U(−2, 2), y = sin(2x₁) + x₂x₃/2 + cos(x₄) + 0.3·x₅ + ε, ε ~ N(0, 0.1²) (x₆…x₈ are
//! irrelevant).
//!
//! cargo run --release --example make_large -- 10000000 /tmp/large.svgpb

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use std::error::Error;
use std::io::Write;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(n), Some(out)) = (args.get(1), args.get(2)) else {
        return Err("usage: make_large N OUT(.svgpb|.csv) [SEED]".into());
    };
    let n: u64 = n.parse()?;
    let seed: u64 = args.get(3).map_or(Ok(0), |s| s.parse())?;
    let mut rng = StdRng::seed_from_u64(seed);
    let noise = Normal::new(0.0, 0.1)?;
    let mut row = move || {
        let x: Vec<f64> = (0..8).map(|_| rng.random_range(-2.0..2.0)).collect();
        let y = (2.0 * x[0]).sin()
            + 0.5 * x[1] * x[2]
            + x[3].cos()
            + 0.3 * x[4]
            + noise.sample(&mut rng);
        (x, y)
    };
    let names: Vec<String> = (1..=8).map(|j| format!("x{j}")).collect();
    let start = std::time::Instant::now();
    if out.ends_with(".svgpb") {
        svgp::data::write_binary_file(out, &names, "y", |w| {
            for _ in 0..n {
                let (x, y) = row();
                w.push(&x, y)?;
            }
            Ok(())
        })?;
    } else {
        let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
        writeln!(w, "{},y", names.join(","))?;
        for _ in 0..n {
            let (x, y) = row();
            for v in &x {
                write!(w, "{v},")?;
            }
            writeln!(w, "{y}")?;
        }
        w.flush()?;
    }
    println!(
        "wrote {n} rows × 8 features to {out} in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
