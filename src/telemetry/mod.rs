//! What a running function tells its operators: the log subscriber and the one log line per
//! request ([`log`]), CloudWatch metrics as EMF ([`metrics`]), X-Ray subsegments ([`xray`]).

pub mod log;
pub mod metrics;
pub mod xray;

pub use self::log::init;
