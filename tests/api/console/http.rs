//! The console's sign-in, sessions and form protection, over HTTP without a browser.

use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::json;

use super::{serve, set_password};
use crate::helpers::bereaved_household;

/// A browser-like client that does not follow redirects (the tests look at them).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value a response sets for cookie `name`.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The first `name="csrf" value="…"` of a page.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// A sign-in attempt as the sign-in page makes it: its cookie and its form's token.
async fn attempt(base: &str, name: &str, password: &str) -> reqwest::Response {
    let c = client();
    let page = c.get(format!("{base}/")).send().await.unwrap();
    let login = set_cookie(&page, "gc_login").expect("the sign-in page sets its token cookie");
    let token = csrf_of(&page.text().await.unwrap());
    c.post(format!("{base}/login"))
        .header("cookie", format!("gc_login={login}"))
        .form(&[("name", name), ("password", password), ("csrf", &token)])
        .send()
        .await
        .unwrap()
}

/// Signs in; returns the session cookie header and the session's CSRF token.
pub(super) async fn sign_in(base: &str, name: &str, password: &str) -> (String, String) {
    let res = attempt(base, name, password).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signing in as {name}");
    let session = set_cookie(&res, "gc_session").expect("a session cookie");
    let cookie = format!("gc_session={session}");
    let home = client()
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let csrf = csrf_of(&home.text().await.unwrap());
    (cookie, csrf)
}

/// A search page after its form (which shows what was typed).
fn results_of(body: &str) -> &str {
    body.split("id=\"search\"")
        .nth(1)
        .and_then(|b| b.split_once("</form>"))
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("not a search page: {body}"))
}

pub(super) async fn get(base: &str, path: &str, cookie: &str) -> reqwest::Response {
    client()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

both! {
    async fn the_session_cookie_is_http_only_and_strict_and_the_sign_in_page_is_the_console_root(app) {
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        let root = client().get(format!("{base}/")).send().await.unwrap();
        assert_eq!(root.status(), StatusCode::OK);
        let body = root.text().await.unwrap();
        assert!(body.contains("action=\"/login\"") && body.contains("name=\"password\""), "{body}");
        let res = attempt(&base, "office", "office-password-1").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[LOCATION], "/");
        let cookie = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with("gc_session="))
            .expect("session cookie");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), "{cookie}");
        // Only its hash is stored.
        let secret = cookie.split(';').next().unwrap().trim_start_matches("gc_session=");
        let count = |value: String| {
            let db = app.db.clone();
            async move {
                greenchannel::on_db!(&db, p => sqlx::query_scalar::<_, i64>(
                    "select count(*) from web_session where token_hash = $1").bind(value).fetch_one(p).await).unwrap()
            }
        };
        assert_eq!(count(secret.to_owned()).await, 0);
        assert_eq!(count(greenchannel::auth::hash_token(secret)).await, 1);
    }
}

both! {
    async fn a_wrong_password_and_an_unknown_name_get_the_same_answer_and_both_are_throttled(app) {
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        for name in ["office", "no-such-account"] {
            for _ in 0..5 {
                let res = attempt(&base, name, "wrong-password").await;
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name}");
                assert!(res.text().await.unwrap().contains("用户名或密码不正确"));
            }
            // The sixth is refused unchecked — even with the right password.
            let res = attempt(&base, name, "office-password-1").await;
            assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{name}");
            let wait: i64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((60..=15 * 60).contains(&wait), "{wait}");
            assert!(set_cookie(&res, "gc_session").is_none());
            assert!(res.text().await.unwrap().contains("尝试次数过多"));
        }
        // Another account is not locked by these.
        set_password(&app, "auditor", "auditor-password-1", false).await;
        sign_in(&base, "auditor", "auditor-password-1").await;
        // An account without a password and a disabled one answer as a wrong password does.
        let desk = set_password(&app, "desk", "desk-password-1", false).await;
        greenchannel::db::accounts::disable(&app.db, desk).await.unwrap();
        for (name, password) in [("clinic", "any-password-1"), ("desk", "desk-password-1")] {
            let res = attempt(&base, name, password).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name}");
            assert!(res.text().await.unwrap().contains("用户名或密码不正确"), "{name}");
        }
    }
}

