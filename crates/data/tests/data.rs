//! Every format read from files the tests write, splits, and every kind of bad data.

use std::io::Write;
use std::path::Path;

use hwnas_data::{DataError, DataSet, Format};

/// A `w x h` image of class `class`: a stripe whose position tells the class, in colour or grey.
fn stripes(class: usize, w: u32, h: u32, colour: bool) -> image::DynamicImage {
    let rgb = image::RgbImage::from_fn(w, h, |x, _| {
        let on = (x as usize * 4 / w as usize) == class % 4;
        let v = if on { 220 } else { 30 };
        if colour {
            image::Rgb([v, (class * 60) as u8, 255 - v])
        } else {
            image::Rgb([v, v, v])
        }
    });
    if colour {
        image::DynamicImage::ImageRgb8(rgb)
    } else {
        image::DynamicImage::ImageLuma8(image::DynamicImage::ImageRgb8(rgb).to_luma8())
    }
}

fn write_class_folder(dir: &Path, classes: &[&str], per_class: usize, colour: bool) {
    for (c, class) in classes.iter().enumerate() {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for i in 0..per_class {
            let extension = ["png", "bmp", "jpg"][i % 3];
            stripes(c, 8, 6, colour)
                .save(dir.join(class).join(format!("{i}.{extension}")))
                .unwrap();
        }
    }
}

#[test]
fn an_image_folder_reads_classes_in_order_and_keeps_grey_as_one_channel() {
    let dir = tempfile::tempdir().unwrap();
    write_class_folder(dir.path(), &["cat", "ant", "bee"], 4, false);
    assert_eq!(Format::detect(dir.path()).unwrap(), Format::ImageFolder);
    let data = DataSet::load(dir.path(), None).unwrap();
    assert_eq!(data.classes, ["ant", "bee", "cat"]);
    assert_eq!(data.train.shape, [1, 6, 8]);
    assert_eq!(data.train.len(), 12);
    assert_eq!(data.train.labels.iter().filter(|&&l| l == 2).count(), 4);
    // The first ant image (class 0 by name, written as class 1): its stripe in columns 2-3.
    let first = data.train.image(0);
    assert!(first[2] > 128 && first[0] < 128, "{:?}", &first[..8]);
    assert!(data.val.is_none() && data.test.is_none());
}

#[test]
fn an_image_folder_with_splits_keeps_them_in_colour() {
    let dir = tempfile::tempdir().unwrap();
    write_class_folder(&dir.path().join("train"), &["a", "b"], 3, true);
    write_class_folder(&dir.path().join("val"), &["a", "b"], 1, true);
    write_class_folder(&dir.path().join("test"), &["a", "b"], 2, true);
    let data = DataSet::load(dir.path(), Some(Format::ImageFolder)).unwrap();
    assert_eq!(data.train.shape, [3, 6, 8]);
    assert_eq!(
        (
            data.train.len(),
            data.val.as_ref().unwrap().len(),
            data.test.as_ref().unwrap().len()
        ),
        (6, 2, 4)
    );
    // Channel-major: the green plane of class `b` (index 1) is all 60.
    let b = data.train.labels.iter().position(|&l| l == 1).unwrap();
    assert!(data.train.image(b)[48..96].iter().all(|&g| g == 60));
    let splits = data.splits(0, 0.2, 0.2).unwrap();
    assert_eq!(
        (splits.train.len(), splits.val.len(), splits.test.len()),
        (6, 2, 4)
    );
}

fn cifar_records(n: usize, label_bytes: usize, classes: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..n {
        let label = (i % classes as usize) as u8;
        if label_bytes == 2 {
            bytes.push(label / 5);
        }
        bytes.push(label);
        bytes.extend((0..3072).map(|p| ((p + i) % 251) as u8));
    }
    bytes
}

