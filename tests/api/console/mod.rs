//! The console: sign-in, sessions, CSRF, throttling and scope over a real socket, and the
//! office's main errand in a real headless Chromium.

mod browser;
mod clinic;
mod contacts;
mod emergencies;
mod facts;
mod http;

use std::net::SocketAddr;

use crate::helpers::TestApp;
use greenchannel::auth::password::Password;

/// The console served on a real socket (with the peer address, as `serve` does); its base URL.
pub async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    format!("http://{addr}")
}

/// Gives the test account `name` the console password `password` (no change required).
pub async fn set_password(app: &TestApp, name: &str, password: &str, temporary: bool) -> i64 {
    let id = greenchannel::db::accounts::enabled_id(&app.db, name)
        .await
        .unwrap()
        .expect("account exists");
    let password = Password::new_for(password, name).expect("a valid password");
    greenchannel::service::sign_in::set_password(&app.db, id, password, temporary)
        .await
        .unwrap();
    id
}