both! {
    async fn failed_sign_ins_from_one_address_are_throttled_across_names(app) {
        let base = serve(&app).await;
        for n in 0..20 {
            let res = attempt(&base, &format!("guess-{n}"), "wrong-password").await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        let res = attempt(&base, "guess-20", "wrong-password").await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}

both! {
    async fn a_form_post_without_its_csrf_token_is_refused_and_changes_nothing(app) {
        crate::helpers::continue_rules_to_today(&app).await;
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        let household = app.create_household(&bereaved_household()).await;
        let member = household["members"][0]["member_id"].as_i64().unwrap();
        let (cookie, csrf) = sign_in(&base, "office", "office-password-1").await;
        let post = |path: String, form: Vec<(&'static str, String)>| {
            let cookie = cookie.clone();
            async move {
                client().post(path).header("cookie", cookie).form(&form).send().await.unwrap()
            }
        };
        // No token, then a wrong one: refused, no card.
        let res = post(format!("{base}/members/{member}/cards"), vec![]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let res = post(format!("{base}/members/{member}/cards"), vec![("csrf", "x".repeat(csrf.len()))]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let cards = app.get(&format!("/api/v1/members/{member}/cards"), &app.office).await;
        assert_eq!(cards.body.as_array().unwrap().len(), 0);
        // With it: issued, back to the file.
        let res = post(format!("{base}/members/{member}/cards"), vec![("csrf", csrf.clone())]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let cards = app.get(&format!("/api/v1/members/{member}/cards"), &app.office).await;
        let serial = cards.body[0]["serial"].as_str().unwrap().to_owned();
        // Revoking without the token is refused too; the card stays active.
        let res = post(format!("{base}/cards/{serial}/revoke"), vec![("reason", "lost".into())]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let card = app.get(&format!("/api/v1/cards/{serial}"), &app.office).await;
        assert_eq!(card.body["state"], "active");
        // A logout without it does not end the session.
        let res = post(format!("{base}/logout"), vec![]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(get(&base, "/households", &cookie).await.status(), StatusCode::OK);
    }
}

both! {
    async fn every_page_carries_a_strict_policy_and_no_inline_script(app) {
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        let household = app.create_household(&bereaved_household()).await;
        let (cookie, _) = sign_in(&base, "office", "office-password-1").await;
        let file = format!("/households/{}", household["household_id"]);
        let edit = format!("{file}/edit");
        for path in ["/", "/households", &file, &edit, "/cards", "/cards/awaiting", "/import", "/disbursements",
                     "/accounts", "/facilities", "/rules", "/audit", "/password", "/assets/console.js"] {
            let res = get(&base, path, &cookie).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let h = res.headers().clone();
            let csp = h[CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"), "{path}: {csp}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert!(h.contains_key("referrer-policy"), "{path}");
            let body = res.text().await.unwrap();
            for (i, _) in body.match_indices("<script") {
                let tag = &body[i..i + body[i..].find('>').unwrap()];
                assert!(tag.contains(" src="), "{path}: inline script {tag}");
            }
            assert!(!body.contains(" onclick=") && !body.contains("javascript:"), "{path}");
        }
        // Personal data: never kept by a browser or proxy.
        let res = get(&base, &format!("/households/{}", household["household_id"]), &cookie).await;
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
}

both! {
    async fn signing_out_or_disabling_the_account_ends_the_session_at_once(app) {
        set_password(&app, "office", "office-password-1", false).await;
        let township = set_password(&app, "township", "township-password-1", false).await;
        let base = serve(&app).await;
        let (cookie, _) = sign_in(&base, "township", "township-password-1").await;
        assert_eq!(get(&base, "/households", &cookie).await.status(), StatusCode::OK);
        let res = app.post(&format!("/api/v1/accounts/{township}/disable"), &app.office, &json!({})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let res = get(&base, "/households", &cookie).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[LOCATION], "/");
        // Its token stops too.
        let res = app.get("/api/v1/me", &app.township).await;
        res.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
        // And it cannot sign in again.
        assert_eq!(attempt(&base, "township", "township-password-1").await.status(), StatusCode::UNAUTHORIZED);

        let (cookie, csrf) = sign_in(&base, "office", "office-password-1").await;
        let res = client().post(format!("{base}/logout")).header("cookie", &cookie).form(&[("csrf", csrf)]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(get(&base, "/households", &cookie).await.status(), StatusCode::SEE_OTHER);
    }
}

both! {
    async fn an_account_with_a_temporary_password_must_choose_its_own_first(app) {
        let office = set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        let res = app.post(&format!("/api/v1/accounts/{office}/password"), &app.office, &json!({})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let temporary = res.body["password"].as_str().unwrap().to_owned();
        let res = attempt(&base, "office", &temporary).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[LOCATION], "/password");
        let cookie = format!("gc_session={}", set_cookie(&res, "gc_session").unwrap());
        let res = get(&base, "/households", &cookie).await;
        assert_eq!(res.headers()[LOCATION], "/password");
        let page = get(&base, "/password", &cookie).await.text().await.unwrap();
        let csrf = csrf_of(&page);
        let change = |new: &'static str| {
            let (cookie, csrf, temporary, base) = (cookie.clone(), csrf.clone(), temporary.clone(), base.clone());
            async move {
                client().post(format!("{base}/password")).header("cookie", cookie)
                    .form(&[("csrf", csrf.as_str()), ("current", temporary.as_str()), ("new", new), ("repeated", new)])
                    .send().await.unwrap()
            }
        };
        let res = change("short").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().await.unwrap().contains("至少 10 个字符"));
        let res = change("my-own-password-2").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let cookie = format!("gc_session={}", set_cookie(&res, "gc_session").unwrap());
        assert_eq!(get(&base, "/households", &cookie).await.status(), StatusCode::OK);
        sign_in(&base, "office", "my-own-password-2").await;
    }
}

both! {
    async fn a_township_reaches_only_its_own_households_through_any_page(app) {
        set_password(&app, "township", "township-password-1", false).await;
        let base = serve(&app).await;
        let own = app.create_household(&bereaved_household()).await;
        let mut other = bereaved_household();
        other["township_id"] = json!("370306100");
        other["community_id"] = json!(null);
        other["members"][0]["name"] = json!("赵外镇");
        other["members"][0]["id_number"] = json!(crate::helpers::id(1967, 1, 1, true, 7));
        other["members"][1]["id_number"] = json!(crate::helpers::id(1965, 1, 1, false, 7));
        let other = app.create_household(&other).await;
        let (cookie, csrf) = sign_in(&base, "township", "township-password-1").await;
        let own_id = own["household_id"].as_i64().unwrap();
        let other_id = other["household_id"].as_i64().unwrap();
        assert_eq!(get(&base, &format!("/households/{own_id}"), &cookie).await.status(), StatusCode::OK);
        let res = get(&base, &format!("/households/{other_id}"), &cookie).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert!(!res.text().await.unwrap().contains("赵外镇"));
        for query in ["q=赵外镇", "q=赵外镇&township=370306100", "township=370306100", ""] {
            let body = get(&base, &format!("/households?{query}"), &cookie).await.text().await.unwrap();
            // The search box shows what was typed; no result names or links the other file.
            let results = results_of(&body);
            assert!(!results.contains("赵外镇") && !body.contains(&format!("/households/{other_id}\"")), "{query}");
            assert!(!body.contains("370306100\"") , "{query}: no other township offered");
        }
        let res = client().post(format!("{base}/households/{other_id}/reveal")).header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("member_id", &other["members"][0]["member_id"].to_string())])
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        // The page's form posts the search (nothing typed reaches an address); without the
        // session's token it is refused.
        let page = get(&base, "/households", &cookie).await.text().await.unwrap();
        assert!(page.contains("<form method=\"post\" action=\"/households\" class=\"search\" id=\"search\">"), "{page}");
        let posted = |fields: Vec<(&'static str, String)>| {
            let (cookie, base) = (cookie.clone(), base.clone());
            async move { client().post(format!("{base}/households")).header("cookie", cookie).form(&fields).send().await.unwrap() }
        };
        let res = posted(vec![("csrf", csrf.clone()), ("q", "张秀兰".into())]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.text().await.unwrap().contains(&format!("/households/{own_id}\"")));
        let res = posted(vec![("csrf", csrf.clone()), ("q", "赵外镇".into()), ("township", "370306100".into())]).await;
        assert!(!res.text().await.unwrap().contains(&format!("/households/{other_id}\"")));
        assert_eq!(posted(vec![("q", "张秀兰".into())]).await.status(), StatusCode::FORBIDDEN);
        // The township's own search finds its family by name, by the ID's last four, by phone.
        let mother = own["members"][0]["id_number"].as_str().unwrap();
        for q in ["张秀兰", &mother[14..], "13912345678", mother] {
            let body = get(&base, &format!("/households?q={q}"), &cookie).await.text().await.unwrap();
            assert!(body.contains(&format!("/households/{own_id}\"")), "{q}");
            assert!(!results_of(&body).contains(mother), "the list shows ID numbers masked");
        }
    }
}

both! {
    async fn showing_a_full_id_number_is_an_explicit_recorded_action(app) {
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        let household = app.create_household(&bereaved_household()).await;
        let id = household["household_id"].as_i64().unwrap();
        let mother = &household["members"][0];
        let full = mother["id_number"].as_str().unwrap();
        let (cookie, csrf) = sign_in(&base, "office", "office-password-1").await;
        let page = get(&base, &format!("/households/{id}"), &cookie).await.text().await.unwrap();
        assert!(!page.contains(full), "masked until asked");
        // Nor its birth date, which with the county would give the number away: the year only.
        assert!(!page.contains("1966-03-20") && page.contains("1966 年"), "{page}");
        let res = client().post(format!("{base}/households/{id}/reveal")).header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("member_id", &mother["member_id"].to_string())])
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.text().await.unwrap().contains(full));
        let views = greenchannel::db::sessions::views(&app.db, 10).await.unwrap();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].account, "office");
        assert_eq!(views[0].member_id, mother["member_id"].as_i64().unwrap());
        // The office reads that log on the audit page; an auditor does not see it there.
        let audit = get(&base, "/audit", &cookie).await.text().await.unwrap();
        assert!(audit.contains("id=\"views\"") && audit.contains(&format!("/households/{id}\"")), "{audit}");
        let res = client().post(format!("{base}/audit/check")).header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert!(res.text().await.unwrap().contains("全部完好"));
        set_password(&app, "auditor", "auditor-password-1", false).await;
        let (auditor, _) = sign_in(&base, "auditor", "auditor-password-1").await;
        let audit = get(&base, "/audit", &auditor).await.text().await.unwrap();
        assert!(audit.contains("id=\"per-day\"") || audit.contains("没有核验记录"));
        assert!(!audit.contains("id=\"views\""));
        // Nor may an auditor ask for a full number.
        let auditor_csrf = csrf_of(&get(&base, "/", &auditor).await.text().await.unwrap());
        let res = client().post(format!("{base}/households/{id}/reveal")).header("cookie", &auditor)
            .form(&[("csrf", auditor_csrf.as_str()), ("member_id", &mother["member_id"].to_string())])
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(greenchannel::db::sessions::views(&app.db, 10).await.unwrap().len(), 1);
    }
}

/// The edit form's fields for the bereaved test household as stored, plus `extra`.
fn edit_form(
    csrf: &str,
    version: i64,
    reason: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = [
        ("csrf", csrf),
        ("version", &version.to_string()),
        ("address", "丝绸路12号"),
        ("community_id", "370306001001"),
        ("hukou_in_district", "on"),
        ("contact_name", "王干事"),
        ("contact_phone", "05336412345"),
        ("m0_name", "张秀兰"),
        ("m0_phone", "13912345678"),
        ("m1_name", "李建国"),
        ("reason", reason),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    f.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    f
}

both! {
    async fn a_township_edit_that_ends_entitlement_suspends_the_card_and_a_stale_form_is_told_so(app) {
        crate::helpers::continue_rules_to_today(&app).await;
        set_password(&app, "township", "township-password-1", false).await;
        let base = serve(&app).await;
        let household = app.create_household(&bereaved_household()).await;
        let id = household["household_id"].as_i64().unwrap();
        let mother = household["members"][0]["member_id"].as_i64().unwrap();
        let card = app.post(&format!("/api/v1/members/{mother}/cards"), &app.office, &json!({})).await;
        assert_eq!(card.status, StatusCode::CREATED, "{}", card.body);
        let (cookie, csrf) = sign_in(&base, "township", "township-password-1").await;
        let page = get(&base, &format!("/households/{id}/edit"), &cookie).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("name=\"version\" value=\"1\""));
        let post = |form: Vec<(String, String)>| {
            let (cookie, base) = (cookie.clone(), base.clone());
            async move {
                client().post(format!("{base}/households/{id}/edit")).header("cookie", cookie).form(&form).send().await.unwrap()
            }
        };
        // No reason: refused, nothing changes.
        let res = post(edit_form(&csrf, 1, "", &[("other_child_since", "on"), ("other_child_on", "2026-11-01")])).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().await.unwrap().contains("reason"));
        // With one: saved, and the card waits for the office.
        let res = post(edit_form(&csrf, 1, "收养一子", &[("other_child_since", "on"), ("other_child_on", "2026-11-01")])).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[LOCATION], format!("/households/{id}?done=edited_suspended"));
        let file = app.get(&format!("/api/v1/households/{id}"), &app.office).await;
        assert_eq!(file.body["version"], 2);
        assert_eq!(file.body["other_child_on"], "2026-11-01");
        let cards = app.get(&format!("/api/v1/members/{mother}/cards"), &app.office).await;
        assert_eq!(cards.body[0]["state"], "suspended");
        // The office finds it on its confirmation list, with the holder and a link to the file.
        set_password(&app, "office", "office-password-1", false).await;
        let (office, _) = sign_in(&base, "office", "office-password-1").await;
        let awaiting = get(&base, "/cards/awaiting", &office).await.text().await.unwrap();
        let serial = cards.body[0]["serial"].as_str().unwrap();
        assert!(awaiting.contains(serial) && awaiting.contains("张秀兰") && awaiting.contains(&format!("/households/{id}#members")), "{awaiting}");
        // A form opened on version 1 is now stale: the answer says so and nothing is overwritten.
        let res = post(edit_form(&csrf, 1, "改地址", &[("address", "新地址1号")])).await;
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert!(res.text().await.unwrap().contains("已被他人修改"));
        let file = app.get(&format!("/api/v1/households/{id}"), &app.office).await;
        assert_eq!(file.body["version"], 2);
        assert_eq!(file.body["address"], "丝绸路12号");
        // A bad date names its field.
        let res = post(edit_form(&csrf, 2, "去世", &[("m1_died_on", "2026-13-01")])).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().await.unwrap().contains("成员 2 去世日期"));
        // The contact person's role and the group: a group member that is not name, role and
        // phone is refused naming the field; then both are saved.
        let res = post(edit_form(&csrf, 2, "联系小组", &[("other_child_since", "on"), ("other_child_on", "2026-11-01"), ("contact_role", "volunteer"), ("contact_group", "李四 村长")])).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().await.unwrap().contains("联系小组：“李四 村长”"));
        let res = post(edit_form(&csrf, 2, "联系小组", &[("other_child_since", "on"), ("other_child_on", "2026-11-01"), ("contact_role", "volunteer"), ("contact_group", "李四 村居干部 13900000000；王五")])).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let file = app.get(&format!("/api/v1/households/{id}"), &app.office).await;
        assert_eq!(file.body["contact"], json!({"name": "王干事", "phone": "05336412345", "role": "volunteer", "group": [
            {"name": "李四", "role": "community_cadre", "phone": "13900000000"}, {"name": "王五"}]}));
        let page = get(&base, &format!("/households/{id}/edit"), &cookie).await.text().await.unwrap();
        assert!(page.contains("李四 村居干部 13900000000；王五</textarea>") && page.contains("value=\"volunteer\" selected"), "{page}");
    }
}

