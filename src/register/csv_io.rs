//! Households as village staff keep them in spreadsheets: one row per household, the woman's
//! (女方) and the man's (男方) columns side by side. Reads UTF-8 (with or without BOM) and
//! GB18030/GBK, which is what Excel in China writes; headers may be Chinese or English.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::{
    validate_household, Area, Child, CivilCapacity, Contact, ContactRole, Contribution,
    GroupMember, HouseholdFacts, HouseholdInput, IdNumber, MemberFacts, MemberInput, PensionInput,
    Role, SelfCare, Span, Step, Timeline,
};

/// The text encoding of an uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 if the bytes are valid UTF-8, else GB18030.
    Auto,
    /// UTF-8, with or without a byte-order mark.
    Utf8,
    /// GB18030, a superset of GBK and GB2312.
    Gb18030,
}

impl std::str::FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "utf-8" | "utf8" => Ok(Self::Utf8),
            "gb18030" | "gbk" | "gb2312" => Ok(Self::Gb18030),
            _ => Err(format!(
                "unknown encoding '{s}': use auto, utf-8, gbk or gb18030"
            )),
        }
    }
}

/// One problem in an import file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1); 0 for the file as a whole.
    pub line: u64,
    /// The column (its English key).
    pub field: String,
    /// What is wrong, in Chinese and English.
    pub reason: String,
}

/// The most columns a file may have: the import format has 49, and a spreadsheet may carry a
/// few of its own. A wider header is refused at once, before any row is read.
pub const MAX_COLUMNS: usize = 200;
/// The most data rows a file may have (a district's register is some 10,000).
pub const MAX_ROWS: usize = 200_000;
/// The most problems reported one by one; the rest are counted.
pub const MAX_REPORTED: usize = 1_000;
/// How much of an unknown header cell is quoted back.
const QUOTED_HEADER: usize = 40;

/// The problems of a file: the first [`MAX_REPORTED`] in full, and how many more there were,
/// so that the answer to a file of millions of bad cells stays small.
#[derive(Debug, Default)]
pub struct RowErrors {
    shown: Vec<RowError>,
    more: usize,
}

impl RowErrors {
    /// Records a problem (or only counts it, once [`MAX_REPORTED`] are kept).
    pub fn push(&mut self, e: RowError) {
        if self.shown.len() < MAX_REPORTED {
            self.shown.push(e);
        } else {
            self.more += 1;
        }
    }

    /// Whether there is no problem.
    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    /// The problems to report, by line, ending with one that counts those not listed.
    pub fn into_report(mut self) -> Vec<RowError> {
        self.shown.sort_by_key(|e| e.line);
        if self.more > 0 {
            self.shown.push(RowError {
                line: 0,
                field: "file".into(),
                reason: format!(
                    "另有{}处问题未列出，请先改正以上各处 / {} more problems not listed; correct the ones above first",
                    self.more, self.more
                ),
            });
        }
        self.shown
    }
}

impl Extend<RowError> for RowErrors {
    fn extend<I: IntoIterator<Item = RowError>>(&mut self, iter: I) {
        for e in iter {
            self.push(e);
        }
    }
}

/// A header cell as quoted in an error: at most [`QUOTED_HEADER`] characters, no controls.
fn quoted(name: &str) -> String {
    let mut q: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(QUOTED_HEADER)
        .collect();
    if name.chars().count() > QUOTED_HEADER {
        q.push('…');
    }
    q
}

/// A parsed, validated household row.
#[derive(Debug, Clone)]
pub struct ParsedRow {
    /// 1-based line in the file.
    pub line: u64,
    /// The household, with township and community resolved to codes.
    pub household: HouseholdInput,
}

/// The township and community codes and names the office knows, to resolve what staff write.
#[derive(Debug, Default, Clone)]
pub struct Places {
    /// Township code or name → code.
    pub townships: HashMap<String, String>,
    /// (township code, community code or name) → community code.
    pub communities: HashMap<(String, String), String>,
}