#[test]
fn cifar_10_and_100_batches_read_as_channel_major_images() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("data_batch_1.bin"),
        cifar_records(30, 1, 10),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("data_batch_2.bin"),
        cifar_records(20, 1, 10),
    )
    .unwrap();
    std::fs::write(dir.path().join("test_batch.bin"), cifar_records(10, 1, 10)).unwrap();
    assert_eq!(Format::detect(dir.path()).unwrap(), Format::Cifar);
    let data = DataSet::load(dir.path(), None).unwrap();
    assert_eq!(
        (data.train.len(), data.test.as_ref().unwrap().len()),
        (50, 10)
    );
    assert_eq!(data.train.shape, [3, 32, 32]);
    assert_eq!(data.classes.len(), 10);
    assert_eq!(data.train.labels[..3], [0, 1, 2]);
    assert_eq!(data.train.image(1)[..3], [1, 2, 3]);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.bin"), cifar_records(200, 2, 100)).unwrap();
    let data = DataSet::load(dir.path(), None).unwrap();
    assert_eq!(data.classes.len(), 100);
    // The fine label, not the coarse one.
    assert_eq!(data.train.labels[57], 57);
}

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn idx_files_read_raw_or_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..6 * 28 * 28).map(|p| (p % 256) as u8).collect();
    let labels = [0u8, 1, 2, 0, 1, 2];
    std::fs::write(
        dir.path().join("train-images-idx3-ubyte.gz"),
        gzip(&idx(&[6, 28, 28], &pixels)),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte"),
        idx(&[6], &labels),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("t10k-images-idx3-ubyte"),
        idx(&[2, 28, 28], &pixels[..2 * 784]),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("t10k-labels-idx1-ubyte.gz"),
        gzip(&idx(&[2], &labels[..2])),
    )
    .unwrap();
    assert_eq!(Format::detect(dir.path()).unwrap(), Format::Idx);
    let data = DataSet::load(dir.path(), None).unwrap();
    assert_eq!(data.train.shape, [1, 28, 28]);
    assert_eq!(data.train.pixels, pixels);
    assert_eq!(data.train.labels, [0, 1, 2, 0, 1, 2]);
    assert_eq!(data.classes, ["0", "1", "2"]);
    assert_eq!(data.test.unwrap().len(), 2);
}

#[test]
fn splits_are_stratified_seeded_and_disjoint() {
    let dir = tempfile::tempdir().unwrap();
    // 3 classes x 40 images, in class order as a folder lists them.
    let mut records = Vec::new();
    for class in 0..3u8 {
        for i in 0..40u8 {
            records.push(class);
            records.extend(std::iter::repeat_n(i, 3072));
        }
    }
    std::fs::write(dir.path().join("data_batch_1.bin"), records).unwrap();
    let mut data = DataSet::load(dir.path(), None).unwrap();
    data.classes.truncate(3);
    let splits = data.splits(7, 0.1, 0.2).unwrap();
    let count = |labels: &[u32], c: u32| labels.iter().filter(|&&l| l == c).count();
    for c in 0..3 {
        assert_eq!(
            (
                count(&splits.train.labels, c),
                count(&splits.val.labels, c),
                count(&splits.test.labels, c)
            ),
            (28, 4, 8)
        );
    }
    assert_eq!(data.splits(7, 0.1, 0.2).unwrap(), splits);
    assert_ne!(data.splits(8, 0.1, 0.2).unwrap(), splits);
    // Disjoint: each (class, first pixel) pair is one image.
    let mut seen: Vec<(u32, u8)> = [&splits.train, &splits.val, &splits.test]
        .iter()
        .flat_map(|s| (0..s.len()).map(move |i| (s.labels[i], s.image(i)[0])))
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 120);
    assert!(data.splits(0, 0.5, 0.5).is_err());
}

fn error(path: &Path) -> String {
    let error = DataSet::load(path, None).unwrap_err();
    assert!(error.is_input(), "{error}");
    error.to_string()
}