/// Uploads `bytes` on the import page; returns the page the upload leads to.
async fn upload_file(
    base: &str,
    cookie: &str,
    csrf: &str,
    bytes: Vec<u8>,
) -> (reqwest::StatusCode, String, String) {
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .text("encoding", "auto")
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("户籍.csv"),
        );
    let res = client()
        .post(format!("{base}/import"))
        .header("cookie", cookie)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let page = get(base, &to, cookie).await;
    (page.status(), to, page.text().await.unwrap())
}

both! {
    async fn a_township_imports_an_excel_gbk_sheet_after_seeing_its_problems_by_line(app) {
        set_password(&app, "township", "township-password-1", false).await;
        let base = serve(&app).await;
        let (cookie, csrf) = sign_in(&base, "township", "township-password-1").await;
        // As Excel saves it: GBK, CRLF; the second row's mother has a bad check digit.
        let mut bad = crate::import::row(2);
        let id = crate::helpers::id(1966, 3, 20, true, 2);
        let wrong = format!("{}{}", &id[..17], if id.ends_with('0') { '1' } else { '0' });
        bad = bad.replace(&id, &wrong);
        let text = crate::import::file([crate::import::row(1), bad]).replace('\n', "\r\n");
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let (status, to, page) = upload_file(&base, &cookie, &csrf, gbk.to_vec()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("id=\"problems\""), "{page}");
        assert!(page.contains("<td>3</td>"), "the bad row's line: {page}");
        assert!(!page.contains("id=\"commit\""));
        let sheet = get(&base, &format!("{to}/errors.csv"), &cookie).await;
        assert_eq!(sheet.headers()["content-type"], "text/csv; charset=utf-8");
        let bytes = sheet.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM, for Excel");
        let sheet = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert!(sheet.contains("\r\n3,") && sheet.contains("id_number"), "{sheet}");
        assert_eq!(app.get("/api/v1/households", &app.office).await.body.as_array().unwrap().len(), 0);

        // Corrected: the check passes, the import lands whole.
        let text = crate::import::file([crate::import::row(1), crate::import::row(2)]).replace('\n', "\r\n");
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let (_, to, page) = upload_file(&base, &cookie, &csrf, gbk.to_vec()).await;
        assert!(page.contains("文件中有 2 户"), "{page}");
        let commit = |csrf: String| {
            let (cookie, base, to) = (cookie.clone(), base.clone(), to.clone());
            async move { client().post(format!("{base}{to}/commit")).header("cookie", cookie).form(&[("csrf", csrf)]).send().await.unwrap() }
        };
        let res = commit("forged".into()).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let res = commit(csrf.clone()).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.text().await.unwrap().contains("导入 2 户"));
        assert_eq!(app.get("/api/v1/households", &app.office).await.body.as_array().unwrap().len(), 2);
        // The file is gone once imported: a second commit finds nothing to import.
        assert_eq!(commit(csrf).await.status(), StatusCode::NOT_FOUND);
    }
}