/// The columns: English key, Chinese header, required.
pub const COLUMNS: &[(&str, &str, bool)] = &[
    ("township", "镇街", true),
    ("community", "村居", false),
    ("address", "住址", true),
    ("hukou_in_district", "户籍在本区", true),
    ("hukou_moved_out_on", "户籍迁出日期", false),
    ("area", "城乡", true),
    ("child_status", "子女状况", true),
    ("child_died_on", "子女死亡日期", false),
    ("child_disability_grade", "子女残疾等级", false),
    ("other_child_since", "再生育或收养", true),
    ("other_child_on", "再生育或收养日期", false),
    ("dibao", "低保", true),
    ("dibao_periods", "低保期间", false),
    ("low_income", "低收入", true),
    ("low_income_periods", "低收入期间", false),
    ("ivf_birth_on", "试管婴儿出生日期", false),
    ("contact_name", "联系人", false),
    ("contact_phone", "联系人电话", false),
    ("contact_role", "联系人身份", false),
    ("contact_group", "联系小组", false),
    ("housing_difficulty", "住房困难", false),
    ("funeral_subsidy_conditions", "符合惠民殡葬补贴条件", false),
    ("mother_name", "女方姓名", false),
    ("mother_id_number", "女方身份证号", false),
    ("mother_phone", "女方电话", false),
    ("mother_died_on", "女方死亡日期", false),
    ("mother_pension", "女方参加居民养老保险", false),
    ("mother_basic_pension_yuan", "女方月基础养老金", false),
    ("mother_medical_insurance", "女方参加居民医保", false),
    ("mother_self_care", "女方自理能力", false),
    ("mother_pension_since", "女方参加养老保险日期", false),
    ("mother_medical_insurance_since", "女方参加医保日期", false),
    ("mother_extreme_poverty", "女方特困供养", false),
    ("mother_economic_difficulty", "女方经济困难", false),
    ("mother_civil_capacity", "女方民事行为能力", false),
    ("mother_other_guardian", "女方有其他监护人", false),
    ("mother_severely_disabled", "女方重度残疾", false),
    ("mother_pension_contributions", "女方养老保险缴费", false),
    ("father_name", "男方姓名", false),
    ("father_id_number", "男方身份证号", false),
    ("father_phone", "男方电话", false),
    ("father_died_on", "男方死亡日期", false),
    ("father_pension", "男方参加居民养老保险", false),
    ("father_basic_pension_yuan", "男方月基础养老金", false),
    ("father_medical_insurance", "男方参加居民医保", false),
    ("father_self_care", "男方自理能力", false),
    ("father_pension_since", "男方参加养老保险日期", false),
    ("father_medical_insurance_since", "男方参加医保日期", false),
    ("father_extreme_poverty", "男方特困供养", false),
    ("father_economic_difficulty", "男方经济困难", false),
    ("father_civil_capacity", "男方民事行为能力", false),
    ("father_other_guardian", "男方有其他监护人", false),
    ("father_severely_disabled", "男方重度残疾", false),
    ("father_pension_contributions", "男方养老保险缴费", false),
];

/// Decodes the file's bytes to text.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<String, RowError> {
    let file_error = |reason: String| RowError {
        line: 0,
        field: "file".into(),
        reason,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match encoding {
        Encoding::Utf8 | Encoding::Auto => match std::str::from_utf8(bytes) {
            Ok(s) => return Ok(s.to_owned()),
            Err(e) if encoding == Encoding::Utf8 => {
                let line = 1 + bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count();
                return Err(file_error(format!(
                    "第{line}行不是有效的UTF-8编码，Excel导出的文件请选择GBK / line {line} is not valid UTF-8; for files saved by Excel choose encoding gbk"
                )));
            }
            Err(_) => {}
        },
        Encoding::Gb18030 => {}
    }
    let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
    if had_errors {
        return Err(file_error(
            "文件既不是UTF-8也不是GBK/GB18030编码 / the file is neither UTF-8 nor GBK/GB18030"
                .into(),
        ));
    }
    Ok(text.into_owned())
}

/// The line a spreadsheet shows for a byte offset: the csv reader's own line count is one low
/// for every record after a CRLF (what Excel and WPS write), as it counts the `\n` of a
/// record's terminator into the next record. Offsets come in increasing order, so counting is
/// linear in the file.
struct Lines<'t> {
    text: &'t [u8],
    at: usize,
    line: u64,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text: text.as_bytes(),
            at: 0,
            line: 1,
        }
    }

    /// The 1-based line of the record starting at `byte` (after any line ends before it).
    fn at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        if start >= self.at {
            self.line += self.text[self.at..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.at = start;
        }
        self.line
    }
}

