//! The integration tests: every test body runs on SQLite and on PostgreSQL (the server
//! `GREENCHANNEL_TEST_POSTGRES` names, by default the local one; an unreachable server fails the
//! run, and only `GREENCHANNEL_TEST_POSTGRES=off` skips the PostgreSQL halves, loudly).

mod helpers;

/// Defines a test that runs its body once per backend, as `name::sqlite` and `name::postgres`.
macro_rules! both {
    ($(#[$m:meta])* async fn $name:ident($app:ident) $body:block) => {
        $(#[$m])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body($app: crate::helpers::TestApp) $body
            #[tokio::test]
            async fn sqlite() {
                body(crate::helpers::TestApp::sqlite().await).await
            }
            #[tokio::test]
            async fn postgres() {
                if let Some(app) = crate::helpers::TestApp::postgres().await {
                    body(app).await
                }
            }
        }
    };
}

mod access;
mod browser;
mod cards;
mod clinics;
mod console;
mod contacts;
mod desk;
mod disbursement;
mod emergencies;
mod errors;
mod facts;
mod festivals;
mod health;
mod households;
mod import;
mod input;
mod rules;
mod shutdown;
mod verify;