both! {
    async fn a_list_is_approved_only_with_its_confirmation_ticked(app) {
        crate::helpers::continue_rules_to_today(&app).await;
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        app.create_household(&bereaved_household()).await;
        let (cookie, csrf) = sign_in(&base, "office", "office-password-1").await;
        let month = greenchannel::time::today().format("%Y-%m").to_string();
        let res = client().post(format!("{base}/disbursements")).header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("period", month.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
        let page = get(&base, &to, &cookie).await.text().await.unwrap();
        assert!(page.contains("丝绸路街道") && page.contains("草稿"), "{page}");
        let approve = |fields: Vec<(&'static str, String)>| {
            let (cookie, base, to) = (cookie.clone(), base.clone(), to.clone());
            async move { client().post(format!("{base}{to}/approve")).header("cookie", cookie).form(&fields).send().await.unwrap() }
        };
        let res = approve(vec![("csrf", csrf.clone())]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/v1/disbursements", &app.office).await.body[0]["status"], "draft");
        let res = approve(vec![("csrf", csrf.clone()), ("checked", "on".into())]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.get("/api/v1/disbursements", &app.office).await.body[0]["status"], "approved");
        // Twice: the page says it is approved already, nothing else happens.
        let res = approve(vec![("csrf", csrf.clone()), ("checked", "on".into())]).await;
        assert_eq!(res.status(), StatusCode::CONFLICT);
        let csv = get(&base, &format!("{to}/list.csv"), &cookie).await;
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    }
}

both! {
    async fn the_office_creates_an_account_whose_temporary_password_must_be_changed_and_disables_it(app) {
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        let (cookie, csrf) = sign_in(&base, "office", "office-password-1").await;
        let res = client().post(format!("{base}/accounts")).header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("name", "wang-township"), ("role", "township"),
                    ("township_id", "370306001"), ("facility_id", "1")])
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let page = res.text().await.unwrap();
        let secret = page.split("id=\"secret-value\">").nth(1).unwrap();
        let temporary = secret.split('　').next().unwrap().to_owned();
        assert_eq!(temporary.len(), 16, "{secret}");
        let res = attempt(&base, "wang-township", &temporary).await;
        assert_eq!(res.headers()[LOCATION], "/password");
        let theirs = format!("gc_session={}", set_cookie(&res, "gc_session").unwrap());
        // The same name again is refused with a message, not an error page.
        let res = client().post(format!("{base}/accounts")).header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("name", "wang-township"), ("role", "auditor")])
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let id = greenchannel::db::accounts::enabled_id(&app.db, "wang-township").await.unwrap().unwrap();
        let res = client().post(format!("{base}/accounts/{id}/disable")).header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(get(&base, "/password", &theirs).await.status(), StatusCode::SEE_OTHER);
        // A township account never reaches this page.
        set_password(&app, "township", "township-password-1", false).await;
        let (township, _) = sign_in(&base, "township", "township-password-1").await;
        assert_eq!(get(&base, "/accounts", &township).await.status(), StatusCode::FORBIDDEN);
    }
}

