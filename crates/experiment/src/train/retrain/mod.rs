//! The final training of one chosen architecture, written to its own directory and resumable
//! from any epoch as if never stopped.

mod run;

pub use run::{
    CHECKPOINTS, EPOCHS_LOG, EpochLine, MODEL_FILE, ModelFile, RESULT_FILE, TRAIN_SETTINGS,
    TrainResult, TrainRun, TrainRunConfig, TrainRunError, WEIGHTS_FILE, load_network,
};
