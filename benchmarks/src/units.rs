//! The unit a time or a size is written in, chosen once for the figures and the report (each
//! then writes the number with the precision its place needs: compact ticks and labels in the
//! figures, three significant digits in the report's table).

/// `t` seconds as a value in ns, µs, ms or s, whichever keeps it in [1, 1000).
#[must_use]
pub fn seconds(t: f64) -> (f64, &'static str) {
    match t.abs() {
        a if a == 0.0 || a >= 1.0 => (t, "s"),
        a if a < 1e-6 => (t * 1e9, "ns"),
        a if a < 1e-3 => (t * 1e6, "µs"),
        _ => (t * 1e3, "ms"),
    }
}

/// `b` bytes as a value in B, kB, MB or GB (decimal), whichever keeps it under 1000.
#[must_use]
pub fn bytes(b: f64) -> (f64, &'static str) {
    match b {
        b if b < 1e3 => (b, "B"),
        b if b < 1e6 => (b / 1e3, "kB"),
        b if b < 1e9 => (b / 1e6, "MB"),
        b => (b / 1e9, "GB"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_gets_the_unit_that_keeps_it_readable() {
        assert_eq!(seconds(0.0015), (1.5, "ms"));
        assert_eq!(seconds(2.0), (2.0, "s"));
        assert_eq!(seconds(0.0), (0.0, "s"));
        assert_eq!(seconds(3e-7).1, "ns");
        assert_eq!(seconds(4e-5).1, "µs");
        assert_eq!(bytes(2.5e6), (2.5, "MB"));
        assert_eq!(bytes(10.0), (10.0, "B"));
    }
}
