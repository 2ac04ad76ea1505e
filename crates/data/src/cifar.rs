//! CIFAR-10 and CIFAR-100 binary batches: per image its label byte(s), then 1,024 red, 1,024
//! green and 1,024 blue bytes of a 32x32 image (channel-major already).

use std::path::Path;

use crate::error::{list_dir, read};
use crate::{DataError, DataSet, Images};

const SHAPE: [usize; 3] = [3, 32, 32];
const PIXELS: usize = 3 * 32 * 32;

pub(crate) fn read_dir(path: &Path) -> Result<DataSet, DataError> {
    let names = list_dir(path)?;
    let batches: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("data_batch_") && n.ends_with(".bin"))
        .collect();
    // CIFAR-10: one label byte; CIFAR-100: coarse then fine.
    let (train_files, test_file, label_bytes, classes, names_file) = if !batches.is_empty() {
        (batches, "test_batch.bin", 1, 10, "batches.meta.txt")
    } else if names.iter().any(|n| n == "train.bin") {
        let train = names.iter().filter(|n| *n == "train.bin").collect();
        (train, "test.bin", 2, 100, "fine_label_names.txt")
    } else {
        return Err(DataError::Format(format!(
            "{}: no CIFAR batch (data_batch_*.bin or train.bin)",
            path.display()
        )));
    };
    let mut train = Images::empty(SHAPE);
    for name in train_files {
        train.extend(batch(&path.join(name), label_bytes)?);
    }
    let test = names
        .iter()
        .any(|n| n == test_file)
        .then(|| batch(&path.join(test_file), label_bytes))
        .transpose()?;
    let class_names = match names.iter().any(|n| n == names_file) {
        true => {
            let file = path.join(names_file);
            let text = String::from_utf8(read(&file)?)
                .map_err(|_| DataError::corrupt(&file, "not UTF-8 text"))?;
            let listed: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            if listed.len() != classes {
                return Err(DataError::corrupt(
                    &file,
                    format!("{} class names, the format has {classes}", listed.len()),
                ));
            }
            listed
        }
        false => (0..classes).map(|c| c.to_string()).collect(),
    };
    Ok(DataSet {
        classes: class_names,
        train,
        val: None,
        test,
    })
}

fn batch(path: &Path, label_bytes: usize) -> Result<Images, DataError> {
    let bytes = read(path)?;
    let record = label_bytes + PIXELS;
    if bytes.is_empty() || bytes.len() % record != 0 {
        return Err(DataError::corrupt(
            path,
            format!(
                "{} bytes is not a whole number of {record}-byte CIFAR records",
                bytes.len()
            ),
        ));
    }
    let mut images = Images::empty(SHAPE);
    images.pixels.reserve(bytes.len() / record * PIXELS);
    for chunk in bytes.chunks_exact(record) {
        images.labels.push(u32::from(chunk[label_bytes - 1]));
        images.pixels.extend_from_slice(&chunk[label_bytes..]);
    }
    Ok(images)
}