both! {
    async fn the_office_issues_a_townships_new_cards_at_once_and_prints_a_selection_on_sheets(app) {
        crate::helpers::continue_rules_to_today(&app).await;
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        app.create_household(&bereaved_household()).await;
        let mut other = bereaved_household();
        other["township_id"] = json!("370306100");
        other["community_id"] = json!(null);
        other["members"][0]["id_number"] = json!(crate::helpers::id(1967, 1, 1, true, 7));
        other["members"][1]["id_number"] = json!(crate::helpers::id(1965, 1, 1, false, 7));
        app.create_household(&other).await;
        let (cookie, csrf) = sign_in(&base, "office", "office-password-1").await;
        let res = client().post(format!("{base}/cards/issue-new")).header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("township", "370306001")]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let page = res.text().await.unwrap();
        assert!(page.contains("id=\"issued-count\">2<"), "{page}");
        let cards = app.get("/api/v1/cards", &app.office).await;
        let serials: Vec<String> = cards.body.as_array().unwrap().iter().map(|c| c["serial"].as_str().unwrap().to_owned()).collect();
        assert_eq!(serials.len(), 2, "only that township's members");
        // Again: nothing left to issue there.
        let res = client().post(format!("{base}/cards/issue-new")).header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("township", "370306001")]).send().await.unwrap();
        assert!(res.text().await.unwrap().contains("id=\"issued-count\">0<"));
        let list = get(&base, "/cards?township=370306001", &cookie).await.text().await.unwrap();
        assert!(serials.iter().all(|s| list.contains(s.as_str())));
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        form.extend(serials.iter().map(|s| ("serial", s.as_str())));
        let res = client().post(format!("{base}/cards/sheet.pdf")).header("cookie", &cookie).form(&form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "application/pdf");
        assert!(res.bytes().await.unwrap().starts_with(b"%PDF"));
        let res = client().post(format!("{base}/cards/sheet.pdf")).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
}