/// Parses and validates every row, returning the good rows and every problem found. The caller
/// commits only when there are no problems at all.
pub fn parse_households(
    text: &str,
    places: &Places,
    today: NaiveDate,
) -> (Vec<ParsedRow>, RowErrors) {
    let mut rows = Vec::new();
    let mut errors = RowErrors::default();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    // The width is checked before the cells are copied: a header of millions of columns costs
    // the reader's one record, nothing more.
    let header: Vec<String> = match reader.headers() {
        Ok(h) if h.len() > MAX_COLUMNS => {
            errors.push(RowError {
                line: 1,
                field: "header".into(),
                reason: format!(
                    "表头有{}列，最多{}列：请检查是否选错了文件或分隔符 / the header has {} columns, at most {} are allowed: is this the right file?",
                    h.len(),
                    MAX_COLUMNS,
                    h.len(),
                    MAX_COLUMNS
                ),
            });
            return (rows, errors);
        }
        Ok(h) => h
            .iter()
            .map(|s| s.trim_start_matches('\u{feff}').to_owned())
            .collect(),
        Err(e) => {
            errors.push(RowError {
                line: 1,
                field: "header".into(),
                reason: format!("表头无法读取 / cannot read the header: {e}"),
            });
            return (rows, errors);
        }
    };
    // Map each column we know to its position; accept either the Chinese or the English name.
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    for (pos, name) in header.iter().enumerate() {
        match COLUMNS.iter().find(|(en, zh, _)| name == en || name == zh) {
            Some((en, _, _)) => {
                if index.insert(en, pos).is_some() {
                    errors.push(RowError {
                        line: 1,
                        field: (*en).into(),
                        reason: "列重复 / the column appears twice".into(),
                    });
                }
            }
            None => errors.push(RowError {
                line: 1,
                field: quoted(name),
                reason: format!(
                    "未知的列（第{}列）/ unknown column (column {})",
                    pos + 1,
                    pos + 1
                ),
            }),
        }
    }
    for (en, zh, required) in COLUMNS {
        if *required && !index.contains_key(en) {
            errors.push(RowError {
                line: 1,
                field: (*en).into(),
                reason: format!("缺少必填列“{zh}” / required column '{en}' is missing"),
            });
        }
    }
    if !errors.is_empty() {
        return (rows, errors);
    }
    let mut ids_seen: HashMap<String, u64> = HashMap::new();
    let mut lines = Lines::new(text);
    for (n, record) in reader.records().enumerate() {
        if n >= MAX_ROWS {
            errors.push(RowError {
                line: 0,
                field: "file".into(),
                reason: format!(
                    "超过{MAX_ROWS}行，请分成几个文件导入 / more than {MAX_ROWS} rows: import it as several files"
                ),
            });
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.at(p.byte()));
                errors.push(RowError {
                    line,
                    field: "row".into(),
                    reason: format!("行格式错误 / malformed row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        if record.iter().all(str::is_empty) {
            continue; // spreadsheets often end with blank rows
        }
        let cell = Cells {
            record: &record,
            index: &index,
        };
        let mut row = RowReader {
            line,
            errors: Vec::new(),
        };
        if let Some(h) = row.household(&cell, places, today) {
            for m in &h.members {
                if let Ok(id) = IdNumber::parse(&m.id_number) {
                    let key = id.as_str().to_owned();
                    if let Some(first) = ids_seen.insert(key, line) {
                        row.err(
                            format!("{}_id_number", m.role),
                            format!("身份证号码与第{first}行重复 / ID number also on line {first}"),
                        );
                    }
                }
            }
            if row.errors.is_empty() {
                rows.push(ParsedRow { line, household: h });
            }
        }
        errors.extend(row.errors);
    }
    (rows, errors)
}

/// What a cell starting with one of these does in Excel, WPS or LibreOffice: it is read as a
/// formula (or, for tab and CR, can be made into one).
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell made safe for a spreadsheet (the OWASP rule against formula injection): one that
/// starts like a formula gets a leading `'`, which spreadsheets show as text. Use it for every
/// cell whose text someone typed — names, addresses, phones — not for numbers.
pub fn to_spreadsheet(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_START) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The text of a cell as [`to_spreadsheet`] wrote it, so that an exported file imports back
/// unchanged: the `'` before a formula start is dropped.
pub fn from_spreadsheet(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_START) => rest,
        _ => cell,
    }
}

/// The cells of one row, by column key.
struct Cells<'r> {
    record: &'r csv::StringRecord,
    index: &'r HashMap<&'static str, usize>,
}

impl<'r> Cells<'r> {
    /// The cell of a column, or "" when the file has no such column.
    fn get(&self, key: &str) -> &'r str {
        let cell = self
            .index
            .get(key)
            .and_then(|&i| self.record.get(i))
            .unwrap_or("");
        from_spreadsheet(cell)
    }
}

/// Reads the cells of one row, collecting every problem.
struct RowReader {
    line: u64,
    errors: Vec<RowError>,
}

