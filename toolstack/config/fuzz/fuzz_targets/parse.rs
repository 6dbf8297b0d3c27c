//! Fuzzes the whole xl.cfg pipeline: any bytes must give a config or diagnostics, never a panic;
//! a config that loads must print to text that loads back to the same config, and must render
//! as libxl JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match rxl_config::parse_str("fuzz.cfg", &text) {
        Ok(loaded) => {
            let printed = loaded.config.to_xl_cfg();
            let again = rxl_config::parse_str("printed.cfg", &printed)
                .unwrap_or_else(|e| panic!("printed config fails to load:\n{printed}\n{e}"));
            assert_eq!(
                again.config, loaded.config,
                "round trip changed the config:\n{printed}"
            );
            let _ = loaded.config.to_libxl_json();
        }
        Err(errors) => {
            assert!(errors.errors().next().is_some(), "Err without an error");
            for d in &errors.diagnostics {
                let _ = d.to_string();
            }
        }
    }
});