both! {
    async fn the_office_checks_then_loads_a_continuation_and_an_overlapping_one_is_refused(app) {
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        let (cookie, csrf) = sign_in(&base, "office", "office-password-1").await;
        let page = get(&base, "/rules", &cookie).await.text().await.unwrap();
        assert!(page.contains("没有生效的规则集"), "the shipped rules ended in 2022");
        let body = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/demo/continuation-demo.toml")).unwrap();
        let send = |action: &'static str| {
            let (cookie, base, csrf, body) = (cookie.clone(), base.clone(), csrf.clone(), body.clone());
            async move {
                client().post(format!("{base}/rules")).header("cookie", cookie)
                    .form(&[("csrf", csrf.as_str()), ("name", "延续文件"), ("body", body.as_str()), ("action", action)])
                    .send().await.unwrap()
            }
        };
        let res = send("check").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.text().await.unwrap().contains("检查通过"));
        assert!(greenchannel::db::rules::documents(&app.db).await.unwrap().is_empty(), "a check stores nothing");
        let res = send("load").await;
        assert_eq!(res.status(), StatusCode::OK);
        let page = res.text().await.unwrap();
        assert!(page.contains("已载入") && !page.contains("没有生效的规则集"), "{page}");
        let res = send("load").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(greenchannel::db::rules::documents(&app.db).await.unwrap().len(), 1);
        // Township staff read the page, without the form, and cannot post it.
        set_password(&app, "township", "township-password-1", false).await;
        let (township, township_csrf) = sign_in(&base, "township", "township-password-1").await;
        let page = get(&base, "/rules", &township).await.text().await.unwrap();
        assert!(page.contains("id=\"windows\"") && !page.contains("id=\"load\""));
        let res = client().post(format!("{base}/rules")).header("cookie", &township)
            .form(&[("csrf", township_csrf.as_str()), ("name", "x"), ("body", "x"), ("action", "load")])
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
}

