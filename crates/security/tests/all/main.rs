//! silverline-security's integration tests, one module per topic (one binary links faster).

mod mosquitto;
