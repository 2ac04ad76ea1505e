//! The packed form of a tabular benchmark: a JSON header (serde) naming the labels, operations
//! and columns, then each row's cell as a base-5 code (`u16`) and every column as `f32`, little
//! endian. 1.6 MB for NAS-Bench-201, against 8.8 MB of CSV.

use serde::{Deserialize, Serialize};

use crate::BenchmarkError;

/// NAS-Bench-201, packed by [`pack_nasbench201`] from the CSVs `data/NOTICE.md` describes.
pub const PACKED_NASBENCH201: &[u8] = include_bytes!("../data/nasbench201.bin");

const MAGIC: &[u8; 8] = b"HWNASBT1";

/// The header of a packed table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Header {
    /// Rows, one per benchmark index.
    pub rows: usize,
    /// The labels of a cell, in code order (the first is the most significant digit).
    pub labels: Vec<String>,
    /// The operations, in digit order.
    pub ops: Vec<String>,
    /// The columns, in data order.
    pub columns: Vec<String>,
}

/// A packed table read back.
pub(crate) struct Unpacked {
    pub header: Header,
    /// Per row, one operation index per label.
    pub cells: Vec<Vec<u8>>,
    /// Per column, one value per row.
    pub columns: Vec<Vec<f32>>,
}

const LABELS: [&str; 6] = [
    "cell/0_1", "cell/0_2", "cell/1_2", "cell/0_3", "cell/1_3", "cell/2_3",
];
const OPS: [&str; 5] = [
    "none",
    "skip_connect",
    "conv_1x1",
    "conv_3x3",
    "avg_pool_3x3",
];
const DATASETS: [&str; 3] = ["cifar10", "cifar100", "imagenet16"];

/// Packs `nb201_accuracy.csv` and `nb201_latency.csv` (as `data/NOTICE.md` describes them):
/// the three accuracies, then every latency column, for indices `0..n` in order.
pub fn pack_nasbench201(accuracy_csv: &str, latency_csv: &str) -> Result<Vec<u8>, BenchmarkError> {
    let bad = |message: String| BenchmarkError::Table(message);
    let (accuracy_header, accuracy_rows) = read_csv(accuracy_csv)?;
    let (latency_header, latency_rows) = read_csv(latency_csv)?;
    if accuracy_rows.len() != latency_rows.len() {
        return Err(bad(format!(
            "{} accuracy rows but {} latency rows",
            accuracy_rows.len(),
            latency_rows.len()
        )));
    }
    let position = |header: &[String], name: &str| {
        header
            .iter()
            .position(|column| column == name)
            .ok_or_else(|| bad(format!("no column `{name}`")))
    };
    let label_at: Vec<usize> = LABELS
        .iter()
        .map(|label| position(&accuracy_header, label))
        .collect::<Result<_, _>>()?;
    let dataset_at: Vec<usize> = DATASETS
        .iter()
        .map(|dataset| position(&accuracy_header, dataset))
        .collect::<Result<_, _>>()?;
    let devices: Vec<String> = latency_header[1..].to_vec();
    let mut columns = vec![Vec::with_capacity(accuracy_rows.len()); DATASETS.len() + devices.len()];
    let mut codes = Vec::with_capacity(accuracy_rows.len());
    for (i, (accuracy, latency)) in accuracy_rows.iter().zip(&latency_rows).enumerate() {
        for row in [accuracy, latency] {
            if row[0] != i.to_string() {
                return Err(bad(format!("row {i} has index `{}`", row[0])));
            }
        }
        let mut code = 0u16;
        for &at in &label_at {
            let op = OPS
                .iter()
                .position(|op| *op == accuracy[at])
                .ok_or_else(|| bad(format!("index {i}: unknown operation `{}`", accuracy[at])))?;
            code = code * OPS.len() as u16 + op as u16;
        }
        codes.push(code);
        let values = dataset_at
            .iter()
            .map(|&at| &accuracy[at])
            .chain(&latency[1..]);
        for (column, text) in columns.iter_mut().zip(values) {
            let value: f64 = text
                .parse()
                .map_err(|_| bad(format!("index {i}: `{text}` is not a number")))?;
            if !value.is_finite() || value < 0.0 {
                return Err(bad(format!(
                    "index {i}: {value} is not an accuracy or latency"
                )));
            }
            column.push(value as f32);
        }
    }
    let header = Header {
        rows: codes.len(),
        labels: LABELS.map(String::from).to_vec(),
        ops: OPS.map(String::from).to_vec(),
        columns: DATASETS
            .iter()
            .map(|d| d.to_string())
            .chain(devices)
            .collect(),
    };
    let json = serde_json::to_vec(&header).expect("a header serializes");
    let mut out = Vec::with_capacity(12 + json.len() + codes.len() * (2 + 4 * columns.len()));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    for code in codes {
        out.extend_from_slice(&code.to_le_bytes());
    }
    for column in &columns {
        for value in column {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    Ok(out)
}

/// The header and the rows of a CSV text, every field as text.
fn read_csv(text: &str) -> Result<(Vec<String>, Vec<Vec<String>>), BenchmarkError> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let failed = |e: csv::Error| BenchmarkError::Table(e.to_string());
    let header = reader
        .headers()
        .map_err(failed)?
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|record| Ok(record.map_err(failed)?.iter().map(str::to_string).collect()))
        .collect::<Result<_, BenchmarkError>>()?;
    Ok((header, rows))
}