impl RowReader {
    fn err(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(RowError {
            line: self.line,
            field: field.into(),
            reason: reason.into(),
        });
    }

    fn household(
        &mut self,
        cell: &Cells<'_>,
        places: &Places,
        today: NaiveDate,
    ) -> Option<HouseholdInput> {
        let township = match places.townships.get(cell.get("township")) {
            Some(code) => code.clone(),
            None => {
                self.err(
                    "township",
                    format!(
                        "未知的镇街“{}” / unknown township '{}'",
                        cell.get("township"),
                        cell.get("township")
                    ),
                );
                String::new()
            }
        };
        let community = match cell.get("community") {
            // An unknown township is reported once; its communities cannot be judged.
            _ if township.is_empty() => None,
            "" => None,
            c => match places.communities.get(&(township.clone(), c.to_owned())) {
                Some(code) => Some(code.clone()),
                None => {
                    self.err(
                        "community",
                        format!("该镇街下没有村居“{c}” / no community '{c}' in that township"),
                    );
                    None
                }
            },
        };
        let status = cell.get("child_status");
        let child = match status {
            "死亡" | "deceased" => self
                .date("child_died_on", cell.get("child_died_on"), true)
                .flatten()
                .map(|died_on| Child::Deceased { died_on }),
            "伤残" | "残疾" | "disabled" => self
                .grade(cell.get("child_disability_grade"))
                .map(|disability_grade| Child::Disabled { disability_grade }),
            "健康" | "healthy" => Some(Child::Healthy),
            other => {
                self.err("child_status", format!("应为 死亡/伤残/健康，而不是“{other}” / must be deceased, disabled or healthy, not '{other}'"));
                None
            }
        };
        let area = match cell.get("area") {
            "城镇" | "城市" | "urban" => Some(Area::Urban),
            "农村" | "rural" => Some(Area::Rural),
            other => {
                self.err(
                    "area",
                    format!(
                        "应为 城镇/农村，而不是“{other}” / must be urban or rural, not '{other}'"
                    ),
                );
                None
            }
        };
        let hukou = self.required_flag("hukou_in_district", cell.get("hukou_in_district"));
        let other_child = self.required_flag("other_child_since", cell.get("other_child_since"));
        let dibao = self.required_flag("dibao", cell.get("dibao"));
        let low_income = self.required_flag("low_income", cell.get("low_income"));
        let ivf = self.date("ivf_birth_on", cell.get("ivf_birth_on"), false);
        let moved_out = self.date("hukou_moved_out_on", cell.get("hukou_moved_out_on"), false);
        let other_child_on = self.date("other_child_on", cell.get("other_child_on"), false);
        let dibao_periods = self.periods("dibao_periods", cell.get("dibao_periods"));
        let low_income_periods = self.periods("low_income_periods", cell.get("low_income_periods"));
        let role = match cell.get("contact_role") {
            "" => None,
            r => match ContactRole::from_zh(r) {
                Some(r) => Some(r),
                None => {
                    self.err("contact_role", format!("应为 镇街工作人员/村居干部/计生协会会员/志愿者，而不是“{r}” / must be township_staff, community_cadre, association_member or volunteer, not '{r}'"));
                    None
                }
            },
        };
        let group = match parse_group(cell.get("contact_group")) {
            Ok(g) => g,
            Err(bad) => {
                self.err("contact_group", format!("联系小组成员无效“{bad}”，应为 姓名 身份 电话，如 李四 村居干部 13900000000；王五 志愿者 / not a group member '{bad}', write name, role, phone"));
                Vec::new()
            }
        };
        let contact = match cell.get("contact_name") {
            "" if role.is_none() && group.is_empty() => None,
            name => Some(Contact {
                name: name.to_owned(),
                phone: non_empty(cell.get("contact_phone")),
                role,
                group,
            }),
        };
        let facts = HouseholdFacts {
            housing_difficulty: self
                .timeline(
                    "housing_difficulty",
                    cell.get("housing_difficulty"),
                    parse_flag,
                )
                .unwrap_or_default(),
            funeral_subsidy_conditions: self
                .timeline(
                    "funeral_subsidy_conditions",
                    cell.get("funeral_subsidy_conditions"),
                    parse_flag,
                )
                .unwrap_or_default(),
        };
        let mut members = Vec::new();
        for role in [Role::Mother, Role::Father] {
            if let Some(m) = self.member(role, cell) {
                members.push(m);
            }
        }
        if members.is_empty() && self.errors.is_empty() {
            self.err(
                "mother_name",
                "至少填写女方或男方之一 / fill in the woman or the man (or both)",
            );
        }
        let household = HouseholdInput {
            township_id: township,
            community_id: community,
            address: cell.get("address").to_owned(),
            hukou_in_district: hukou?,
            hukou_moved_out_on: moved_out?,
            area: area?,
            child: child?,
            other_child_since: other_child?,
            other_child_on: other_child_on?,
            dibao: dibao?,
            dibao_periods: dibao_periods?,
            low_income: low_income?,
            low_income_periods: low_income_periods?,
            ivf_birth_on: ivf.flatten(),
            contact,
            members,
            facts,
        };
        // Every problem of the row is reported, not just the first: a column already reported
        // (e.g. an unknown township, left empty here) is not reported twice.
        for e in validate_household(&household, today) {
            let field = csv_field(&e.field, &household);
            if !self.errors.iter().any(|known| known.field == field) {
                self.err(field, e.reason);
            }
        }
        self.errors.is_empty().then_some(household)
    }

