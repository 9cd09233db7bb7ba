//! A fictional district for demonstrations and benchmarks: Zhoucun's real townships and streets,
//! invented people with invented (but check-digit-valid) ID numbers.

use chrono::{Datelike, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::auth::StaffRole;
use crate::db::accounts::AccountInput;
use crate::db::places::{self, FacilityInput};
use crate::db::{households, Db};
use crate::error::Result;
use crate::register::{
    check_char, Area, Child, CivilCapacity, CommunityKind, Contact, ContactRole, Contribution,
    FacilityKind, GroupMember, HouseholdFacts, HouseholdInput, MemberFacts, MemberInput,
    PensionInput, Role, SelfCare, Step, Timeline, TownshipKind,
};

/// Zhoucun District's streets (街道) and towns (镇), with codes under 370306.
pub const TOWNSHIPS: &[(&str, &str, TownshipKind)] = &[
    ("370306001", "丝绸路街道", TownshipKind::Street),
    ("370306002", "大街街道", TownshipKind::Street),
    ("370306003", "青年路街道", TownshipKind::Street),
    ("370306004", "永安街道", TownshipKind::Street),
    ("370306005", "城北路街道", TownshipKind::Street),
    ("370306100", "北郊镇", TownshipKind::Town),
    ("370306101", "南郊镇", TownshipKind::Town),
    ("370306102", "王村镇", TownshipKind::Town),
    ("370306103", "萌水镇", TownshipKind::Town),
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗",
];
const GIVEN_F: &[&str] = &[
    "秀兰", "桂英", "玉梅", "淑珍", "丽华", "凤英", "红霞", "春梅", "素芬", "美玲", "海燕", "翠华",
];
const GIVEN_M: &[&str] = &[
    "建国", "志强", "国华", "明", "德胜", "振华", "永刚", "立新", "卫东", "文斌", "庆丰", "学军",
];
const VILLAGE_SUFFIX: &[&str] = &["东村", "西村", "南村", "北村", "社区", "新村"];

/// Makes a check-digit-valid ID number for a birth date and sex; distinct `n` below 50,000 give
/// distinct numbers (the region code's last two digits and the sequence number carry `n`).
pub fn id_number(born: NaiveDate, female: bool, n: u32) -> String {
    // 500 people per county code, 100 county codes per city code: unique up to 4,850,000 (the
    // first 50,000 all in 3703xx, Zibo).
    let region = (n / 500) % 100;
    let city = 3 + n / 50_000 % 97;
    let seq = (n % 500) * 2 + u32::from(!female); // odd for men, even for women
    let first17 = format!(
        "37{city:02}{region:02}{:04}{:02}{:02}{seq:03}",
        born.year(),
        born.month(),
        born.day()
    );
    let mut digits = [0u8; 17];
    digits.copy_from_slice(first17.as_bytes());
    format!("{first17}{}", check_char(&digits))
}

/// One generated household; `n` makes it unique and deterministic.
pub fn household(
    rng: &mut impl Rng,
    n: u32,
    township_id: &str,
    community_id: Option<String>,
) -> HouseholdInput {
    let mother_born = NaiveDate::from_ymd_opt(
        rng.gen_range(1950..1982),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28),
    )
    .expect("valid");
    let father_born = NaiveDate::from_ymd_opt(
        mother_born.year() - rng.gen_range(0..5),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28),
    )
    .expect("valid");
    let surname_m = SURNAMES[rng.gen_range(0..SURNAMES.len())];
    let surname_f = SURNAMES[rng.gen_range(0..SURNAMES.len())];
    let kind = rng.gen_range(0..100);
    let child = if kind < 55 {
        let year = rng.gen_range(2000..2021);
        Child::Deceased {
            died_on: NaiveDate::from_ymd_opt(year, rng.gen_range(1..=12), rng.gen_range(1..=28))
                .expect("valid"),
        }
    } else if kind < 92 {
        Child::Disabled {
            disability_grade: rng.gen_range(1..=3),
        }
    } else if kind < 96 {
        Child::Disabled {
            disability_grade: 4,
        }
    } else {
        Child::Healthy
    };
    let pension = |rng: &mut dyn rand::RngCore, born: NaiveDate| {
        (rng.gen_range(0..10) < 6).then(|| PensionInput {
            basic_monthly_fen: (born.year() < 1962).then(|| rng.gen_range(120..200) * 100),
            since: None,
        })
    };
    let mut members = Vec::new();
    let single = rng.gen_range(0..10) == 0;
    let mother_first = rng.gen_bool(0.5);
    if !single || mother_first {
        members.push(MemberInput {
            name: format!("{surname_m}{}", GIVEN_F[rng.gen_range(0..GIVEN_F.len())]),
            sex: None,
            role: Role::Mother,
            born_on: None,
            id_number: id_number(mother_born, true, n),
            phone: Some(format!("139{:08}", rng.gen_range(0..100_000_000u32))),
            died_on: None,
            resident_pension: pension(rng, mother_born),
            resident_medical_insurance: rng.gen_range(0..10) < 9,
            resident_medical_insurance_since: None,
            self_care: Some(if rng.gen_range(0..20) == 0 {
                SelfCare::None
            } else {
                SelfCare::Full
            }),
            facts: MemberFacts::default(),
        });
    }
    if !single || !mother_first {
        members.push(MemberInput {
            name: format!("{surname_f}{}", GIVEN_M[rng.gen_range(0..GIVEN_M.len())]),
            sex: None,
            role: Role::Father,
            born_on: None,
            id_number: id_number(father_born, false, n),
            phone: Some(format!("138{:08}", rng.gen_range(0..100_000_000u32))),
            died_on: None,
            resident_pension: pension(rng, father_born),
            resident_medical_insurance: rng.gen_range(0..10) < 9,
            resident_medical_insurance_since: None,
            self_care: Some(SelfCare::Full),
            facts: MemberFacts::default(),
        });
    }
    let other_child_since = rng.gen_range(0..40) == 0;
    HouseholdInput {
        township_id: township_id.to_owned(),
        community_id,
        address: format!("{}号", rng.gen_range(1..300)),
        hukou_in_district: rng.gen_range(0..50) != 0,
        area: if rng.gen_bool(0.5) {
            Area::Urban
        } else {
            Area::Rural
        },
        child,
        hukou_moved_out_on: None,
        other_child_since,
        other_child_on: other_child_since.then(|| {
            chrono::NaiveDate::from_ymd_opt(2019 + rng.gen_range(0..6), rng.gen_range(1..=12), 1)
                .unwrap_or_default()
        }),
        dibao: rng.gen_range(0..10) == 0,
        dibao_periods: Vec::new(),
        low_income: rng.gen_range(0..8) == 0,
        low_income_periods: Vec::new(),
        ivf_birth_on: None,
        contact: Some(Contact {
            name: format!("{}干事", SURNAMES[rng.gen_range(0..SURNAMES.len())]),
            phone: Some("05336412345".into()),
            role: Some(ContactRole::TownshipStaff),
            group: vec![GroupMember {
                name: format!("{}主任", SURNAMES[rng.gen_range(0..SURNAMES.len())]),
                phone: None,
                role: Some(ContactRole::CommunityCadre),
            }],
        }),
        members,
        facts: HouseholdFacts::default(),
    }
}