/// Reads a packed table back.
pub(crate) fn unpack(bytes: &[u8]) -> Result<Unpacked, BenchmarkError> {
    let bad = |message: &str| BenchmarkError::Table(message.to_string());
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| bad("not a packed benchmark table"))?;
    let (length, rest) = rest.split_at_checked(4).ok_or_else(|| bad("cut short"))?;
    let length = u32::from_le_bytes(length.try_into().expect("four bytes")) as usize;
    let (json, rest) = rest
        .split_at_checked(length)
        .ok_or_else(|| bad("cut short"))?;
    let header: Header =
        serde_json::from_slice(json).map_err(|e| BenchmarkError::Table(e.to_string()))?;
    let (rows, n_ops) = (header.rows, header.ops.len());
    let expected = rows * 2 + rows * 4 * header.columns.len();
    if rest.len() != expected || n_ops < 2 {
        return Err(bad("its size does not match its header"));
    }
    let (codes, values) = rest.split_at(rows * 2);
    let cells = codes
        .chunks_exact(2)
        .map(|code| {
            let mut code = u16::from_le_bytes([code[0], code[1]]) as usize;
            let mut ops = vec![0u8; header.labels.len()];
            for op in ops.iter_mut().rev() {
                *op = (code % n_ops) as u8;
                code /= n_ops;
            }
            ops
        })
        .collect();
    let columns = values
        .chunks_exact(rows * 4)
        .map(|column| {
            column
                .chunks_exact(4)
                .map(|v| f32::from_le_bytes([v[0], v[1], v[2], v[3]]))
                .collect()
        })
        .collect();
    Ok(Unpacked {
        header,
        cells,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_and_refuses_malformed_tables() {
        let accuracy = "index,arch_str,cell/0_1,cell/0_2,cell/1_2,cell/0_3,cell/1_3,cell/2_3,cifar10,cifar100,imagenet16,iso_rep\n\
            0,x,none,none,none,none,none,avg_pool_3x3,10.0,1.0,0.8333,0\n\
            1,x,conv_3x3,skip_connect,conv_1x1,none,none,none,93.5,70.25,44.0,1\n";
        let latency = "index,pixel3,fpga\n0,0.05,2.5\n1,17.25,5.0\n";
        let packed = pack_nasbench201(accuracy, latency).unwrap();
        let unpacked = unpack(&packed).unwrap();
        assert_eq!(
            unpacked.header.columns,
            ["cifar10", "cifar100", "imagenet16", "pixel3", "fpga"]
        );
        assert_eq!(
            unpacked.cells,
            [vec![0, 0, 0, 0, 0, 4], vec![3, 1, 2, 0, 0, 0]]
        );
        assert_eq!(unpacked.columns[0], [10.0, 93.5]);
        assert_eq!(unpacked.columns[4], [2.5, 5.0]);

        let error = |accuracy: &str, latency: &str| {
            pack_nasbench201(accuracy, latency).unwrap_err().to_string()
        };
        assert!(error(accuracy, "index,pixel3\n0,1\n").contains("1 latency rows"));
        assert!(error(accuracy, &latency.replace("17.25", "-1")).contains("-1 is not"));
        assert!(error(&accuracy.replace("conv_1x1", "conv_5x5"), latency).contains("`conv_5x5`"));
        assert!(unpack(&packed[..packed.len() - 1]).is_err());
    }
}