#[test]
fn bad_data_is_one_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Missing path.
    assert!(error(&root.join("missing")).contains("missing"));
    // Empty folder, one class.
    std::fs::create_dir(root.join("empty")).unwrap();
    assert!(error(&root.join("empty")).contains("no training image"));
    write_class_folder(&root.join("one"), &["only"], 3, false);
    assert!(error(&root.join("one")).contains("1 class"));
    // A corrupt image, a file that is no image, mixed sizes.
    write_class_folder(&root.join("corrupt"), &["a", "b"], 2, false);
    std::fs::write(
        root.join("corrupt/b/broken.png"),
        b"\x89PNG\r\n\x1a\nnot really",
    )
    .unwrap();
    assert!(error(&root.join("corrupt")).contains("broken.png: cannot decode"));
    write_class_folder(&root.join("text"), &["a", "b"], 2, false);
    std::fs::write(root.join("text/a/notes.txt"), b"hi").unwrap();
    assert!(error(&root.join("text")).contains("notes.txt: not a PNG"));
    write_class_folder(&root.join("mixed"), &["a", "b"], 2, false);
    stripes(0, 16, 16, false)
        .save(root.join("mixed/b/big.png"))
        .unwrap();
    assert!(error(&root.join("mixed")).contains("big.png: 16x16, where"));
    // A truncated CIFAR batch, a label past CIFAR-10's classes.
    std::fs::create_dir(root.join("cifar")).unwrap();
    let mut records = cifar_records(3, 1, 10);
    records.pop();
    std::fs::write(root.join("cifar/data_batch_1.bin"), &records).unwrap();
    assert!(error(&root.join("cifar")).contains("data_batch_1.bin: 9218 bytes"));
    let mut records = cifar_records(3, 1, 10);
    records[3073] = 12;
    std::fs::write(root.join("cifar/data_batch_1.bin"), &records).unwrap();
    assert!(error(&root.join("cifar")).contains("label 12 with 10 classes"));
    // IDX: a size that disagrees with the header, labels that do not match the images.
    std::fs::create_dir(root.join("idx")).unwrap();
    std::fs::write(
        root.join("idx/train-images-idx3-ubyte"),
        idx(&[2, 4, 4], &[0; 31]),
    )
    .unwrap();
    std::fs::write(root.join("idx/train-labels-idx1-ubyte"), idx(&[2], &[0, 1])).unwrap();
    assert!(error(&root.join("idx")).contains("train-images-idx3-ubyte: 31 data bytes"));
    std::fs::write(
        root.join("idx/train-images-idx3-ubyte"),
        idx(&[2, 4, 4], &[0; 32]),
    )
    .unwrap();
    std::fs::write(
        root.join("idx/train-labels-idx1-ubyte"),
        idx(&[3], &[0, 1, 1]),
    )
    .unwrap();
    assert!(error(&root.join("idx")).contains("[3] labels for 2 images"));
    // A format name that does not exist.
    assert!(matches!("csv".parse::<Format>(), Err(DataError::Format(_))));
}

#[test]
fn images_fit_a_space_input_and_normalize_per_channel() {
    use hwnas_data::{Images, Normalization};
    // Two 2x4 grey images: a left half at 0 and a right half at 255, and all 100.
    let images = Images {
        shape: [1, 2, 4],
        pixels: vec![
            0, 0, 255, 255, 0, 0, 255, 255, 100, 100, 100, 100, 100, 100, 100, 100,
        ],
        labels: vec![0, 1],
    };
    // To three channels at 2x2: the shorter side already fits, the centre two columns kept.
    let fitted = images.fit_to([3, 2, 2]).unwrap();
    assert_eq!(fitted.shape, [3, 2, 2]);
    assert_eq!(fitted.labels, [0, 1]);
    assert_eq!(
        fitted.image(0),
        [0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255]
    );
    assert!(fitted.image(1).iter().all(|&p| p == 100));
    // Scaled up: 4x8, every pixel still one of the two halves' values at the edges.
    let larger = images.fit_to([1, 4, 8]).unwrap();
    assert_eq!(larger.image(0)[0], 0);
    assert_eq!(larger.image(0)[7], 255);
    // Colour to grey by luma.
    let colour = Images {
        shape: [3, 1, 1],
        pixels: vec![255, 0, 0],
        labels: vec![0],
    };
    assert_eq!(colour.fit_to([1, 1, 1]).unwrap().pixels, [76]);
    assert!(images.fit_to([2, 2, 2]).is_err());

    let stats = Normalization::of(&images);
    let mean = (2.0 * 255.0 + 4.0 * 100.0) / 8.0 / 255.0;
    assert!((stats.mean[0] - mean as f32).abs() < 1e-6, "{stats:?}");
    let normalized = stats.apply(&images, 1);
    let expected = (100.0 / 255.0 - stats.mean[0]) / stats.std[0];
    assert!(normalized.iter().all(|&v| (v - expected).abs() < 1e-5));
}

