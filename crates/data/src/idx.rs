//! MNIST-style IDX files (raw or gzipped): a big-endian header (two zero bytes, the element type,
//! the number of dimensions, each dimension as a u32), then the elements.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{list_dir, read};
use crate::{DataError, DataSet, Images};

/// The element type of unsigned bytes, the only one image and label files use.
const UNSIGNED_BYTE: u8 = 0x08;

pub(crate) fn read_dir(path: &Path) -> Result<DataSet, DataError> {
    let names = list_dir(path)?;
    let find = |stem: &str| -> Option<PathBuf> {
        names
            .iter()
            .find(|n| *n == stem || **n == format!("{stem}.gz"))
            .map(|n| path.join(n))
    };
    let pair = |prefix: &str| -> Result<Option<Images>, DataError> {
        let images = find(&format!("{prefix}-images-idx3-ubyte"));
        let labels = find(&format!("{prefix}-labels-idx1-ubyte"));
        match (images, labels) {
            (Some(images), Some(labels)) => Ok(Some(read_pair(&images, &labels)?)),
            (None, None) => Ok(None),
            (Some(file), None) | (None, Some(file)) => Err(DataError::corrupt(
                &file,
                format!(
                    "has no {} file beside it",
                    if file.to_string_lossy().contains("images") {
                        "labels"
                    } else {
                        "images"
                    }
                ),
            )),
        }
    };
    let train = pair("train")?.ok_or_else(|| {
        DataError::Format(format!(
            "{}: no train-images-idx3-ubyte[.gz] with its labels",
            path.display()
        ))
    })?;
    let test = pair("t10k")?;
    let classes = train
        .labels
        .iter()
        .chain(test.iter().flat_map(|t| &t.labels))
        .max()
        .map_or(0, |&max| max as usize + 1);
    Ok(DataSet {
        classes: (0..classes).map(|c| c.to_string()).collect(),
        train,
        val: None,
        test,
    })
}

fn read_pair(images: &Path, labels: &Path) -> Result<Images, DataError> {
    let (image_dims, pixels) = read_idx(images)?;
    let (label_dims, label_bytes) = read_idx(labels)?;
    let [n, height, width] = image_dims[..] else {
        return Err(DataError::corrupt(
            images,
            format!("{} dimensions, images have 3", image_dims.len()),
        ));
    };
    if label_dims != [n] {
        return Err(DataError::corrupt(
            labels,
            format!("{label_dims:?} labels for {n} images"),
        ));
    }
    Ok(Images {
        shape: [1, height, width],
        pixels,
        labels: label_bytes.into_iter().map(u32::from).collect(),
    })
}

/// The dimensions and the bytes of an IDX file of unsigned bytes.
fn read_idx(path: &Path) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let raw = read(path)?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut unpacked)
            .map_err(|e| DataError::corrupt(path, format!("not a whole gzip stream: {e}")))?;
        unpacked
    } else {
        raw
    };
    let corrupt = |why: String| DataError::corrupt(path, why);
    let [0, 0, kind, n_dims, ..] = bytes[..] else {
        return Err(corrupt("not an IDX file (no header)".into()));
    };
    if kind != UNSIGNED_BYTE {
        return Err(corrupt(format!(
            "element type {kind:#04x}, not unsigned bytes"
        )));
    }
    let header = 4 + 4 * usize::from(n_dims);
    if bytes.len() < header {
        return Err(corrupt("truncated header".into()));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| corrupt(format!("dimensions {dims:?} overflow")))?;
    if bytes.len() - header != expected {
        return Err(corrupt(format!(
            "{} data bytes where the header {dims:?} says {expected}",
            bytes.len() - header
        )));
    }
    Ok((dims, bytes[header..].to_vec()))
}