    fn member(&mut self, role: Role, cell: &Cells<'_>) -> Option<MemberInput> {
        let key = |f: &str| format!("{role}_{f}");
        let name = cell.get(&key("name"));
        let id = cell.get(&key("id_number"));
        if name.is_empty() && id.is_empty() {
            return None;
        }
        if name.is_empty() {
            self.err(
                key("name"),
                "有身份证号码但没有姓名 / an ID number without a name",
            );
        }
        if id.is_empty() {
            self.err(
                key("id_number"),
                "缺少身份证号码 / the ID number is missing",
            );
        } else if id.to_ascii_uppercase().contains("E+") {
            self.err(key("id_number"), "身份证号码被Excel转成了数字，请将该列设为文本 / Excel turned the ID number into a number: format the column as text");
        }
        let died_on = self.date(&key("died_on"), cell.get(&key("died_on")), false)?;
        let pension = self.optional_flag(&key("pension"), cell.get(&key("pension")))?;
        let basic = match cell.get(&key("basic_pension_yuan")) {
            "" => None,
            s => match parse_yuan(s) {
                Some(f) => Some(f),
                None => {
                    self.err(key("basic_pension_yuan"), format!("金额格式错误“{s}”，如 160 或 160.50 / bad amount '{s}', e.g. 160 or 160.50"));
                    return None;
                }
            },
        };
        if basic.is_some() && pension != Some(true) {
            self.err(key("basic_pension_yuan"), "填写了养老金但未标明参加居民养老保险 / a pension amount without resident pension enrolment");
        }
        let medical = self.optional_flag(
            &key("medical_insurance"),
            cell.get(&key("medical_insurance")),
        )?;
        let pension_since = self.date(
            &key("pension_since"),
            cell.get(&key("pension_since")),
            false,
        )?;
        let medical_since = self.date(
            &key("medical_insurance_since"),
            cell.get(&key("medical_insurance_since")),
            false,
        )?;
        if pension_since.is_some() && pension != Some(true) {
            self.err(key("pension_since"), "填写了参保日期但未标明参加居民养老保险 / an enrolment date without resident pension enrolment");
        }
        let self_care = match cell.get(&key("self_care")) {
            "" => None,
            "完全自理" | "full" => Some(SelfCare::Full),
            "部分自理" | "partial" => Some(SelfCare::Partial),
            "不能自理" | "none" => Some(SelfCare::None),
            other => {
                self.err(key("self_care"), format!("应为 完全自理/部分自理/不能自理，而不是“{other}” / must be full, partial or none"));
                None
            }
        };
        let mut flag_of = |f: &str| {
            self.timeline(&key(f), cell.get(&key(f)), parse_flag)
                .unwrap_or_default()
        };
        let (extreme_poverty, economic_difficulty, other_guardian, severely_disabled) = (
            flag_of("extreme_poverty"),
            flag_of("economic_difficulty"),
            flag_of("other_guardian"),
            flag_of("severely_disabled"),
        );
        let civil_capacity = self
            .timeline(
                &key("civil_capacity"),
                cell.get(&key("civil_capacity")),
                parse_capacity,
            )
            .unwrap_or_default();
        let contributions = match parse_contributions(cell.get(&key("pension_contributions"))) {
            Ok(c) => c,
            Err(bad) => {
                self.err(key("pension_contributions"), format!("缴费记录无效“{bad}”，应为 2025年300元按期；2026年500元未按期 / not a contribution '{bad}', write 2025年300元按期；2026年500元未按期"));
                Vec::new()
            }
        };
        Some(MemberInput {
            name: name.to_owned(),
            sex: None,
            role,
            born_on: None,
            id_number: id.to_owned(),
            phone: non_empty(cell.get(&key("phone"))),
            died_on,
            resident_pension: (pension == Some(true)).then_some(PensionInput {
                basic_monthly_fen: basic,
                since: pension_since,
            }),
            resident_medical_insurance: medical == Some(true),
            resident_medical_insurance_since: medical_since,
            self_care,
            facts: MemberFacts {
                extreme_poverty,
                economic_difficulty,
                civil_capacity,
                other_guardian,
                severely_disabled,
                in_school: Timeline::default(),
                contributions,
            },
        })
    }

