//! The Flash-Mesh wallet: payer and payee library and CLI.
