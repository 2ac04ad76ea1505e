//! Images brought to a space's input, and the per-channel statistics that normalize them.

use image::imageops::{self, FilterType};
use image::{ImageBuffer, Luma};

use crate::{DataError, Images};

/// Per-channel mean and standard deviation of pixel values scaled to [0, 1], computed on the
/// training split and stored with a run, so that every split is normalized alike.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    /// Mean per channel.
    pub mean: Vec<f32>,
    /// Standard deviation per channel (at least 1e-6, so a constant channel divides safely).
    pub std: Vec<f32>,
}

impl Normalization {
    /// The statistics of `images`, per channel.
    pub fn of(images: &Images) -> Normalization {
        let [channels, height, width] = images.shape;
        let plane = height * width;
        let mut sums = vec![(0.0f64, 0.0f64); channels];
        for i in 0..images.len() {
            for (c, sum) in sums.iter_mut().enumerate() {
                for &p in &images.image(i)[c * plane..(c + 1) * plane] {
                    let v = f64::from(p) / 255.0;
                    sum.0 += v;
                    sum.1 += v * v;
                }
            }
        }
        let n = (images.len() * plane).max(1) as f64;
        let (mean, std) = sums
            .iter()
            .map(|&(s, s2)| {
                let mean = s / n;
                let var = (s2 / n - mean * mean).max(0.0);
                (mean as f32, (var.sqrt() as f32).max(1e-6))
            })
            .unzip();
        Normalization { mean, std }
    }

    /// Image `i` of `images` as normalized floats, channel-major.
    pub fn apply(&self, images: &Images, i: usize) -> Vec<f32> {
        let plane = images.shape[1] * images.shape[2];
        images
            .image(i)
            .iter()
            .enumerate()
            .map(|(k, &p)| {
                let c = k / plane;
                (f32::from(p) / 255.0 - self.mean[c]) / self.std[c]
            })
            .collect()
    }
}

impl Images {
    /// The images at `shape` (`[channels, height, width]`): grey repeated into three channels or
    /// colour averaged into one (ITU-R 601 luma), then, where the size differs, scaled so that
    /// the shorter side fits (bilinear) and cropped to the centre.
    pub fn fit_to(&self, shape: [usize; 3]) -> Result<Images, DataError> {
        let [channels, height, width] = shape;
        let [from_channels, from_height, from_width] = self.shape;
        if !matches!(channels, 1 | 3) || height == 0 || width == 0 {
            return Err(DataError::Format(format!(
                "cannot fit images to {channels}x{height}x{width}: inputs take 1 or 3 channels"
            )));
        }
        if shape == self.shape {
            return Ok(self.clone());
        }
        let plane = from_height * from_width;
        let mut fitted = Images::empty(shape);
        fitted
            .pixels
            .reserve(self.len() * shape.iter().product::<usize>());
        for i in 0..self.len() {
            let image = self.image(i);
            let planes: Vec<Vec<u8>> = match (from_channels, channels) {
                (1, 3) => vec![image.to_vec(); 3],
                (3, 1) => vec![
                    (0..plane)
                        .map(|k| {
                            let (r, g, b) = (image[k], image[plane + k], image[2 * plane + k]);
                            (0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b))
                                .round() as u8
                        })
                        .collect(),
                ],
                _ => image.chunks_exact(plane).map(<[u8]>::to_vec).collect(),
            };
            for plane in planes {
                let buffer: ImageBuffer<Luma<u8>, Vec<u8>> =
                    ImageBuffer::from_raw(from_width as u32, from_height as u32, plane)
                        .expect("a whole plane");
                fitted
                    .pixels
                    .extend_from_slice(&fit_plane(&buffer, width, height).into_raw());
            }
            fitted.labels.push(self.labels[i]);
        }
        Ok(fitted)
    }
}

/// One channel scaled so that its shorter side fits, then cropped to the centre.
fn fit_plane(
    plane: &ImageBuffer<Luma<u8>, Vec<u8>>,
    width: usize,
    height: usize,
) -> ImageBuffer<Luma<u8>, Vec<u8>> {
    let (w, h) = (plane.width() as f64, plane.height() as f64);
    if (w as usize, h as usize) == (width, height) {
        return plane.clone();
    }
    let scale = (width as f64 / w).max(height as f64 / h);
    let (scaled_w, scaled_h) = (
        ((w * scale).round() as u32).max(width as u32),
        ((h * scale).round() as u32).max(height as u32),
    );
    let scaled = imageops::resize(plane, scaled_w, scaled_h, FilterType::Triangle);
    let (x, y) = (
        (scaled_w - width as u32) / 2,
        (scaled_h - height as u32) / 2,
    );
    imageops::crop_imm(&scaled, x, y, width as u32, height as u32).to_image()
}