/// What the demo's dated facts are drawn against: the day, and from the rules in force on it
/// the age from which members draw the pension and the contribution tiers on offer.
pub struct FactDraw {
    today: NaiveDate,
    elderly_min_age: u32,
    tiers: Vec<i64>,
}

impl FactDraw {
    /// From the rules in force today (none: no pension facts are drawn).
    pub fn new(book: &crate::rules::RuleBook, today: NaiveDate) -> FactDraw {
        match book.in_force(today) {
            Ok(set) => FactDraw {
                today,
                elderly_min_age: set.params.elderly_min_age.at(today).value,
                tiers: set
                    .params
                    .pension_contribution_tiers
                    .at(today)
                    .value
                    .iter()
                    .map(|t| t.contribution_fen)
                    .collect(),
            },
            Err(_) => FactDraw {
                today,
                elderly_min_age: u32::MAX,
                tiers: Vec::new(),
            },
        }
    }

    /// Fills the facts the rules read as a township's file would hold them: most recorded
    /// without a date (assessed when the family was registered), some that changed since with
    /// the day they changed, and a contribution for every year the member paid one.
    pub fn fill(&self, h: &mut HouseholdInput, n: u32) {
        let mut rng = StdRng::seed_from_u64(u64::from(n) ^ 0x85_2018);
        let poor = h.dibao || h.low_income;
        let changed = |rng: &mut StdRng, before: bool| -> Timeline<bool> {
            let from = NaiveDate::from_ymd_opt(
                rng.gen_range(2021..self.today.year().max(2022)),
                rng.gen_range(1..=12),
                1,
            )
            .filter(|d| *d <= self.today);
            Timeline::new(vec![
                Step {
                    from: None,
                    value: before,
                },
                Step {
                    from,
                    value: !before,
                },
            ])
            .unwrap_or_else(|_| Timeline::always(before))
        };
        h.facts = HouseholdFacts {
            housing_difficulty: match rng.gen_range(0..20) {
                0 => Timeline::always(true),
                1 => changed(&mut rng, true),
                _ => Timeline::always(false),
            },
            funeral_subsidy_conditions: Timeline::always(rng.gen_range(0..10) < 8),
        };
        for m in &mut h.members {
            let Some(born) = m.born_on.or_else(|| {
                crate::register::IdNumber::parse(&m.id_number)
                    .ok()
                    .map(|id| id.birth_date())
            }) else {
                continue;
            };
            let elderly_from = crate::rules::anniversary(born, self.elderly_min_age);
            if let Some(p) = &mut m.resident_pension {
                if elderly_from.is_some_and(|d| d <= self.today) && p.basic_monthly_fen.is_none() {
                    p.basic_monthly_fen = Some(rng.gen_range(120..200) * 100);
                }
            }
            let limited = rng.gen_range(0..50) == 0;
            let severe = rng.gen_range(0..30) == 0;
            let contributions = match (&m.resident_pension, self.tiers.is_empty()) {
                (Some(_), false) => {
                    let tier = self.tiers[rng.gen_range(0..self.tiers.len().min(4))];
                    (2019..=self.today.year())
                        .filter(|y| elderly_from.is_none_or(|d| *y <= d.year()))
                        .map(|year| Contribution {
                            year,
                            tier_fen: tier,
                            on_time: rng.gen_range(0..25) != 0,
                        })
                        .collect()
                }
                _ => Vec::new(),
            };
            m.facts = MemberFacts {
                extreme_poverty: if poor && rng.gen_range(0..10) == 0 {
                    changed(&mut rng, false)
                } else {
                    Timeline::always(false)
                },
                economic_difficulty: Timeline::always(poor),
                civil_capacity: Timeline::always(if limited {
                    CivilCapacity::Limited
                } else {
                    CivilCapacity::Full
                }),
                other_guardian: Timeline::always(!limited || rng.gen_bool(0.5)),
                severely_disabled: Timeline::always(severe),
                in_school: Timeline::default(),
                contributions,
            };
        }
    }
}

