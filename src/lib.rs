//! greenchannel: the register of family-planning special families of Zhoucun District, their
//! entitlements under 周政发〔2018〕85号, and the signed 方便就医卡 their members carry.

pub mod audit;
pub mod auth;
pub mod card;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod http;
pub mod register;
pub mod rules;
pub mod service;
pub mod time;
pub mod web;
