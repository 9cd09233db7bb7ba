//! Test data shared by the benchmarks.

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A CSV of `n` generated households in the import format, with distinct ID numbers.
pub fn csv(n: u32) -> String {
    let mut rng = StdRng::seed_from_u64(10_000);
    let mut s = String::from("township,community,address,hukou_in_district,area,child_status,child_died_on,child_disability_grade,other_child_since,dibao,low_income,mother_name,mother_id_number,mother_pension,mother_basic_pension_yuan,mother_medical_insurance,father_name,father_id_number,father_medical_insurance\n");
    for i in 0..n {
        let (code, _, _) =
            greenchannel::demo::TOWNSHIPS[i as usize % greenchannel::demo::TOWNSHIPS.len()];
        let h = greenchannel::demo::household(&mut rng, i, code, None);
        let (status, died, grade) = match h.child {
            greenchannel::register::Child::Deceased { died_on } => {
                ("deceased", died_on.to_string(), String::new())
            }
            greenchannel::register::Child::Disabled { disability_grade } => {
                ("disabled", String::new(), disability_grade.to_string())
            }
            greenchannel::register::Child::Healthy => ("healthy", String::new(), String::new()),
        };
        // The generator's ID numbers repeat every 50,000: move the birth date along instead.
        let shift = chrono::Days::new(u64::from(i / 50_000));
        let born = |f: bool| {
            NaiveDate::from_ymd_opt(if f { 1966 } else { 1964 }, 3, 20).expect("date") + shift
        };
        s.push_str(&format!(
            "{code},,{},yes,urban,{status},{died},{grade},no,no,no,张秀兰,{},yes,160.50,yes,李建国,{},yes\n",
            h.address,
            greenchannel::demo::id_number(born(true), true, i),
            greenchannel::demo::id_number(born(false), false, i),
        ));
    }
    s
}

/// A throw-away PostgreSQL database on the server `GREENCHANNEL_TEST_POSTGRES` names.
pub struct ScratchPg {
    admin: sqlx::PgPool,
    name: String,
    /// Its URL.
    pub url: String,
}

impl ScratchPg {
    /// Creates it, or `None` when no server is configured.
    pub async fn create() -> Option<Self> {
        let admin_url = std::env::var("GREENCHANNEL_TEST_POSTGRES").ok()?;
        let admin = sqlx::PgPool::connect(&admin_url).await.expect("postgres");
        let name = format!("gc_bench_{}", std::process::id());
        for sql in [
            format!("drop database if exists {name}"),
            format!("create database {name}"),
        ] {
            sqlx::query(&sql)
                .execute(&admin)
                .await
                .expect("scratch database");
        }
        let url = format!(
            "{}/{name}",
            admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(a, _)| a)
        );
        Some(Self { admin, name, url })
    }

    /// Drops it.
    pub async fn drop(self) {
        sqlx::query(&format!("drop database {} with (force)", self.name))
            .execute(&self.admin)
            .await
            .expect("drop scratch database");
    }
}
