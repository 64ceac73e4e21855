//! Writing bars to CSV: `timestamp,symbol,open,high,low,close,volume`, RFC 3339 times in
//! UTC and prices printed exactly, so a file we write reads back to the same bars.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use csv::ByteRecord;
use qf_core::BarSeries;

use crate::DataError;
use crate::error::file_name;

/// The header of files we write.
const HEADER: [&str; 7] = [
    "timestamp",
    "symbol",
    "open",
    "high",
    "low",
    "close",
    "volume",
];

/// Writes `series` to `path`, one after the other.
pub(crate) fn write_csv(path: &Path, series: &[BarSeries]) -> Result<(), DataError> {
    let file = file_name(path);
    let failed = |e: &dyn std::fmt::Display| DataError::Write {
        file: file.clone(),
        message: e.to_string(),
    };
    let handle = File::create(path).map_err(|e| DataError::Io {
        file: file.clone(),
        source: e,
    })?;
    let mut writer = csv::WriterBuilder::new()
        .buffer_capacity(256 * 1024)
        .from_writer(handle);
    writer.write_record(HEADER).map_err(|e| failed(&e))?;
    let mut record = ByteRecord::new();
    let mut scratch: Vec<u8> = Vec::with_capacity(64);
    for s in series {
        let symbol = s.instrument.symbol.as_bytes();
        for bar in &s.bars {
            record.clear();
            // Writing into a Vec cannot fail.
            let mut field = |value: &dyn std::fmt::Display, record: &mut ByteRecord| {
                scratch.clear();
                let _ = write!(scratch, "{value}");
                record.push_field(&scratch);
            };
            field(&bar.ts, &mut record);
            record.push_field(symbol);
            field(&bar.open, &mut record);
            field(&bar.high, &mut record);
            field(&bar.low, &mut record);
            field(&bar.close, &mut record);
            field(&bar.volume, &mut record);
            writer.write_byte_record(&record).map_err(|e| failed(&e))?;
        }
    }
    writer.flush().map_err(|e| failed(&e))?;
    Ok(())
}
