//! Policy that spans the domain and the database, one module per area: each user action is one
//! transaction ([`crate::db::Tx`]) that lands whole or not at all. Handlers and the command line
//! call these; `db/` below them only stores and reads.

pub mod audit;
pub mod cards;
pub mod keys;
pub mod register;
pub mod rules;
pub mod sign_in;