    /// A dated fact as staff write it (see [`parse_timeline`]); `None` after recording an error.
    fn timeline<T: Copy>(
        &mut self,
        field: &str,
        s: &str,
        value: fn(&str) -> Option<T>,
    ) -> Option<Timeline<T>> {
        match parse_timeline(s, value) {
            Ok(t) => Some(t),
            Err(bad) => {
                self.err(
                    field,
                    format!("无效“{bad}”，应为 是、否，或 2021-03-01起是；2024-01-01起否 / not valid '{bad}', write yes, no, or 2021-03-01起是；2024-01-01起否"),
                );
                None
            }
        }
    }

    /// A yes/no cell that must be filled in.
    fn required_flag(&mut self, field: &str, s: &str) -> Option<bool> {
        match self.optional_flag(field, s)? {
            Some(b) => Some(b),
            None => {
                self.err(field, "必填 / required");
                None
            }
        }
    }

    /// A yes/no cell; `Some(None)` when empty. `None` after recording an error.
    fn optional_flag(&mut self, field: &str, s: &str) -> Option<Option<bool>> {
        match parse_flag(s) {
            Some(b) => Some(Some(b)),
            None if s.is_empty() => Some(None),
            None => {
                self.err(
                    field,
                    format!("应为 是/否，而不是“{s}” / must be yes or no, not '{s}'"),
                );
                None
            }
        }
    }

    /// A date cell; `Some(None)` when empty and optional. `None` after recording an error.
    fn date(&mut self, field: &str, s: &str, required: bool) -> Option<Option<NaiveDate>> {
        if s.is_empty() {
            if required {
                self.err(field, "缺少日期 / the date is missing");
                return None;
            }
            return Some(None);
        }
        match parse_date(s) {
            Some(d) => Some(Some(d)),
            None => {
                self.err(
                    field,
                    format!(
                        "日期无效“{s}”，应为 2015-08-10 / not a valid date '{s}', write 2015-08-10"
                    ),
                );
                None
            }
        }
    }

    /// Periods as staff write them: `2019-01-01至2019-12-31；2021-03-01至今` (also `~` for 至,
    /// `;` for ；, and nothing after 至 for an open period).
    fn periods(&mut self, field: &str, s: &str) -> Option<Vec<Span>> {
        match parse_periods(s) {
            Ok(p) => Some(p),
            Err(bad) => {
                self.err(
                    field,
                    format!("期间无效“{bad}”，应为 2019-01-01至2019-12-31 或 2021-03-01至今 / not a period '{bad}', write 2019-01-01至2019-12-31 or 2021-03-01至今"),
                );
                None
            }
        }
    }

