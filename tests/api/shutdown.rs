//! Graceful shutdown over a real socket: writes accepted before SIGTERM-equivalent are kept.

use std::time::Duration;

use greenchannel::http::{app, serve, AppState};
use serde_json::json;

use crate::helpers::{id, TestApp};

both! {
    async fn shutdown_finishes_in_flight_writes(app_) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app(AppState::new(app_.db.clone())), async { let _ = stop_rx.await; }, Duration::from_secs(20)));
        let client = reqwest::Client::new();
        let mut sent = Vec::new();
        for n in 0..40u32 {
            let mut h = crate::helpers::bereaved_household();
            h["members"][0]["id_number"] = json!(id(1966, 3, 20, true, 100 + n));
            h["members"][1]["id_number"] = json!(id(1964, 11, 2, false, 100 + n));
            let req = client.post(format!("http://{addr}/api/v1/households")).bearer_auth(&app_.office).json(&h).send();
            sent.push(tokio::spawn(req));
        }
        // Ask for shutdown while requests are in flight: once the first write has landed
        // (bounded wait; no timing is asserted).
        for _ in 0..500 {
            if !greenchannel::db::households::list(&app_.db, None, 0, 1).await.unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let _ = stop_tx.send(());
        let mut created = 0;
        for r in sent {
            if let Ok(Ok(res)) = r.await {
                if res.status() == reqwest::StatusCode::CREATED {
                    created += 1;
                }
            }
        }
        server.await.unwrap().unwrap();
        // Every request answered 201 is stored, and nothing else is.
        let stored = greenchannel::db::households::list(&app_.db, None, 0, 1000).await.unwrap().len();
        assert_eq!(stored, created);
        assert!(created > 0, "some requests were accepted before shutdown");
        let _: &TestApp = &app_;
    }
}