#[test]
fn synthetic_data_sets_read_back_in_every_format() {
    use hwnas_data::synthetic::Synthetic;
    let write = |format: Format, shape: [usize; 3]| {
        let dir = tempfile::tempdir().unwrap();
        let synthetic = Synthetic {
            shape,
            classes: 3,
            train_per_class: 5,
            test_per_class: 2,
            seed: 1,
        };
        synthetic.write(dir.path(), format).unwrap();
        let data = DataSet::load(dir.path(), None).unwrap();
        // CIFAR-10 batches name ten classes whichever labels they use.
        let classes = if format == Format::Cifar { 10 } else { 3 };
        assert_eq!(data.classes.len(), classes, "{format:?}");
        assert_eq!(data.train.shape, shape, "{format:?}");
        assert_eq!(data.test.as_ref().unwrap().len(), 6, "{format:?}");
        // Read back exactly as generated, class by class (a folder lists classes by name).
        let expected = synthetic.images(5, 1);
        let mut order: Vec<usize> = (0..15).collect();
        order.sort_by_key(|&i| (data.train.labels[i], i));
        assert_eq!(
            data.train.select(&order).labels,
            expected.labels,
            "{format:?}"
        );
        if format != Format::ImageFolder {
            assert_eq!(data.train, expected, "{format:?}");
        }
    };
    write(Format::Idx, [1, 6, 7]);
    write(Format::Cifar, [3, 32, 32]);
    write(Format::ImageFolder, [3, 6, 4]);
    // A shape the format cannot hold, classes that do not fit.
    let dir = tempfile::tempdir().unwrap();
    let bad = |format: Format, shape: [usize; 3], classes: usize| {
        let synthetic = Synthetic {
            shape,
            classes,
            train_per_class: 1,
            test_per_class: 0,
            seed: 0,
        };
        assert!(synthetic.write(dir.path(), format).is_err());
    };
    bad(Format::Cifar, [3, 16, 16], 3);
    bad(Format::Idx, [3, 8, 8], 3);
    bad(Format::ImageFolder, [1, 2, 8], 3);
}

#[test]
fn split_fractions_past_a_class_are_an_error_not_a_panic() {
    // Three images of each of two classes: 0.85 and 0.1 would ask for 3 + 1 of each.
    let images = hwnas_data::Images {
        shape: [1, 1, 1],
        pixels: vec![0, 1, 2, 3, 4, 5],
        labels: vec![0, 0, 0, 1, 1, 1],
    };
    let data = DataSet {
        classes: vec!["a".into(), "b".into()],
        train: images,
        val: None,
        test: None,
    };
    // One training image of each is kept, the validation split takes the other two, and the
    // test split, with nothing left, is named empty rather than cut past the class.
    let error = data.splits(0, 0.85, 0.1).unwrap_err().to_string();
    assert!(error.contains("the test split is empty"), "{error}");
}

#[test]
fn the_folder_an_archive_unpacked_into_is_read_through() {
    // The official CIFAR-10 archive unpacks into `cifar-10-batches-bin/`; torchvision's root is
    // the folder above it.
    let root = tempfile::tempdir().unwrap();
    let inner = root.path().join("cifar-10-batches-bin");
    hwnas_data::synthetic::Synthetic {
        shape: [3, 32, 32],
        classes: 3,
        train_per_class: 4,
        test_per_class: 2,
        seed: 1,
    }
    .write(&inner, Format::Cifar)
    .unwrap();
    std::fs::write(root.path().join("cifar-10-binary.tar.gz"), b"").unwrap();
    assert_eq!(
        Format::locate(root.path()).unwrap(),
        (inner.clone(), Format::Cifar)
    );
    let through = DataSet::load(root.path(), None).unwrap();
    assert_eq!(through, DataSet::load(&inner, None).unwrap());
    // Class folders stay class folders, even a single one.
    let folders = tempfile::tempdir().unwrap();
    write_class_folder(&folders.path().join("train"), &["a", "b"], 2, false);
    assert_eq!(
        Format::locate(folders.path()).unwrap(),
        (folders.path().to_path_buf(), Format::ImageFolder)
    );
}
