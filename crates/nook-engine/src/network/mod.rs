//! Container networking in the engine: published ports (more to come).

pub mod ports;
