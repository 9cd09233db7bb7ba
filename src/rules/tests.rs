//! Unit tests: the loader's refusals, the rule book, household parsing, diff.

use chrono::NaiveDate;

use super::*;

const SHIPPED: &str = include_str!("../../rules/zhoucun-2018-85.toml");

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn load(text: &str) -> Result<RuleSet, RuleError> {
    RuleSet::from_toml_str(text, "test.toml")
}

/// The shipped text with one replacement, which must change something.
fn edited(from: &str, to: &str) -> String {
    assert!(SHIPPED.contains(from), "fixture text not found: {from}");
    SHIPPED.replacen(from, to, 1)
}

fn refusal(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("expected a refusal"),
        Err(e) => e.to_string(),
    }
}

const RATE: &str =
    r#"values = [{ from = "2019-02-01", value = 61000, source = "周政发〔2018〕85号 二(三)" }]"#;

#[test]
fn shipped_rule_set_loads_with_its_window() {
    let set = load(SHIPPED).expect("shipped set loads");
    assert_eq!(&*set.id, "周政发〔2018〕85号");
    assert_eq!((set.from, set.until), (d("2019-02-01"), d("2022-01-31")));
    let rate = &set.params.special_assistance_bereaved_fen;
    assert_eq!(rate.at(d("2019-02-01")).value, 61000);
    assert_eq!(rate.previous.as_ref().map(|p| p.value), Some(53500));
    assert!(
        set.params
            .nursing_subsidy_fen
            .at(d("2020-01-01"))
            .placeholder
    );
}

#[test]
fn unsorted_dates_are_refused() {
    let text = edited(
        RATE,
        r#"values = [{ from = "2019-02-01", value = 61000, source = "a" }, { from = "2020-05-01", value = 1, source = "b" }, { from = "2020-01-01", value = 2, source = "c" }]"#,
    );
    let msg = refusal(&text);
    assert!(
        msg.contains("params.special_assistance_bereaved_fen.values[2].from"),
        "{msg}"
    );
    assert!(msg.contains("increasing order"), "{msg}");
}

#[test]
fn duplicate_dates_are_refused() {
    let text = edited(
        RATE,
        r#"values = [{ from = "2019-02-01", value = 61000, source = "a" }, { from = "2019-02-01", value = 1, source = "b" }]"#,
    );
    let msg = refusal(&text);
    assert!(
        msg.contains("values[1].from") && msg.contains("duplicate"),
        "{msg}"
    );
}

#[test]
fn impossible_date_is_refused_naming_the_field() {
    let text = edited(RATE, &RATE.replace("2019-02-01", "2019-02-30"));
    let msg = refusal(&text);
    assert!(
        msg.contains("params.special_assistance_bereaved_fen.values[0].from"),
        "{msg}"
    );
}

#[test]
fn value_outside_the_window_is_refused() {
    let text = edited(
        RATE,
        r#"values = [{ from = "2019-02-01", value = 61000, source = "a" }, { from = "2022-02-01", value = 1, source = "b" }]"#,
    );
    assert!(refusal(&text).contains("outside the window"));
    let early = edited(RATE, &RATE.replace("2019-02-01", "2018-01-01"));
    assert!(refusal(&early).contains("values[0].from"));
}

#[test]
fn unknown_key_is_refused() {
    let text = edited(
        RATE,
        &RATE.replace("value = 61000", "value = 61000, amount = 1"),
    );
    let msg = refusal(&text);
    assert!(
        msg.contains("amount") && msg.contains("special_assistance_bereaved_fen"),
        "{msg}"
    );
    let top = format!("bogus = 1\n{SHIPPED}");
    assert!(refusal(&top).contains("bogus"));
}