both! {
    async fn wrong_current_passwords_on_the_change_form_are_throttled_like_sign_ins(app) {
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        let (cookie, csrf) = sign_in(&base, "office", "office-password-1").await;
        let change = |current: &'static str| {
            let (cookie, csrf, base) = (cookie.clone(), csrf.clone(), base.clone());
            async move {
                client().post(format!("{base}/password")).header("cookie", cookie)
                    .form(&[("csrf", csrf.as_str()), ("current", current), ("new", "a-new-password-9"), ("repeated", "a-new-password-9")])
                    .send().await.unwrap().text().await.unwrap()
            }
        };
        for _ in 0..5 {
            assert!(change("not-my-password").await.contains("当前密码不正确"));
        }
        assert!(change("office-password-1").await.contains("尝试次数过多"));
        // Without its CSRF token the form changes nothing either.
        let res = client().post(format!("{base}/password")).header("cookie", &cookie)
            .form(&[("current", "office-password-1"), ("new", "a-new-password-9"), ("repeated", "a-new-password-9")])
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
}

both! {
    async fn the_office_adds_a_facility_and_a_duplicate_name_is_refused_with_a_message(app) {
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        let (cookie, csrf) = sign_in(&base, "office", "office-password-1").await;
        let add = || {
            let (cookie, csrf, base) = (cookie.clone(), csrf.clone(), base.clone());
            async move {
                client().post(format!("{base}/facilities")).header("cookie", cookie)
                    .form(&[("csrf", csrf.as_str()), ("name", "萌水镇卫生院"), ("kind", "township_health_centre"), ("level", "1"), ("township_id", "370306100")])
                    .send().await.unwrap()
            }
        };
        let res = add().await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.text().await.unwrap().contains("已新增"));
        let res = add().await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let facilities = app.get("/api/v1/facilities", &app.office).await;
        assert_eq!(facilities.body.as_array().unwrap().iter().filter(|f| f["name"] == "萌水镇卫生院").count(), 1);
    }
}

