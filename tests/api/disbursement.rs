use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{bereaved_household, id, TestApp};

async fn list(app: &TestApp, period: &str) -> Value {
    let res = app
        .post(
            "/api/v1/disbursements",
            &app.office,
            &json!({"period": period}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body
}

fn rows<'a>(l: &'a Value, code: &str) -> Vec<&'a Value> {
    l["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["code"] == code)
        .collect()
}

/// Totals reconcile with the rows to the fen.
fn assert_reconciles(l: &Value) {
    let sum: i64 = l["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["amount_fen"].as_i64())
        .sum();
    assert_eq!(l["total_fen"].as_i64(), Some(sum));
    let townships: i64 = l["townships"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["total_fen"].as_i64().unwrap())
        .sum();
    assert_eq!(townships, sum);
    for t in l["townships"].as_object().unwrap().values() {
        let by_code: i64 = t["by_code"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum();
        assert_eq!(by_code, t["total_fen"].as_i64().unwrap());
    }
}

both! {
    async fn a_month_list_pays_each_member_and_reconciles(app) {
        app.create_household(&bereaved_household()).await;
        let mut disabled = bereaved_household();
        disabled["child"] = json!({"status": "disabled", "disability_grade": 2});
        disabled["township_id"] = json!("370306100");
        disabled["community_id"] = json!(null);
        disabled["members"][0]["id_number"] = json!(id(1960, 1, 5, true, 7));
        disabled["members"][1]["id_number"] = json!(id(1958, 2, 6, false, 7));
        app.create_household(&disabled).await;
        let l = list(&app, "2020-06").await;
        assert_eq!(l["status"], "draft");
        let sa: Vec<i64> = rows(&l, "special_assistance").iter().map(|r| r["amount_fen"].as_i64().unwrap()).collect();
        assert_eq!(sa.iter().filter(|a| **a == 61000).count(), 2, "{sa:?}");
        assert_eq!(sa.iter().filter(|a| **a == 48000).count(), 2, "{sa:?}");
        assert_reconciles(&l);
        // The CSV carries the same rows and a district total equal to the JSON's.
        let csv = app.get(&format!("/api/v1/disbursements/{}/csv", l["disbursement_id"]), &app.office).await;
        let text = String::from_utf8(csv.bytes).unwrap();
        let last = text.lines().last().unwrap();
        assert!(last.contains("district_total") && last.contains(&l["total_fen"].to_string()), "{last}");
        assert_eq!(text.lines().count(), 1 + l["rows"].as_array().unwrap().len() + l["townships"].as_object().unwrap().len() + 1);
        // Only the office makes lists.
        app.post("/api/v1/disbursements", &app.auditor, &json!({"period": "2020-06"})).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        app.post("/api/v1/disbursements", &app.office, &json!({"period": "2020-13"})).await.assert_problem(StatusCode::BAD_REQUEST, "bad_period");
    }
}

both! {
    async fn an_approved_list_is_frozen_and_corrections_go_into_the_next(app) {
        let created = app.create_household(&bereaved_household()).await;
        let hid = created["household_id"].as_i64().unwrap();
        let father = created["members"][1]["member_id"].as_i64().unwrap();
        let june = list(&app, "2020-06").await;
        let jid = june["disbursement_id"].as_i64().unwrap();
        let approved = app.post(&format!("/api/v1/disbursements/{jid}/approve"), &app.office, &json!({})).await;
        assert_eq!(approved.body["status"], "approved", "{}", approved.body);
        app.post("/api/v1/disbursements", &app.office, &json!({"period": "2020-06"})).await.assert_problem(StatusCode::CONFLICT, "already_approved");
        app.post(&format!("/api/v1/disbursements/{jid}/approve"), &app.office, &json!({})).await.assert_problem(StatusCode::CONFLICT, "already_approved");

        // The office learns the father died on 2020-05-20: June's special assistance to him was
        // an overpayment.
        let mut changed = bereaved_household();
        changed["members"][1]["died_on"] = json!("2020-05-20");
        let res = app.put(&format!("/api/v1/households/{hid}"), &app.office, &json!({"version": 1, "reason": "死亡登记", "household": changed})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);

        let frozen = app.get(&format!("/api/v1/disbursements/{jid}"), &app.office).await.body;
        assert_eq!(frozen["rows"], june["rows"], "an approved list is never rewritten");
        let july = list(&app, "2020-07").await;
        // The office's list of lists: newest period first, with status and total, no rows.
        let lists = app.get("/api/v1/disbursements", &app.office).await;
        assert_eq!(lists.status, StatusCode::OK, "{}", lists.body);
        let summary: Vec<(Value, Value, Value)> = lists.body.as_array().unwrap().iter()
            .map(|l| (l["period"].clone(), l["status"].clone(), l["total_fen"].clone())).collect();
        assert_eq!(summary, [
            (json!("2020-07"), json!("draft"), july["total_fen"].clone()),
            (json!("2020-06"), json!("approved"), june["total_fen"].clone()),
        ]);
        assert!(lists.body[0].get("rows").is_none());
        app.get("/api/v1/disbursements", &app.auditor).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        let corrections: Vec<&Value> = july["rows"].as_array().unwrap().iter().filter(|r| r["kind"] == "correction").collect();
        let sa = corrections.iter().find(|r| r["code"] == "special_assistance" && r["member_id"] == father).expect("a correction for the father");
        assert_eq!(sa["for_month"], "2020-06");
        assert_eq!(sa["amount_fen"], -61000);
        assert!(rows(&july, "special_assistance").iter().all(|r| r["kind"] == "correction" || r["member_id"] != father));
        assert_reconciles(&july);
    }
}

both! {
    async fn a_later_birth_stops_payments_after_it_and_never_claws_back_the_months_before(app) {
        let created = app.create_household(&bereaved_household()).await;
        let hid = created["household_id"].as_i64().unwrap();
        for month in ["2020-06", "2020-07", "2020-08"] {
            let l = list(&app, month).await;
            let id = l["disbursement_id"].as_i64().unwrap();
            app.post(&format!("/api/v1/disbursements/{id}/approve"), &app.office, &json!({})).await;
        }
        // In October the township records a child born to the couple on 2020-09-15.
        let mut changed = bereaved_household();
        changed["other_child_since"] = json!(true);
        changed["other_child_on"] = json!("2020-09-15");
        let res = app.put(&format!("/api/v1/households/{hid}"), &app.township, &json!({"version": 1, "reason": "再生育登记", "household": changed})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        // June to August were rightly paid: no correction for them.
        let september = list(&app, "2020-09").await;
        let corrections: Vec<&Value> = september["rows"].as_array().unwrap().iter().filter(|r| r["kind"] == "correction").collect();
        assert!(corrections.is_empty(), "{corrections:?}");
        // September's first day came before the birth: paid; from October, nothing.
        assert_eq!(rows(&september, "special_assistance").len(), 2, "{}", september["rows"]);
        let id = september["disbursement_id"].as_i64().unwrap();
        app.post(&format!("/api/v1/disbursements/{id}/approve"), &app.office, &json!({})).await;
        let october = list(&app, "2020-10").await;
        assert!(rows(&october, "special_assistance").is_empty(), "{}", october["rows"]);
        assert!(october["rows"].as_array().unwrap().iter().all(|r| r["kind"] != "correction"), "{}", october["rows"]);
        assert_reconciles(&october);
        // A birth without its date is refused: the date decides which months are paid.
        let mut undated = bereaved_household();
        undated["other_child_since"] = json!(true);
        let res = app.put(&format!("/api/v1/households/{hid}"), &app.office, &json!({"version": 2, "reason": "x", "household": undated})).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "other_child_on", "{}", res.body);
    }
}

both! {
    async fn a_one_time_payment_is_paid_once_whatever_is_rerun(app) {
        let mut h = bereaved_household();
        h["child"] = json!({"status": "deceased", "died_on": "2020-03-10"});
        app.create_household(&h).await;
        let march = list(&app, "2020-03").await;
        assert_eq!(rows(&march, "bereavement_relief").len(), 1);
        assert_eq!(rows(&march, "bereavement_relief")[0]["amount_fen"], 200000);
        // Re-running a draft does not pay twice: there is one draft per month.
        let march = list(&app, "2020-03").await;
        assert_eq!(rows(&march, "bereavement_relief").len(), 1);
        let id = march["disbursement_id"].as_i64().unwrap();
        app.post(&format!("/api/v1/disbursements/{id}/approve"), &app.office, &json!({})).await;
        for month in ["2020-04", "2020-12"] {
            let later = list(&app, month).await;
            assert!(rows(&later, "bereavement_relief").is_empty(), "{month}: {}", later["rows"]);
        }
    }
}

both! {
    async fn a_year_list_is_an_overview_of_twelve_months(app) {
        let created = app.create_household(&bereaved_household()).await;
        let mother = created["members"][0]["member_id"].clone();
        let year = list(&app, "2020").await;
        let sa: Vec<&Value> = rows(&year, "special_assistance").into_iter().filter(|r| r["member_id"] == mother).collect();
        assert_eq!(sa.len(), 12);
        assert_eq!(sa.iter().map(|r| r["amount_fen"].as_i64().unwrap()).sum::<i64>(), 12 * 61000);
        assert_eq!(sa[0]["for_month"], "2020-01");
        assert_reconciles(&year);
        let id = year["disbursement_id"].as_i64().unwrap();
        app.post(&format!("/api/v1/disbursements/{id}/approve"), &app.office, &json!({})).await.assert_problem(StatusCode::CONFLICT, "year_overview");
    }
}

both! {
    async fn a_family_whose_ivf_child_is_born_is_paid_that_month_and_not_after_and_its_cards_wait(app) {
        let created = app.create_household(&bereaved_household()).await;
        let hid = created["household_id"].as_i64().unwrap();
        let mut h = bereaved_household();
        h["ivf_birth_on"] = json!("2020-05-10");
        let res = app.put(&format!("/api/v1/households/{hid}"), &app.office,
            &json!({"version": 1, "reason": "试管婴儿出生", "household": h})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let may = list(&app, "2020-05").await;
        assert_eq!(rows(&may, "special_assistance").len(), 2, "May's first day came before the birth");
        assert_eq!(rows(&may, "ivf_subsidy").iter().map(|r| r["amount_fen"].as_i64()).collect::<Vec<_>>(), vec![Some(1_000_000)]);
        let june = list(&app, "2020-06").await;
        assert!(rows(&june, "special_assistance").is_empty(), "{june}");
        assert!(rows(&june, "ivf_subsidy").is_empty(), "{june}");
        assert_eq!(june["total_fen"], 0);

        // Today: the birth ends the card's entitlement; the card waits for the office.
        crate::helpers::continue_rules_to_today(&app).await;
        let other = app.create_household(&{
            let mut h = bereaved_household();
            h["members"][0]["id_number"] = json!(crate::helpers::id(1966, 3, 20, true, 9));
            h["members"][1]["id_number"] = json!(crate::helpers::id(1964, 11, 2, false, 9));
            h
        }).await;
        let oid = other["household_id"].as_i64().unwrap();
        let mother = other["members"][0]["member_id"].as_i64().unwrap();
        let card = app.post(&format!("/api/v1/members/{mother}/cards"), &app.office, &json!({})).await;
        assert_eq!(card.status, StatusCode::CREATED, "{}", card.body);
        let mut h = other.clone();
        for k in ["household_id", "version", "created_at", "updated_at"] {
            h.as_object_mut().unwrap().remove(k);
        }
        for m in h["members"].as_array_mut().unwrap() {
            m.as_object_mut().unwrap().remove("member_id");
        }
        h["ivf_birth_on"] = json!(greenchannel::time::today());
        let res = app.put(&format!("/api/v1/households/{oid}"), &app.township,
            &json!({"version": 1, "reason": "试管婴儿出生", "household": h})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let cards = app.get(&format!("/api/v1/members/{mother}/cards"), &app.office).await;
        assert_eq!(cards.body[0]["state"], "suspended", "{}", cards.body);
    }
}