#[test]
fn missing_or_empty_source_is_refused() {
    let missing = edited(
        RATE,
        &RATE.replace(r#", source = "周政发〔2018〕85号 二(三)""#, ""),
    );
    assert!(refusal(&missing).contains("source"));
    let empty = edited(RATE, &RATE.replace("周政发〔2018〕85号 二(三)", " "));
    assert!(refusal(&empty).contains("values[0].source"));
}

#[test]
fn until_before_from_and_bad_grades_are_refused() {
    assert!(refusal(&edited(
        r#"until = "2022-01-31""#,
        r#"until = "2018-01-31""#
    ))
    .contains("until"));
    let grades = edited("value = [1, 2, 3]", "value = [1, 2, 5]");
    assert!(refusal(&grades).contains("qualifying_disability_grades"));
}

#[test]
fn overlapping_rule_sets_are_refused() {
    let mut book = RuleBook::shipped().expect("shipped");
    let other = SHIPPED
        .replace("id = \"周政发〔2018〕85号\"", "id = \"successor\"")
        .replace("2019-02-01", "2022-01-31")
        .replace("until = \"2022-01-31\"", "until = \"2025-01-31\"")
        .replace("\"2020-01-01\"", "\"2023-01-01\"")
        .replace("\"2021-01-01\"", "\"2024-01-01\"")
        .replace("\"2022-01-01\"", "\"2025-01-01\"");
    let set = load(&other).expect("successor parses");
    let err = book.add(set.clone()).expect_err("overlap refused");
    assert!(matches!(err, RuleError::Overlap { .. }), "{err}");
    // The day after the end is fine.
    let ok = load(
        &other
            .replace("from = \"2022-01-31\"", "from = \"2022-02-01\"")
            .replace("\"2022-01-31\"", "\"2022-02-01\""),
    )
    .expect("successor from 2022-02-01");
    book.add(ok).expect("adjacent set accepted");
    assert_eq!(
        book.in_force(d("2022-02-01")).map(|s| &*s.id),
        Ok("successor")
    );
}

#[test]
fn a_continuation_extends_the_window_without_code() {
    let mut book = RuleBook::shipped().expect("shipped");
    let c: Continuation = toml::from_str(
        "continues = \"周政发〔2018〕85号\"\nuntil = \"2022-12-31\"\nsource = \"DEMO continuation\"\nnote = \"demo only\"",
    )
    .expect("continuation parses");
    book.extend(c.clone()).expect("extends");
    let set = book
        .in_force(d("2022-06-01"))
        .expect("in force after continuation");
    assert_eq!(set.continuations, vec![c.clone()]);
    // A second continuation that does not extend is refused.
    assert!(book.extend(c).is_err());
}

#[test]
fn no_rule_set_names_the_date_and_the_windows() {
    let book = RuleBook::shipped().expect("shipped");
    let err = book.in_force(d("2022-02-01")).expect_err("outside");
    let msg = err.to_string();
    assert!(
        msg.contains("2022-02-01") && msg.contains("2019-02-01 ..= 2022-01-31"),
        "{msg}"
    );
    assert!(RuleBook::new().in_force(d("2020-01-01")).is_err());
}

/// The household of the issue (and of `rules eval`'s documentation).
const HH: &str = include_str!("../../tests/rules/example-household.json");

fn parse_err(json: &str) -> String {
    match parse_household(json) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn household_of_the_issue_parses_and_extra_fields_are_allowed() {
    let extra = HH.replacen('{', r#"{"township": "青年路街道", "#, 1);
    let hh = parse_household(&extra).expect("parses");
    assert_eq!(hh.members.len(), 2);
    assert_eq!(hh.ivf_birth_on, Some(None));
    assert_eq!(hh.members[1].resident_pension, Some(None));
}

#[test]
fn household_errors_name_the_field_and_line() {
    let msg = parse_err(&HH.replace(r#", "died_on": "2015-08-10""#, ""));
    assert!(msg.contains("`child`") && msg.contains("died_on"), "{msg}");
    let grade = HH.replace(
        r#""status": "deceased", "died_on": "2015-08-10""#,
        r#""status": "disabled", "disability_grade": 5"#,
    );
    assert!(parse_err(&grade).contains("disability_grade must be 1–4"));
    let zero = grade.replace(": 5", ": 0");
    assert!(parse_err(&zero).contains("got 0"));
    let msg = parse_err(&HH.replace("1964-11-02", "1964-02-30"));
    assert!(
        msg.contains("members[1].born_on") && msg.contains("line 6"),
        "{msg}"
    );
    let msg = parse_err(&HH.replace(r#""urban""#, r#""suburban""#));
    assert!(msg.contains("`area`") && msg.contains("suburban"), "{msg}");
    let msg = parse_err(&HH.replace(r#""dibao": false, "#, ""));
    assert!(msg.contains("dibao"), "{msg}");
    let msg = parse_err(&HH.replace(r#""id": "f""#, r#""id": "m""#));
    assert!(msg.contains("used twice"), "{msg}");
    assert!(parse_err("{").contains("line 1"));
}

#[test]
fn eval_json_gives_the_fields_of_the_issue() {
    let book = RuleBook::shipped().expect("shipped");
    let v = eval_json(&book, HH, d("2020-06-15")).expect("evaluates");
    assert_eq!(v["rule_set"], "周政发〔2018〕85号");
    assert_eq!(v["eligible"], true);
    assert_eq!(v["family_kind"], "bereaved");
    let sa = v["entitlements"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|e| e["code"] == "special_assistance" && e["member"] == "m")
        })
        .expect("special assistance for m");
    assert_eq!(sa["amount_fen"], 61000);
    assert_eq!(sa["per"], "month");
    assert_eq!(sa["basis"]["clause"], "二(三)");
    assert!(eval_json(&book, HH, d("2019-01-31")).is_err());
}

#[test]
fn diff_reports_gained_lost_and_changed() {
    let book = RuleBook::shipped().expect("shipped");
    let hh = parse_household(&HH.replace("1966-03-20", "1971-06-15")).expect("parses");
    let before = evaluate(&book, &hh, d("2020-06-14")).expect("ev");
    let after = evaluate(&book, &hh, d("2020-06-15")).expect("ev");
    let changes = diff(&before, &after);
    let gained: Vec<_> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Gained)
        .map(|c| (c.code, c.member.as_deref()))
        .collect();
    assert!(gained.contains(&(Code::SpecialAssistance, Some("m"))));
    assert!(gained.contains(&(Code::CommercialInsurance, Some("f"))));
    assert!(diff(&after, &after).is_empty());
    let lost = diff(&after, &before);
    assert!(lost.iter().all(|c| c.kind == ChangeKind::Lost));
}

#[test]
fn feb_29_birthday_is_met_on_march_1_in_common_years() {
    assert_eq!(anniversary(d("1972-02-29"), 49), Some(d("2021-03-01")));
    assert_eq!(anniversary(d("1972-02-29"), 48), Some(d("2020-02-29")));
}

#[test]
fn rounding_is_half_up_to_the_fen() {
    assert_eq!(evaluate::mul_div(45000, 1, 3), 15000);
    assert_eq!(evaluate::mul_div(100, 1, 3), 33);
    assert_eq!(evaluate::mul_div(200, 1, 3), 67);
    assert_eq!(evaluate::mul_div(1, 1, 0), 0);
}

/// The shortcut that skips re-evaluating the previous month for yearly amounts must
/// give exactly what a full re-evaluation gives: checked on every case household for
/// every month in force.
#[test]
fn yearly_due_month_matches_a_full_reevaluation() {
    let book = RuleBook::shipped().expect("shipped");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/cases");
    let mut households = Vec::new();
    for entry in std::fs::read_dir(dir).expect("cases").flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let Ok(table) = text.parse::<toml::Table>() else {
            continue;
        };
        if let Some(json) = table.get("household").and_then(|v| v.as_str()) {
            households.push(parse_household(json).expect("case household"));
        }
    }
    assert!(households.len() > 20);
    let listed = |hh: &Household, on: NaiveDate| -> Vec<(Code, Option<String>)> {
        evaluate(&book, hh, on)
            .map(|ev| {
                ev.entitlements
                    .into_iter()
                    .filter(|e| e.per == Some(Per::Year) && e.code.is_money())
                    .map(|e| (e.code, e.member))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut month = d("2019-02-01");
    while month <= d("2022-01-01") {
        use chrono::Datelike;
        let prev = month
            .checked_sub_months(chrono::Months::new(1))
            .expect("prev");
        for hh in &households {
            let now = listed(hh, month);
            let before = if month.month() == 1 {
                Vec::new()
            } else {
                listed(hh, prev)
            };
            let mut want: Vec<_> = now.into_iter().filter(|k| !before.contains(k)).collect();
            let period = Period::Month {
                year: month.year(),
                month: month.month(),
            };
            let mut got: Vec<_> = payments(&book, hh, period)
                .expect("in force")
                .into_iter()
                .filter(|d| d.per == Per::Year)
                .map(|d| (d.code, d.member))
                .collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "{month}");
        }
        month = month
            .checked_add_months(chrono::Months::new(1))
            .expect("next");
    }
}

#[test]
fn the_demo_continuation_file_extends_the_shipped_set() {
    let mut book = RuleBook::shipped().expect("shipped");
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/demo/continuation-demo.toml");
    book.load_file(&path).expect("demo continuation loads");
    assert_eq!(book.windows()[0].until, d("2027-12-31"));
    let hh = parse_household(HH).expect("parses");
    let ev = evaluate(&book, &hh, d("2022-06-01")).expect("in force under the continuation");
    assert!(ev
        .entitlements
        .iter()
        .any(|e| e.code == Code::SpecialAssistance && e.amount_fen == Some(61000)));
    // The shipped folder alone still ends on 2022-01-31.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let shipped = RuleBook::load_dir(&dir).expect("rules/ loads");
    assert!(shipped.in_force(d("2022-02-01")).is_err());
}

#[test]
fn payments_refuse_months_without_a_rule_set_and_skip_them_in_a_year() {
    let book = RuleBook::shipped().expect("shipped");
    let hh = parse_household(HH).expect("parses");
    assert!(payments(
        &book,
        &hh,
        Period::Month {
            year: 2019,
            month: 1
        }
    )
    .is_err());
    assert!(payments(
        &book,
        &hh,
        Period::Month {
            year: 2020,
            month: 13
        }
    )
    .is_err());
    assert!(payments(&book, &hh, Period::Year(2018)).is_err());
    // 2019: February to December, two parents at 610, two insurances, one grant.
    let dues = payments(&book, &hh, Period::Year(2019)).expect("2019 partly in force");
    let total: i64 = dues.iter().filter_map(|d| d.amount_fen).sum();
    assert_eq!(total, 11 * 2 * 61000 + 2 * 30000 + 30000);
    let keys: Vec<_> = dues.iter().filter_map(|d| d.once_key.as_deref()).collect();
    assert!(keys.contains(&"commercial_insurance:2019:m"), "{keys:?}");
}

#[test]
fn odd_inputs_give_answers_or_errors_never_panics() {
    let book = RuleBook::shipped().expect("shipped");
    let odd = [
        HH.replace("1966-03-20", "9999-12-31"),
        HH.replace("1966-03-20", "0001-01-01"),
        HH.replace("2015-08-10", "2021-01-01"),
        HH.replace(r#""ivf_birth_on": null"#, r#""ivf_birth_on": "2030-01-01""#),
        r#"{"hukou_in_district": true, "area": "rural", "child": {"status": "disabled", "disability_grade": 1},
            "other_child_since": false, "dibao": true, "low_income": true, "members": []}"#
            .to_string(),
    ];
    for json in &odd {
        let hh = parse_household(json).expect("parses");
        for on in ["2019-02-01", "2020-02-29", "2022-01-31"] {
            evaluate(&book, &hh, d(on)).expect("in force");
        }
        for period in [
            Period::Year(2020),
            Period::Year(i32::MAX),
            Period::Year(i32::MIN),
            Period::Month {
                year: 2020,
                month: 0,
            },
        ] {
            let _ = payments(&book, &hh, period);
        }
    }
    let late = parse_household(&odd[2]).expect("parses");
    let ev = evaluate(&book, &late, d("2020-06-15")).expect("in force");
    assert!(!ev.eligible && ev.eligibility.en.contains("after the date evaluated"));
    for bad in ["", "null", "[]", "{}", r#"{"members": 3}"#] {
        assert!(eval_json(&book, bad, d("2020-06-15")).is_err());
    }
}

#[test]
fn a_household_round_trips_through_json_keeping_unknown_apart_from_null() {
    for json in [
        HH.to_string(),
        HH.replace(r#", "ivf_birth_on": null"#, "")
            .replace(r#", "resident_pension": null"#, ""),
    ] {
        let hh = parse_household(&json).expect("parses");
        let again =
            parse_household(&serde_json::to_string(&hh).expect("serializes")).expect("re-parses");
        assert_eq!(hh, again);
    }
}

#[test]
fn a_one_time_payment_carries_its_code_and_whom_it_is_for() {
    let book = RuleBook::shipped().expect("shipped");
    let hh = parse_household(&HH.replace("2015-08-10", "2020-03-10")).expect("parses");
    let dues = payments(
        &book,
        &hh,
        Period::Month {
            year: 2020,
            month: 3,
        },
    )
    .expect("in force");
    let relief = dues
        .iter()
        .find(|d| d.code == Code::BereavementRelief)
        .expect("the relief falls due in the month of the death");
    assert_eq!(relief.per, Per::Once);
    assert_eq!(
        relief.once_key.as_deref(),
        Some("bereavement_relief:household")
    );
}
