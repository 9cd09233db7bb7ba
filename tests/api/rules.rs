use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{bereaved_household, continue_rules_to_today, TestApp};

/// The household of the issue (and of `rules eval`'s documentation).
const EXAMPLE: &str = include_str!("../rules/example-household.json");

async fn eval(app: &TestApp, on: &str, body: &str) -> crate::helpers::Response {
    app.call(
        Method::POST,
        &format!("/api/v1/rules/eval?on={on}"),
        Some(&app.office),
        Some(Body::from(body.to_owned())),
        Some("application/json"),
    )
    .await
}

fn amount(ev: &Value, code: &str, member: Option<&str>) -> Option<i64> {
    ev["entitlements"]
        .as_array()?
        .iter()
        .find(|e| e["code"] == code && e["member"].as_str() == member)?["amount_fen"]
        .as_i64()
}

both! {
    async fn a_posted_household_is_evaluated_like_the_command_line(app) {
        let res = eval(&app, "2020-06-15", EXAMPLE).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["rule_set"], "周政发〔2018〕85号");
        assert_eq!(res.body["family_kind"], "bereaved");
        assert_eq!(amount(&res.body, "special_assistance", Some("m")), Some(61000));
        assert_eq!(amount(&res.body, "commercial_insurance", Some("f")), Some(30000));
        assert_eq!(amount(&res.body, "household_service_grant", None), Some(30000));
        // The same answer as `rules eval`'s core.
        let book = greenchannel::rules::RuleBook::shipped().unwrap();
        let cli = greenchannel::rules::eval_json(&book, EXAMPLE, chrono::NaiveDate::from_ymd_opt(2020, 6, 15).unwrap()).unwrap();
        assert_eq!(res.body, cli);
    }
}

both! {
    async fn a_date_without_rules_or_a_bad_household_is_a_clear_problem(app) {
        let res = eval(&app, "2022-02-01", EXAMPLE).await;
        res.assert_problem(StatusCode::BAD_REQUEST, "no_rule_set");
        assert!(res.body["detail"].as_str().unwrap().contains("2019-02-01 ..= 2022-01-31"), "{}", res.body);
        let res = eval(&app, "2020-06-15", &EXAMPLE.replace("\"1966-03-20\"", "\"1966-02-30\"")).await;
        res.assert_problem(StatusCode::BAD_REQUEST, "invalid_body");
        assert!(res.body["detail"].as_str().unwrap().contains("members[0].born_on"), "{}", res.body);
    }
}

both! {
    async fn a_registered_household_has_its_entitlements_on_a_date(app) {
        let created = app.create_household(&bereaved_household()).await;
        let id = created["household_id"].as_i64().unwrap();
        let mother = created["members"][0]["member_id"].as_i64().unwrap().to_string();
        let res = app.get(&format!("/api/v1/households/{id}/entitlements?on=2020-06-15"), &app.township).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(amount(&res.body, "special_assistance", Some(&mother)), Some(61000));
        let res = app.get(&format!("/api/v1/households/{id}/entitlements?on=2020-06-15"), &app.other_township).await;
        res.assert_problem(StatusCode::NOT_FOUND, "not_found");
        let res = app.get(&format!("/api/v1/households/{id}/entitlements?on=2020-06-15"), &app.desk).await;
        res.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
}

both! {
    async fn the_office_loads_a_continuation_but_not_a_bad_or_overlapping_rule_set(app) {
        let app = &app;
        let load = |name: &'static str, body: String| async move {
            app.call(Method::POST, &format!("/api/v1/rules?name={name}"), Some(&app.office), Some(Body::from(body)), Some("application/toml")).await
        };
        let res = load("bad.toml", "id = \"x\"\nfrom = \"2022-02-30\"\n".into()).await;
        res.assert_problem(StatusCode::BAD_REQUEST, "bad_rule_set");
        let shipped = greenchannel::rules::RuleBook::shipped_text().replace("周政发〔2018〕85号\"", "周政发〔2022〕1号\"");
        let res = load("overlap.toml", shipped).await;
        res.assert_problem(StatusCode::BAD_REQUEST, "bad_rule_set");
        assert!(res.body["detail"].as_str().unwrap().contains("overlap"), "{}", res.body);
        // Nothing stored: still only the shipped window.
        let rules = app.get("/api/v1/rules", &app.office).await;
        assert_eq!(rules.body["windows"][0]["until"], "2022-01-31");
        // A township may not load rules.
        let res = app.call(Method::POST, "/api/v1/rules?name=x", Some(&app.township), Some(Body::from("x")), None).await;
        res.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        continue_rules_to_today(app).await;
        let rules = app.get("/api/v1/rules", &app.office).await;
        assert_eq!(rules.body["windows"][0]["until"], "2027-12-31");
        let res = eval(app, "2022-06-01", EXAMPLE).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
}

both! {
    async fn what_changed_between_two_dates_names_gains_and_losses(app) {
        // The mother turns 49 on 2020-09-01: between the dates the couple gains the checkup
        // and the commercial insurance.
        let mut h = bereaved_household();
        h["members"][0]["id_number"] = json!(crate::helpers::id(1971, 9, 1, true, 3));
        h["members"][1]["id_number"] = json!(crate::helpers::id(1969, 5, 5, false, 3));
        let created = app.create_household(&h).await;
        let res = app.get("/api/v1/rules/changes?from=2020-06-01&to=2020-10-01", &app.office).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let list = res.body.as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["household_id"], created["household_id"]);
        let gained: Vec<&str> = list[0]["changes"].as_array().unwrap().iter().filter(|c| c["kind"] == "gained").map(|c| c["code"].as_str().unwrap()).collect();
        assert!(gained.contains(&"annual_checkup") && gained.contains(&"commercial_insurance"), "{gained:?}");
    }
}

both! {
    async fn two_overlapping_rule_sets_loaded_at_once_exactly_one_lands(app) {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/demo/continuation-demo.toml"),
        )
        .expect("demo continuation");
        let load = |path: &'static str| {
            app.call(
                Method::POST,
                path,
                Some(&app.office),
                Some(Body::from(text.clone())),
                Some("application/toml"),
            )
        };
        let (a, b) = tokio::join!(load("/api/v1/rules?name=a.toml"), load("/api/v1/rules?name=b.toml"));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::BAD_REQUEST], "{} / {}", a.body, b.body);
        let refused = if a.status == StatusCode::CREATED { b } else { a };
        refused.assert_problem(StatusCode::BAD_REQUEST, "bad_rule_set");
        // The book still builds: every endpoint that needs the rules answers.
        let res = app.get("/api/v1/rules", &app.office).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["documents"].as_array().map(Vec::len), Some(1), "{}", res.body);
    }
}