both! {
    async fn a_desk_account_signed_in_sees_no_menu_entry_it_cannot_open(app) {
        set_password(&app, "desk", "desk-password-1", false).await;
        let base = serve(&app).await;
        let (cookie, _) = sign_in(&base, "desk", "desk-password-1").await;
        let home = get(&base, "/", &cookie).await.text().await.unwrap();
        assert!(home.contains("href=\"/desk\""), "{home}");
        for path in ["/households", "/rules", "/import", "/cards", "/audit", "/accounts"] {
            assert!(!home.contains(&format!("href=\"{path}\"")), "{path} offered to a desk");
            assert_eq!(get(&base, path, &cookie).await.status(), StatusCode::FORBIDDEN, "{path}");
        }
    }
}

both! {
    async fn the_search_narrows_to_a_community(app) {
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        let east = app.create_household(&bereaved_household()).await;
        let mut other = bereaved_household();
        other["community_id"] = json!("370306001002");
        other["members"][0]["id_number"] = json!(crate::helpers::id(1967, 1, 1, true, 8));
        other["members"][1]["id_number"] = json!(crate::helpers::id(1965, 1, 1, false, 8));
        let second = app.create_household(&other).await;
        let (cookie, csrf) = sign_in(&base, "office", "office-password-1").await;
        let search = |community: &'static str| {
            let (cookie, csrf, base) = (cookie.clone(), csrf.clone(), base.clone());
            async move {
                client().post(format!("{base}/households")).header("cookie", cookie)
                    .form(&[("csrf", csrf.as_str()), ("q", "张秀兰"), ("community", community)])
                    .send().await.unwrap().text().await.unwrap()
            }
        };
        let link = |h: &serde_json::Value| format!("/households/{}\"", h["household_id"]);
        let all = search("").await;
        assert!(all.contains(&link(&east)) && all.contains(&link(&second)));
        let one = search("370306001002").await;
        assert!(!one.contains(&link(&east)) && one.contains(&link(&second)), "{one}");
        assert!(one.contains("value=\"370306001002\" selected"));
    }
}