/// The places and facilities of the district (idempotent).
pub async fn seed_places(db: &Db) -> Result<()> {
    for (code, name, kind) in TOWNSHIPS {
        places::add_township(db, code, name, *kind).await?;
        for (i, suffix) in VILLAGE_SUFFIX.iter().enumerate().take(3) {
            let kind = if *kind == TownshipKind::Street {
                CommunityKind::Community
            } else {
                CommunityKind::Village
            };
            let stem = name.trim_end_matches("街道").trim_end_matches('镇');
            places::add_community(
                db,
                &format!("{code}{:03}", i + 1),
                code,
                &format!("{stem}{suffix}"),
                kind,
            )
            .await?;
        }
    }
    Ok(())
}

/// The demo accounts, one per role: name, bearer token and console password.
pub struct DemoTokens(pub Vec<DemoAccount>);

/// One demo account.
pub struct DemoAccount {
    /// Its role.
    pub role: StaffRole,
    /// Its name (`demo-office`, …).
    pub name: String,
    /// Its bearer token.
    pub token: String,
    /// Its console password (the demo does not ask for a change at first sign-in).
    pub password: crate::auth::password::Password,
}

/// Fills an empty database with the demo district; `None` when it already has households.
pub async fn load(db: &Db, households_count: u32) -> Result<Option<DemoTokens>> {
    if !households::list(db, None, 0, 1).await?.is_empty() {
        return Ok(None);
    }
    seed_places(db).await?;
    let mut facility_ids = Vec::new();
    // A register with places but no households yet keeps the facilities it has (by name).
    let known = places::facilities(db).await?;
    let add = |name: String, kind: FacilityKind, level: i32, township: Option<&str>| {
        let input = FacilityInput {
            name,
            kind,
            level,
            township_id: township.map(str::to_owned),
        };
        let existing = known.iter().find(|f| f.name == input.name).cloned();
        async move {
            match existing {
                Some(f) => Ok(f),
                None => places::add_facility(db, &input, None, "演示数据 / demo data").await,
            }
        }
    };
    facility_ids.push(
        add(
            "周村区人民医院".into(),
            FacilityKind::DistrictHospital,
            2,
            Some("370306002"),
        )
        .await?
        .facility_id,
    );
    for (code, name, kind) in TOWNSHIPS {
        let (n, k) = match kind {
            TownshipKind::Town => (format!("{name}卫生院"), FacilityKind::TownshipHealthCentre),
            TownshipKind::Street => (
                format!("{name}社区卫生服务中心"),
                FacilityKind::CommunityHealthCentre,
            ),
        };
        facility_ids.push(add(n, k, 1, Some(code)).await?.facility_id);
    }
    facility_ids.push(
        add(
            "周村区中医院".into(),
            FacilityKind::Other,
            2,
            Some("370306003"),
        )
        .await?
        .facility_id,
    );

    let mut rng = StdRng::seed_from_u64(85);
    let today = crate::time::today();
    let (book, _) = crate::db::rules::book(db).await?;
    let draw = FactDraw::new(&book, today);
    for n in 0..households_count {
        let (code, _, _) = TOWNSHIPS[(n as usize) % TOWNSHIPS.len()];
        let community = Some(format!("{code}{:03}", rng.gen_range(1..=3)));
        let mut h = household(&mut rng, n, code, community);
        draw.fill(&mut h, n);
        households::create(db, &h, None, "演示数据 / demo data", today).await?;
    }
    let mut tokens = Vec::new();
    for (role, township, facility) in [
        (StaffRole::Office, None, None),
        (StaffRole::Township, Some("370306001"), None),
        (StaffRole::Desk, None, Some(facility_ids[0])),
        (StaffRole::Clinic, None, Some(facility_ids[6])),
        (StaffRole::Auditor, None, None),
    ] {
        let input = AccountInput {
            name: format!("demo-{role}"),
            role,
            township_id: township.map(str::to_owned),
            facility_id: facility,
        };
        let password = crate::auth::password::Password::random();
        let (account, token) =
            crate::service::sign_in::create_account(db, &input, password.clone(), false).await?;
        tokens.push(DemoAccount {
            role,
            name: account.name,
            token,
            password,
        });
    }
    Ok(Some(DemoTokens(tokens)))
}
