//! Whatever the bytes, loading and inspecting return a result: never a panic.

use std::path::Path;

use proptest::prelude::*;
use qf_data::{LoadOptions, inspect, load_bars, sample_bars, write_bars};
use tempfile::TempDir;

fn try_everything(path: &Path) {
    for opts in [
        LoadOptions::default(),
        LoadOptions {
            sort: true,
            dedupe: true,
            price_precision: Some(2),
            ..LoadOptions::default()
        },
    ] {
        if let Err(e) = load_bars(path, &opts) {
            // Every message names the file.
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let message = e.to_string();
            assert!(message.contains(&name), "{message:?} does not name {name}");
        }
    }
    let _ = inspect(path);
}

/// A valid CSV with several symbols, epoch times and a few extra columns.
fn valid_csv() -> Vec<u8> {
    let mut out = String::from("symbol,time,open,high,low,close,volume,note\n");
    for i in 0..30 {
        let sym = if i % 3 == 0 { "B" } else { "A" };
        out.push_str(&format!(
            "{sym},{},10.5,11,10,10.75,{i},\"n,{i}\"\n",
            1_704_067_200 + i * 60
        ));
    }
    out.into_bytes()
}

fn valid_parquet() -> Vec<u8> {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v.parquet");
    write_bars(&path, &[sample_bars("A", 200, 1), sample_bars("B", 100, 2)]).unwrap();
    std::fs::read(path).unwrap()
}

const INTERESTING: &[u8] = b"0123456789-+.,;\n\r\"eENnaTZ: \xff\x00";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_as_csv(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("fuzz.csv");
        std::fs::write(&path, &bytes).unwrap();
        try_everything(&path);
    }

    #[test]
    fn edited_csv(edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(INTERESTING)), 1..8)) {
        let mut bytes = valid_csv();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("edited.csv");
        std::fs::write(&path, &bytes).unwrap();
        try_everything(&path);
    }

    #[test]
    fn damaged_parquet(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in prop::option::weighted(0.2, any::<prop::sample::Index>()),
    ) {
        // Flips land anywhere: data pages, page headers, the footer.
        let mut bytes = valid_parquet();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("damaged.parquet");
        std::fs::write(&path, &bytes).unwrap();
        try_everything(&path);
    }
}
