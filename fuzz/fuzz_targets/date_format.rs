//! Java date patterns (projection formats): parsing a pattern never panics, and a time the
//! pattern formats reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minerva_catalog::DateFormat;

fuzz_target!(|data: &[u8]| {
    let Ok(pattern) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(format) = DateFormat::parse(pattern) else {
        return;
    };
    for seconds in [0i64, 951_782_400, 1_709_164_799, 4_102_444_800] {
        let t = chrono::DateTime::from_timestamp(seconds, 0).unwrap().naive_utc();
        let text = format.format(t);
        assert!(
            format.parse_time(&text).is_some(),
            "pattern {pattern:?} formats {t} as {text:?}, which it cannot read"
        );
    }
});
