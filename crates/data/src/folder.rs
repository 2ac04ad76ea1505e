//! Image folders: one subfolder per class, or `train/`, `val/` and `test/` each holding them.

use std::path::Path;

use crate::error::list_dir;
use crate::{DataError, DataSet, Images};

const EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

pub(crate) fn read_dir(path: &Path) -> Result<DataSet, DataError> {
    let names = list_dir(path)?;
    let split = |name: &str| names.iter().any(|n| n == name).then(|| path.join(name));
    match split("train") {
        Some(train) => {
            let classes = class_names(&train)?;
            let mut decoder = Decoder::default();
            let train_images = decoder.read_split(&train, &classes)?;
            let val = split("val")
                .map(|dir| decoder.read_split(&dir, &classes))
                .transpose()?;
            let test = split("test")
                .map(|dir| decoder.read_split(&dir, &classes))
                .transpose()?;
            let mut finish = |images| decoder.finish(images);
            Ok(DataSet {
                train: finish(train_images),
                val: val.map(&mut finish),
                test: test.map(&mut finish),
                classes,
            })
        }
        None => {
            let classes = class_names(path)?;
            let mut decoder = Decoder::default();
            let images = decoder.read_split(path, &classes)?;
            Ok(DataSet {
                train: decoder.finish(images),
                val: None,
                test: None,
                classes,
            })
        }
    }
}

/// The class folders of `dir`, sorted: the labels are their positions.
fn class_names(dir: &Path) -> Result<Vec<String>, DataError> {
    let mut classes = Vec::new();
    for name in list_dir(dir)? {
        if name.starts_with('.') {
            continue;
        }
        if !dir.join(&name).is_dir() {
            return Err(DataError::corrupt(
                &dir.join(&name),
                "a file where class folders are expected",
            ));
        }
        classes.push(name);
    }
    Ok(classes)
}

/// Decodes every image of a data set into interleaved RGB of one size, noting whether any pixel
/// has colour: grey data sets become one channel at the end.
#[derive(Default)]
struct Decoder {
    size: Option<(u32, u32, std::path::PathBuf)>,
    any_colour: bool,
}

/// Decoded images before the channel count is known: interleaved RGB and labels.
struct Decoded {
    rgb: Vec<u8>,
    labels: Vec<u32>,
}

impl Decoder {
    fn read_split(&mut self, dir: &Path, classes: &[String]) -> Result<Decoded, DataError> {
        let found = class_names(dir)?;
        if let Some(extra) = found.iter().find(|c| !classes.contains(c)) {
            return Err(DataError::corrupt(
                &dir.join(extra),
                "a class the training folder does not have",
            ));
        }
        let mut decoded = Decoded {
            rgb: Vec::new(),
            labels: Vec::new(),
        };
        for (label, class) in classes.iter().enumerate() {
            let class_dir = dir.join(class);
            if !class_dir.is_dir() {
                continue;
            }
            for name in list_dir(&class_dir)? {
                if name.starts_with('.') {
                    continue;
                }
                let file = class_dir.join(&name);
                let extension = file
                    .extension()
                    .map(|e| e.to_string_lossy().to_lowercase())
                    .unwrap_or_default();
                if !EXTENSIONS.contains(&extension.as_str()) {
                    return Err(DataError::corrupt(&file, "not a PNG, JPEG or BMP image"));
                }
                let image = image::open(&file)
                    .map_err(|e| DataError::corrupt(&file, format!("cannot decode: {e}")))?;
                let rgb = image.to_rgb8();
                // By the pixels, not the file's colour type: some encoders store grey as RGB.
                self.any_colour |= rgb.pixels().any(|p| p[0] != p[1] || p[1] != p[2]);
                let (width, height) = rgb.dimensions();
                match &self.size {
                    None => self.size = Some((width, height, file.clone())),
                    Some((w, h, first)) if (*w, *h) != (width, height) => {
                        return Err(DataError::corrupt(
                            &file,
                            format!(
                                "{width}x{height}, where {} is {w}x{h}: a folder's images share one size",
                                first.display()
                            ),
                        ));
                    }
                    Some(_) => {}
                }
                decoded.rgb.extend_from_slice(rgb.as_raw());
                decoded.labels.push(label as u32);
            }
        }
        Ok(decoded)
    }

    /// Channel-major images: three channels if any image had colour, else one.
    fn finish(&self, decoded: Decoded) -> Images {
        // The size of the first image anywhere in the data set (none: no image at all).
        let (width, height) = self
            .size
            .as_ref()
            .map_or((0, 0), |(w, h, _)| (*w as usize, *h as usize));
        let channels = if self.any_colour { 3 } else { 1 };
        let plane = width * height;
        if decoded.labels.is_empty() {
            return Images::empty([channels, height, width]);
        }
        let mut pixels = Vec::with_capacity(decoded.labels.len() * channels * plane);
        for image in decoded.rgb.chunks_exact(3 * plane) {
            for c in 0..channels {
                pixels.extend(image.chunks_exact(3).map(|rgb| rgb[c]));
            }
        }
        Images {
            shape: [channels, height, width],
            pixels,
            labels: decoded.labels,
        }
    }
}
