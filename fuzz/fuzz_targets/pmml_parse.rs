//! Any bytes given to the PMML compiler give a model or a load error: never a panic, a stack
//! overflow or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modeldeck::runtime::pmml::PmmlModel;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PmmlModel::parse(text);
    }
});