    fn grade(&mut self, s: &str) -> Option<u8> {
        let g = match s {
            "1" | "一级" => Some(1),
            "2" | "二级" => Some(2),
            "3" | "三级" => Some(3),
            "4" | "四级" => Some(4),
            _ => None,
        };
        if g.is_none() {
            self.err(
                "child_disability_grade",
                format!(
                    "残疾等级应为1-4，而不是“{s}” / disability grade must be 1 to 4, not '{s}'"
                ),
            );
        }
        g
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Maps a validation path (`members[0].id_number`) to the CSV column (`mother_id_number`).
fn csv_field(path: &str, h: &HouseholdInput) -> String {
    if let Some(rest) = path.strip_prefix("members[") {
        if let Some((i, field)) = rest.split_once("].") {
            if let Some(m) = i.parse::<usize>().ok().and_then(|i| h.members.get(i)) {
                let field = match field {
                    "resident_pension.basic_monthly_fen" => "basic_pension_yuan",
                    "born_on" | "sex" => "id_number",
                    f if f.starts_with("facts.contributions") => "pension_contributions",
                    f => f
                        .strip_prefix("facts.")
                        .map_or(f, |f| f.split(['[', '.']).next().unwrap_or(f)),
                };
                return format!("{}_{}", m.role, field);
            }
        }
    }
    match path {
        "child.died_on" => "child_died_on".into(),
        "child.disability_grade" => "child_disability_grade".into(),
        "township_id" => "township".into(),
        other if other.starts_with("contact.group") => "contact_group".into(),
        other if other.starts_with("facts.") => other["facts.".len()..]
            .split(['[', '.'])
            .next()
            .unwrap_or(other)
            .to_owned(),
        other => other.replace('.', "_"),
    }
}

/// Parses a contact group written as `李四 村居干部 13900000000；王五 志愿者`: each member's name,
/// then their role and phone in either order, both optional. The error is the part that is not
/// a member.
pub fn parse_group(s: &str) -> Result<Vec<GroupMember>, String> {
    s.split([';', '；'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut words = p.split_whitespace();
            let name = words.next().ok_or_else(|| p.to_owned())?.to_owned();
            let mut member = GroupMember {
                name,
                phone: None,
                role: None,
            };
            for w in words {
                match ContactRole::from_zh(w) {
                    Some(r) if member.role.is_none() => member.role = Some(r),
                    None if member.phone.is_none()
                        && w.bytes()
                            .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+') =>
                    {
                        member.phone = Some(w.to_owned())
                    }
                    _ => return Err(p.to_owned()),
                }
            }
            Ok(member)
        })
        .collect()
}

/// Writes a contact group the way [`parse_group`] reads it.
pub fn format_group(group: &[GroupMember]) -> String {
    group
        .iter()
        .map(|g| {
            let mut words = vec![g.name.clone()];
            words.extend(g.role.map(|r| r.zh().to_owned()));
            words.extend(g.phone.clone());
            words.join(" ")
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// A yes/no value as staff write it (是/否, 有/无, yes/no, …): the register's one vocabulary,
/// in cells and in the API's fact changes.
pub fn parse_flag(s: &str) -> Option<bool> {
    match s {
        "是" | "有" | "true" | "yes" | "y" | "1" | "Y" | "TRUE" => Some(true),
        "否" | "无" | "false" | "no" | "n" | "0" | "N" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A civil-capacity value: 完全 / 限制 / 无 (or full, limited, none).
pub fn parse_capacity(s: &str) -> Option<CivilCapacity> {
    match s {
        "完全" | "完全民事行为能力" | "full" => Some(CivilCapacity::Full),
        "限制" | "限制民事行为能力" | "limited" => Some(CivilCapacity::Limited),
        "无" | "无民事行为能力" | "none" => Some(CivilCapacity::None),
        _ => None,
    }
}

/// Writes a yes/no value as the export does.
pub fn format_flag(b: bool) -> &'static str {
    if b {
        "是"
    } else {
        "否"
    }
}

/// Writes a civil capacity as [`parse_capacity`] reads it.
pub fn format_capacity(c: CivilCapacity) -> &'static str {
    match c {
        CivilCapacity::Full => "完全",
        CivilCapacity::Limited => "限制",
        CivilCapacity::None => "无",
    }
}

/// Parses a dated fact written as `是` (recorded without its date), `2021-03-01起是`, or steps
/// `否；2021-03-01起是；2024-01-01起否`; empty is "not recorded". The error is the part that is
/// not a step, or the whole cell when the steps are out of order.
pub fn parse_timeline<T: Copy>(
    s: &str,
    value: impl Fn(&str) -> Option<T>,
) -> Result<Timeline<T>, String> {
    let steps = s
        .split([';', '；'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('起') {
            Some((from, v)) => Ok(Step {
                from: Some(parse_date(from.trim()).ok_or_else(|| p.to_owned())?),
                value: value(v.trim()).ok_or_else(|| p.to_owned())?,
            }),
            None => Ok(Step {
                from: None,
                value: value(p).ok_or_else(|| p.to_owned())?,
            }),
        })
        .collect::<Result<Vec<_>, String>>()?;
    Timeline::new(steps).map_err(|_| s.to_owned())
}

/// Writes a dated fact the way [`parse_timeline`] reads it.
pub fn format_timeline<T: Copy>(t: &Timeline<T>, value: impl Fn(T) -> &'static str) -> String {
    t.steps()
        .iter()
        .map(|s| match s.from {
            Some(from) => format!("{from}起{}", value(s.value)),
            None => value(s.value).to_owned(),
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// Parses yearly contributions written as `2025年300元按期；2026年500元未按期`.
pub fn parse_contributions(s: &str) -> Result<Vec<Contribution>, String> {
    s.split([';', '；'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let bad = || p.to_owned();
            let (year, rest) = p.split_once('年').ok_or_else(bad)?;
            let (yuan, paid) = rest.split_once('元').ok_or_else(bad)?;
            Ok(Contribution {
                year: year.trim().parse().map_err(|_| bad())?,
                tier_fen: parse_yuan(yuan.trim()).ok_or_else(bad)?,
                on_time: match paid.trim() {
                    "按期" | "按时" | "是" => true,
                    "未按期" | "逾期" | "否" => false,
                    _ => return Err(bad()),
                },
            })
        })
        .collect()
}

/// Writes contributions the way [`parse_contributions`] reads them.
pub fn format_contributions(c: &[Contribution]) -> String {
    c.iter()
        .map(|c| {
            let yuan = format_yuan(c.tier_fen);
            let yuan = yuan.strip_suffix(".00").unwrap_or(&yuan);
            format!(
                "{}年{yuan}元{}",
                c.year,
                if c.on_time { "按期" } else { "未按期" }
            )
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// Parses periods written as `2019-01-01至2019-12-31；2021-03-01至今`; the error is the part
/// that is not a period.
pub fn parse_periods(s: &str) -> Result<Vec<Span>, String> {
    s.split([';', '；'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (from, until) = p.split_once(['至', '~']).ok_or_else(|| p.to_owned())?;
            let from = parse_date(from.trim()).ok_or_else(|| p.to_owned())?;
            let until = match until.trim() {
                "" | "今" => None,
                u => Some(parse_date(u).ok_or_else(|| p.to_owned())?),
            };
            Ok(Span { from, until })
        })
        .collect()
}

/// Writes periods the way [`parse_periods`] reads them.
pub fn format_periods(periods: &[Span]) -> String {
    periods
        .iter()
        .map(|p| match p.until {
            Some(u) => format!("{}至{u}", p.from),
            None => format!("{}至今", p.from),
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// Parses 2015-08-10, 2015/8/10 or 2015.8.10 (what Excel and hand entry produce).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    if y.len() != 4 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Parses a yuan amount with at most two decimals into fen, exactly (no floating point).
pub fn parse_yuan(s: &str) -> Option<i64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(frac)
}

/// Formats fen as yuan with two decimals.
pub fn format_yuan(fen: i64) -> String {
    format!(
        "{}{}.{:02}",
        if fen < 0 { "-" } else { "" },
        fen.abs() / 100,
        fen.abs() % 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_parses_exactly() {
        assert_eq!(parse_yuan("160"), Some(16000));
        assert_eq!(parse_yuan("160.5"), Some(16050));
        assert_eq!(parse_yuan("0.07"), Some(7));
        assert_eq!(parse_yuan("1.234"), None);
        assert_eq!(parse_yuan("-3"), None);
        assert_eq!(format_yuan(16050), "160.50");
    }

    #[test]
    fn periods_read_as_staff_write_them_and_round_trip() {
        let d = |s| parse_date(s).expect("date");
        let p = parse_periods("2019-01-01至2019/12/31；2021-03-01至今").expect("periods");
        assert_eq!(
            p,
            vec![
                Span {
                    from: d("2019-01-01"),
                    until: Some(d("2019-12-31"))
                },
                Span {
                    from: d("2021-03-01"),
                    until: None
                },
            ]
        );
        assert_eq!(parse_periods(&format_periods(&p)), Ok(p));
        assert_eq!(
            parse_periods("2021-03-01~; "),
            Ok(vec![Span {
                from: d("2021-03-01"),
                until: None
            }])
        );
        assert_eq!(
            parse_periods("2019-01-01到2019-12-31"),
            Err("2019-01-01到2019-12-31".into())
        );
        assert_eq!(parse_periods(""), Ok(vec![]));
    }

    #[test]
    fn dates_accept_excel_forms_and_refuse_impossible_ones() {
        assert_eq!(
            parse_date("2015/8/10"),
            NaiveDate::from_ymd_opt(2015, 8, 10)
        );
        assert_eq!(parse_date("2015-02-30"), None);
        assert_eq!(parse_date("15-02-03"), None);
    }

    #[test]
    fn gbk_bytes_decode_in_auto_mode() {
        let (bytes, _, _) = encoding_rs::GBK.encode("镇街,住址\n周村街道,一号\n");
        assert_eq!(
            decode(&bytes, Encoding::Auto).unwrap(),
            "镇街,住址\n周村街道,一号\n"
        );
        assert!(decode(&bytes, Encoding::Utf8)
            .unwrap_err()
            .reason
            .contains("line 1"));
    }
}
