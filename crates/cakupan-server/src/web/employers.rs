//! The employer channel's pages (issue #7): the branch's employers (and those in arrears), an
//! employer's account (invoices, payments, workers), the monthly wage report (upload, the
//! difference from last month, every problem by line, submit), an invoice's lines, and the
//! branch recording a payment. Employers' staff see only their own.

use super::i18n::{Lang, Tr};
use super::{Nav, Page, PageError, St, html, html_status};
use crate::AppState;
use crate::employers::{self as api, employer_for, report_body, summaries};
use crate::error::ApiError;
use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cakupan_domain::access::{Action, Capability, Resource, authorize};
use cakupan_domain::employers::{LineProblem, parse_csv};
use cakupan_domain::month::format_date;
use cakupan_domain::{Month, RegionCode};
use cakupan_store::employers::{Change, Employer, EmployerInput, EmployerQuery, ReportOutcome};
use serde::Deserialize;

/// The employer pages' words, in one language.
#[derive(Debug)]
pub struct Et {
    pub title: &'static str,
    pub arrears_title: &'static str,
    pub arrears_only: &'static str,
    pub all: &'static str,
    pub nib: &'static str,
    pub name: &'static str,
    pub size: &'static str,
    pub risk_class: &'static str,
    pub workers: &'static str,
    pub last_reported: &'static str,
    pub overdue: &'static str,
    pub oldest_overdue: &'static str,
    pub none: &'static str,
    pub add_title: &'static str,
    pub region_village: &'static str,
    pub contact_name: &'static str,
    pub contact_phone: &'static str,
    pub contact_email: &'static str,
    pub add_button: &'static str,
    pub size_names: [&'static str; 4],
    pub billed: &'static str,
    pub paid: &'static str,
    pub credit: &'static str,
    pub outstanding: &'static str,
    pub unbilled_fees: &'static str,
    pub accruing_fees: &'static str,
    pub accruing_short: &'static str,
    pub in_arrears_banner: &'static str,
    pub invoices: &'static str,
    pub month: &'static str,
    pub payment_code: &'static str,
    pub due_on: &'static str,
    pub total: &'static str,
    pub fees_carried: &'static str,
    pub provisional_jp: &'static str,
    pub state: &'static str,
    pub settled: &'static str,
    pub partly: &'static str,
    pub open: &'static str,
    pub late: &'static str,
    pub payments: &'static str,
    pub reference: &'static str,
    pub amount: &'static str,
    pub paid_on: &'static str,
    pub workers_now: &'static str,
    pub since: &'static str,
    pub report_title: &'static str,
    pub report_file: &'static str,
    pub report_text: &'static str,
    pub confirm_valid: &'static str,
    pub check: &'static str,
    pub submit: &'static str,
    pub record_payment: &'static str,
    pub record: &'static str,
    pub recorded: &'static str,
    pub repeat_payment: &'static str,
    pub outcome_previewed: &'static str,
    pub outcome_billed: &'static str,
    pub outcome_repeat: &'static str,
    pub outcome_blocked: &'static str,
    pub problems: &'static str,
    pub line: &'static str,
    pub field: &'static str,
    pub whole_report: &'static str,
    pub changes: &'static str,
    pub change: &'static str,
    pub before: &'static str,
    pub after: &'static str,
    pub change_names: [&'static str; 6],
    pub contributions: &'static str,
    pub employer_share: &'static str,
    pub worker_share: &'static str,
    pub left_out: &'static str,
    pub lines_paid: &'static str,
    pub see_invoice: &'static str,
    pub back: &'static str,
    pub invoice_title: &'static str,
    pub programs: &'static str,
    pub wage: &'static str,
    pub late_fee: &'static str,
    pub jkp: &'static str,
    pub jkp_note: &'static str,
    pub kpj: &'static str,
    pub nik: &'static str,
    pub jkk_retained: &'static str,
    pub jkm_retained: &'static str,
    pub jkp_from_jkk: &'static str,
    pub jkp_from_jkm: &'static str,
    pub jkp_government: &'static str,
    pub template_link: &'static str,
    pub columns_help: &'static str,
    pub warnings: &'static str,
    pub warnings_help: &'static str,
    pub col_birth_date: &'static str,
    pub col_sex: &'static str,
    pub col_village: &'static str,
    pub col_occupation: &'static str,
    pub col_basic_wage: &'static str,
    pub col_allowances: &'static str,
    pub col_programs: &'static str,
    pub col_action: &'static str,
    pub col_row: &'static str,
    pub col_month: &'static str,
    pub col_file: &'static str,
    pub edit_label: &'static str,
    pub check_again: &'static str,
}

pub static ID: Et = Et {
    title: "Pemberi kerja",
    arrears_title: "Pemberi kerja yang menunggak",
    arrears_only: "Hanya yang menunggak",
    all: "Semua",
    nib: "NIB",
    name: "Nama",
    size: "Skala usaha",
    risk_class: "Kelas risiko JKK",
    workers: "Pekerja",
    last_reported: "Laporan terakhir",
    overdue: "Tunggakan",
    oldest_overdue: "Menunggak sejak",
    none: "Belum ada.",
    add_title: "Daftarkan pemberi kerja",
    region_village: "Kode desa/kelurahan alamat usaha",
    contact_name: "Nama penanggung jawab",
    contact_phone: "No. HP penanggung jawab",
    contact_email: "E-mail penanggung jawab",
    add_button: "Daftarkan",
    size_names: ["mikro", "kecil", "menengah", "besar"],
    billed: "Ditagih",
    paid: "Dibayar",
    credit: "Kelebihan bayar",
    outstanding: "Belum dibayar",
    unbilled_fees: "Denda yang akan ditagih",
    accruing_fees: "Denda berjalan atas tunggakan (jika dibayar hari ini)",
    accruing_short: "denda berjalan",
    in_arrears_banner: "Pemberi kerja ini menunggak iuran yang sudah jatuh tempo",
    invoices: "Tagihan",
    month: "Bulan",
    payment_code: "Kode iuran",
    due_on: "Jatuh tempo",
    total: "Jumlah",
    fees_carried: "Denda dibawa",
    provisional_jp: "Sementara: batas upah JP bulan ini belum ada dalam aturan; JP ditagih dengan batas terakhir yang diketahui,",
    state: "Status",
    settled: "lunas",
    partly: "dibayar sebagian",
    open: "belum dibayar",
    late: "lewat jatuh tempo",
    payments: "Pembayaran",
    reference: "Referensi",
    amount: "Jumlah",
    paid_on: "Tanggal bayar",
    workers_now: "Pekerja terdaftar",
    since: "Sejak",
    report_title: "Laporan upah bulanan",
    report_file: "Berkas CSV",
    report_text: "atau tempel isi CSV",
    confirm_valid: "Tagihkan baris yang benar saja (baris bermasalah ditinggalkan)",
    check: "Periksa",
    submit: "Kirim laporan",
    record_payment: "Catat pembayaran",
    record: "Catat",
    recorded: "Pembayaran dicatat",
    repeat_payment: "Pembayaran ini sudah tercatat sebelumnya",
    outcome_previewed: "Diperiksa: belum ada yang disimpan.",
    outcome_billed: "Laporan diterima dan tagihan dibuat.",
    outcome_repeat: "Laporan ini sudah pernah dikirim: tagihannya tetap.",
    outcome_blocked: "Belum ada yang ditagih: perbaiki laporan, atau setujui menagihkan baris yang benar saja.",
    problems: "Masalah",
    line: "Baris",
    field: "Kolom",
    whole_report: "laporan",
    changes: "Perbedaan dari bulan lalu",
    change: "Perubahan",
    before: "Sebelumnya",
    after: "Sekarang",
    change_names: [
        "baru",
        "bergabung lagi",
        "berubah",
        "tetap",
        "berhenti",
        "tidak dilaporkan",
    ],
    contributions: "Iuran",
    employer_share: "Bagian pemberi kerja",
    worker_share: "Bagian pekerja",
    left_out: "Baris ditinggalkan",
    lines_paid: "Langsung lunas dari kelebihan bayar",
    see_invoice: "Lihat tagihan",
    back: "Kembali",
    invoice_title: "Tagihan",
    programs: "Program",
    wage: "Upah",
    late_fee: "Denda",
    jkp: "Pencatatan JKP (tidak ditagih)",
    jkp_note: "Menurut PP 6/2025: 0,14% dari iuran JKK pemberi kerja dan 0,22% dari pemerintah pusat.",
    kpj: "KPJ",
    nik: "NIK",
    jkk_retained: "JKK yang tetap (JKK dibayar dikurangi bagian JKP)",
    jkm_retained: "JKM yang tetap (JKM dibayar dikurangi bagian JKP)",
    jkp_from_jkk: "JKP dari JKK pemberi kerja",
    jkp_from_jkm: "JKP dari JKM pemberi kerja",
    jkp_government: "JKP yang menjadi piutang pemerintah pusat",
    template_link: "Unduh contoh berkas laporan (CSV)",
    columns_help: "Kolom, berurutan: NIK, nama, tanggal lahir (TTTT-BB-HH), jenis kelamin (L/P), kode desa, kode pekerjaan, gaji pokok, tunjangan tetap, program (mis. JKK+JKM+JHT+JP), tindakan (enrol untuk pekerja baru, continue untuk yang tetap, stop untuk yang berhenti). Upah = gaji pokok + tunjangan tetap.",
    warnings: "Perlu diperiksa",
    warnings_help: "Baris ini tetap ditagih; periksa apakah angkanya benar.",
    col_birth_date: "tanggal lahir",
    col_sex: "jenis kelamin",
    col_village: "kode desa",
    col_occupation: "kode pekerjaan",
    col_basic_wage: "gaji pokok",
    col_allowances: "tunjangan tetap",
    col_programs: "program",
    col_action: "tindakan",
    col_row: "seluruh baris",
    col_month: "bulan",
    col_file: "berkas",
    edit_label: "Isi laporan (CSV): perbaiki di sini, lalu periksa lagi",
    check_again: "Periksa lagi",
};

pub static EN: Et = Et {
    title: "Employers",
    arrears_title: "Employers in arrears",
    arrears_only: "In arrears only",
    all: "All",
    nib: "NIB",
    name: "Name",
    size: "Size",
    risk_class: "JKK risk class",
    workers: "Workers",
    last_reported: "Last report",
    overdue: "Arrears",
    oldest_overdue: "In arrears since",
    none: "None yet.",
    add_title: "Register an employer",
    region_village: "Village code of the business address",
    contact_name: "Contact person",
    contact_phone: "Contact's mobile",
    contact_email: "Contact's e-mail",
    add_button: "Register",
    size_names: ["micro", "small", "medium", "large"],
    billed: "Billed",
    paid: "Paid",
    credit: "Credit",
    outstanding: "Outstanding",
    unbilled_fees: "Late fees to be billed",
    accruing_fees: "Late fees running on the arrears (if paid today)",
    accruing_short: "late fees running",
    in_arrears_banner: "This employer has contributions past their due date",
    invoices: "Invoices",
    month: "Month",
    payment_code: "Payment code",
    due_on: "Due",
    total: "Total",
    fees_carried: "Fees carried",
    provisional_jp: "Provisional: this month's JP wage ceiling is not in the rules yet; JP is billed at the latest known ceiling,",
    state: "State",
    settled: "paid",
    partly: "partly paid",
    open: "unpaid",
    late: "overdue",
    payments: "Payments",
    reference: "Reference",
    amount: "Amount",
    paid_on: "Paid on",
    workers_now: "Enrolled workers",
    since: "Since",
    report_title: "Monthly wage report",
    report_file: "CSV file",
    report_text: "or paste the CSV",
    confirm_valid: "Bill the valid lines only (lines with problems are left out)",
    check: "Check",
    submit: "Submit the report",
    record_payment: "Record a payment",
    record: "Record",
    recorded: "Payment recorded",
    repeat_payment: "This payment was already recorded",
    outcome_previewed: "Checked: nothing was saved yet.",
    outcome_billed: "Report accepted and the invoice made.",
    outcome_repeat: "This report was already submitted: its invoice is unchanged.",
    outcome_blocked: "Nothing was billed: correct the report, or agree to bill the valid lines only.",
    problems: "Problems",
    line: "Line",
    field: "Field",
    whole_report: "report",
    changes: "Difference from last month",
    change: "Change",
    before: "Before",
    after: "Now",
    change_names: [
        "new",
        "rejoined",
        "changed",
        "unchanged",
        "stopped",
        "not reported",
    ],
    contributions: "Contributions",
    employer_share: "Employer's share",
    worker_share: "Worker's share",
    left_out: "Lines left out",
    lines_paid: "Paid at once from credit",
    see_invoice: "See the invoice",
    back: "Back",
    invoice_title: "Invoice",
    programs: "Programmes",
    wage: "Wage",
    late_fee: "Late fee",
    jkp: "JKP accounting (not billed)",
    jkp_note: "Per PP 6/2025: 0.14% from the employer's JKK contribution and 0.22% from the central government.",
    kpj: "KPJ",
    nik: "NIK",
    jkk_retained: "JKK retained (JKK paid less the JKP share)",
    jkm_retained: "JKM retained (JKM paid less the JKP share)",
    jkp_from_jkk: "JKP from the employer's JKK",
    jkp_from_jkm: "JKP from the employer's JKM",
    jkp_government: "JKP receivable from the central government",
    template_link: "Download a sample report file (CSV)",
    columns_help: "Columns, in order: NIK, name, birth date (YYYY-MM-DD), sex (L/P), village code, occupation code, basic wage, fixed allowances, programmes (for example JKK+JKM+JHT+JP), action (enrol for a new worker, continue for one who stays, stop for one who leaves). Wage = basic wage + fixed allowances.",
    warnings: "Worth a second look",
    warnings_help: "These lines are still billed; check that their figures are right.",
    col_birth_date: "birth date",
    col_sex: "sex",
    col_village: "village code",
    col_occupation: "occupation code",
    col_basic_wage: "basic wage",
    col_allowances: "fixed allowances",
    col_programs: "programmes",
    col_action: "action",
    col_row: "the whole line",
    col_month: "month",
    col_file: "file",
    edit_label: "The report (CSV): correct it here, then check it again",
    check_again: "Check again",
};

pub fn words(lang: Lang) -> &'static Et {
    match lang {
        Lang::Id => &ID,
        Lang::En => &EN,
    }
}

fn size_name(e: &Et, s: cakupan_domain::employers::SizeClass) -> &'static str {
    use cakupan_domain::employers::SizeClass::*;
    match s {
        Micro => e.size_names[0],
        Small => e.size_names[1],
        Medium => e.size_names[2],
        Large => e.size_names[3],
    }
}

fn change_name(e: &Et, c: Change) -> &'static str {
    match c {
        Change::New => e.change_names[0],
        Change::Rejoined => e.change_names[1],
        Change::Changed => e.change_names[2],
        Change::Unchanged => e.change_names[3],
        Change::Stopped => e.change_names[4],
        Change::Missing => e.change_names[5],
    }
}

/// An API error as a page error (the same decisions, the reader's language).
fn page_err(page: &Page, e: ApiError) -> PageError {
    match e {
        ApiError::NotFound(_) => PageError::NotFound(page.lang),
        ApiError::Forbidden(m) => PageError::Forbidden(page.lang, m),
        other => PageError::Internal(format!("{other:?}")),
    }
}

async fn visible(
    st: &AppState,
    page: &Page,
    code: &str,
    action: Action,
) -> Result<Employer, PageError> {
    let me = page.require()?;
    employer_for(st, &me.who, code, action)
        .await
        .map_err(|e| page_err(page, e))
}

struct Row {
    code: String,
    name: String,
    size: &'static str,
    risk_class: u8,
    workers: u64,
    last: String,
    overdue: String,
    /// Late fees running on the arrears (the arrears list only).
    accruing: Option<String>,
    oldest: String,
    in_arrears: bool,
}

#[derive(Template)]
#[template(path = "employers.html")]
struct ListPage {
    t: &'static Tr,
    e: &'static Et,
    nav: Nav,
    area: String,
    area_code: String,
    arrears_only: bool,
    rows: Vec<Row>,
    pager: super::Pager,
    /// The filter typed.
    q: String,
    csv_href: String,
    may_add: bool,
    csrf: String,
    errors: Vec<String>,
    form: AddForm,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    size: String,
    #[serde(default)]
    risk_class: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    contact_phone: String,
    #[serde(default)]
    contact_email: String,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    wilayah: Option<String>,
    tunggakan: Option<String>,
    /// A name or NIB to find (part of either).
    q: Option<String>,
    /// The page, from 1.
    hal: Option<usize>,
    /// `csv`: the whole filtered list as CSV.
    format: Option<String>,
}

/// How a list is cut: the filter, the page, the format.
#[derive(Debug, Default)]
struct ListCut {
    q: String,
    page: Option<usize>,
    csv: bool,
}

#[allow(clippy::too_many_arguments)]
async fn list_page(
    st: &AppState,
    page: &Page,
    area: RegionCode,
    arrears_only: bool,
    cut: ListCut,
    errors: Vec<String>,
    form: AddForm,
    status: StatusCode,
) -> Result<Response, PageError> {
    let me = page.allow(Action::ReadEmployer, &Resource::Region(area))?;
    let (lang, e) = (page.lang, words(page.lang));
    // The store cuts the list: the page asked for (the last one, if past the end), or all of
    // it for the CSV file.
    let needle = cut.q.trim().to_lowercase();
    let mut q = EmployerQuery {
        text: needle.clone(),
        ..EmployerQuery::all(area, arrears_only)
    };
    let mut at = cut.page.unwrap_or(1).max(1);
    if !cut.csv {
        q.offset = ((at - 1) as u64).saturating_mul(super::PAGE_ROWS as u64);
        q.limit = Some(super::PAGE_ROWS as u64);
    }
    let mut list = summaries(st, &q).await.map_err(|x| page_err(page, x))?;
    let total = usize::try_from(list.total).unwrap_or(usize::MAX);
    if !cut.csv && at != super::page_within(total, Some(at)) {
        at = super::page_within(total, Some(at));
        q.offset = ((at - 1) as u64).saturating_mul(super::PAGE_ROWS as u64);
        list = summaries(st, &q).await.map_err(|x| page_err(page, x))?;
    }
    let list = list.rows;
    if cut.csv {
        page.audit(
            st,
            "employer.export",
            format!("employers:{area}"),
            "service",
        )
        .await?;
        return Ok(employers_csv(&list));
    }
    let base = format!(
        "/pemberi-kerja?wilayah={area}{}{}",
        if arrears_only { "&tunggakan=1" } else { "" },
        if needle.is_empty() {
            String::new()
        } else {
            format!("&q={}", cakupan_app::sms::url_encode(&needle))
        }
    );
    let pager = super::pager(lang, total, at, list.len(), |n| format!("{base}&hal={n}"));
    let rows = list
        .iter()
        .map(|s| Row {
            code: s.employer.code.clone(),
            name: s.employer.name.clone(),
            size: size_name(e, s.employer.size),
            risk_class: s.employer.risk_class,
            workers: s.workers,
            last: s
                .last_month
                .map(|m| lang.month(m))
                .unwrap_or_else(|| "–".into()),
            overdue: lang.rupiah(s.standing.overdue.0),
            accruing: (s.standing.accruing_fees.0 > 0).then(|| {
                format!(
                    "+ {} {}",
                    lang.rupiah(s.standing.accruing_fees.0),
                    e.accruing_short
                )
            }),
            oldest: s
                .standing
                .oldest_overdue
                .map(|m| lang.month(m))
                .unwrap_or_default(),
            in_arrears: s.standing.in_arrears(),
        })
        .collect();
    html_status(
        status,
        &ListPage {
            t: page.t(),
            e,
            nav: page.nav(),
            area: if area == RegionCode::NATION {
                page.t().nation.to_string()
            } else {
                format!("{} ({area})", st.regions.path_label(area))
            },
            area_code: area.to_string(),
            arrears_only,
            rows,
            pager,
            q: cut.q.trim().to_string(),
            csv_href: format!("{base}&format=csv"),
            may_add: authorize(&me.who, Action::ManageEmployers, &Resource::Region(area)).is_ok(),
            csrf: me.csrf.clone(),
            errors,
            form,
        },
    )
}

/// `/pemberi-kerja`: the branch's employers (`?tunggakan=1`: those in arrears, most owed
/// first); an employer's staff go to their own account.
pub async fn home(
    State(st): St,
    page: Page,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let me = page.require()?;
    if me.who.role.can(Capability::ActsForEmployer) {
        let code = me.who.employer_code.clone().unwrap_or_default();
        return Ok(Redirect::to(&format!("/pemberi-kerja/{code}")).into_response());
    }
    let area = match q
        .wilayah
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => me.who.region,
        Some(c) => RegionCode::parse(c).map_err(|_| PageError::NotFound(page.lang))?,
    };
    let arrears = q.tunggakan.as_deref().is_some_and(|v| v == "1");
    list_page(
        &st,
        &page,
        area,
        arrears,
        ListCut {
            q: q.q.clone().unwrap_or_default(),
            page: q.hal,
            csv: q.format.as_deref() == Some("csv"),
        },
        Vec::new(),
        AddForm::default(),
        StatusCode::OK,
    )
    .await
}

/// `POST /pemberi-kerja`: a branch registers an employer.
pub async fn add(State(st): St, page: Page, Form(f): Form<AddForm>) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let input = EmployerInput {
        code: f.code.clone(),
        name: f.name.clone(),
        size: f.size.clone(),
        risk_class: f.risk_class.clone(),
        region: f.region.clone(),
        registered_on: String::new(),
        contact_name: f.contact_name.clone(),
        contact_phone: f.contact_phone.clone(),
        contact_email: f.contact_email.clone(),
    };
    let lang = page.lang;
    let area = me.who.region;
    // A field that breaks a rule, or an NIB taken with other details: the form again, with
    // every message.
    // One path with the API and the CLI: checked, allowed, stored and audited.
    let emp =
        match cakupan_app::employers::add_employer(&st, &me.who, &page.request_id, &input).await {
            Ok((emp, _)) => emp,
            Err(cakupan_app::AppError::Invalid(errs)) => {
                let msgs = errs.iter().map(|x| lang.summary_line(x)).collect();
                return list_page(
                    &st,
                    &page,
                    area,
                    false,
                    ListCut::default(),
                    msgs,
                    f,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
            Err(cakupan_app::AppError::Forbidden(m)) => return Err(PageError::Forbidden(lang, m)),
            Err(e) => return Err(PageError::Internal(e.to_string())),
        };
    Ok(Redirect::to(&format!("/pemberi-kerja/{}", emp.code)).into_response())
}

struct InvoiceRow {
    month: String,
    month_value: String,
    payment_code: String,
    due_on: String,
    total: String,
    fees: String,
    paid: String,
    outstanding: String,
    state: &'static str,
    class: &'static str,
}

struct PaymentRow {
    reference: String,
    amount: String,
    paid_on: String,
    code: String,
}

struct WorkerRow {
    id: i64,
    kpj: String,
    nik: String,
    name: String,
    since: String,
}

#[derive(Template)]
#[template(path = "employer.html")]
struct AccountPage {
    t: &'static Tr,
    e: &'static Et,
    nav: Nav,
    code: String,
    name: String,
    facts: Vec<(&'static str, String)>,
    flash: Option<String>,
    in_arrears: bool,
    standing: Vec<(&'static str, String)>,
    invoices: Vec<InvoiceRow>,
    payments: Vec<PaymentRow>,
    workers: Vec<WorkerRow>,
    pager: super::Pager,
    may_report: bool,
    may_pay: bool,
    link_people: bool,
    csrf: String,
    month_value: String,
    today: String,
}

#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    ok: Option<String>,
    /// The page of the workers' list, from 1.
    hal: Option<usize>,
}

/// `/pemberi-kerja/{code}`: an employer's account.
pub async fn account(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Query(q): Query<AccountQuery>,
) -> Result<Response, PageError> {
    let emp = visible(&st, &page, &code, Action::ReadEmployer).await?;
    let me = page.require()?;
    let (lang, e) = (page.lang, words(page.lang));
    let today = (st.today)();
    let mut a = st
        .store
        .employer_account(&emp.code, today)
        .await?
        .ok_or(PageError::NotFound(lang))?;
    a.standing.accruing_fees = api::accruing_fees(&st, &a.invoices, today)
        .await
        .map_err(|x| page_err(&page, x))?;
    let workers = st.store.employer_workers(&emp.code).await?;
    page.audit(
        &st,
        "employer.read",
        format!("employer:{}", emp.code),
        "service",
    )
    .await?;
    let s = &a.standing;
    let mut facts = vec![
        (e.nib, emp.code.clone()),
        (e.size, size_name(e, emp.size).to_string()),
        (e.risk_class, emp.risk_class.to_string()),
        (
            page.t().region,
            format!("{} ({})", st.regions.path_label(emp.region), emp.region),
        ),
        (e.workers, a.workers.to_string()),
    ];
    if let Some(n) = &emp.contact.name {
        let mut c = n.clone();
        if let Some(p) = &emp.contact.phone {
            c.push_str(&format!(" · {}", crate::participants::mask_phone(p)));
        }
        if let Some(m) = &emp.contact.email {
            c.push_str(&format!(" · {m}"));
        }
        facts.push((e.contact_name, c));
    }
    let standing = vec![
        (e.billed, lang.rupiah(s.billed.0)),
        (e.paid, lang.rupiah(s.paid.0)),
        (e.outstanding, lang.rupiah(s.outstanding.0)),
        (e.overdue, lang.rupiah(s.overdue.0)),
        (e.credit, lang.rupiah(s.credit.0)),
        (e.unbilled_fees, lang.rupiah(s.unbilled_fees.0)),
        (e.accruing_fees, lang.rupiah(s.accruing_fees.0)),
    ];
    let invoices = a
        .invoices
        .iter()
        .map(|i| {
            let (state, class) = if i.outstanding.0 == 0 {
                (e.settled, "st-active")
            } else if i.overdue {
                (e.late, "st-nonactive")
            } else if i.paid.0 > 0 {
                (e.partly, "st-arrears")
            } else {
                (e.open, "st-pending")
            };
            InvoiceRow {
                month: lang.month(i.head.month),
                month_value: i.head.month.to_string(),
                payment_code: i.payment_code.clone(),
                due_on: format_date(i.head.due_on),
                total: lang.rupiah(i.head.total.0),
                fees: lang.rupiah(i.head.fees_carried.0),
                paid: lang.rupiah(i.paid.0),
                outstanding: lang.rupiah(i.outstanding.0),
                state,
                class,
            }
        })
        .collect();
    let payments = a
        .payments
        .iter()
        .rev()
        .map(|p| PaymentRow {
            reference: p.reference.clone(),
            amount: lang.rupiah(p.amount.0),
            paid_on: format_date(p.paid_on),
            code: p.payment_code.clone().unwrap_or_default(),
        })
        .collect();
    // The workers, 50 a page in the order they were enrolled (oldest first).
    let (workers, pager) = super::paginate(lang, workers, q.hal, |n| {
        format!("/pemberi-kerja/{}?hal={n}#wk-h", emp.code)
    });
    let workers = workers
        .into_iter()
        .map(|(emp, p)| WorkerRow {
            id: p.id,
            kpj: p.kpj,
            nik: p.registration.nik.masked(),
            name: p.registration.name,
            since: lang.month(emp.since),
        })
        .collect();
    let flash = match q.ok.as_deref() {
        Some("bayar") => Some(e.recorded.to_string()),
        Some("bayar-ulang") => Some(e.repeat_payment.to_string()),
        _ => None,
    };
    let may = |action| authorize(&me.who, action, &api::resource(&emp)).is_ok();
    let next = a
        .invoices
        .first()
        .map(|i| i.head.month.plus(1))
        .unwrap_or_else(|| Month::of(today).plus(-1))
        .min(Month::of(today));
    html(&AccountPage {
        t: page.t(),
        e,
        nav: page.nav(),
        code: emp.code.clone(),
        name: emp.name.clone(),
        facts,
        flash,
        in_arrears: s.in_arrears(),
        standing,
        invoices,
        payments,
        workers,
        pager,
        may_report: may(Action::ReportWages),
        may_pay: may(Action::ManageEmployers),
        link_people: me.who.role.can(Capability::ManagesRegion),
        csrf: me.csrf.clone(),
        month_value: next.to_string(),
        today: format_date(today),
    })
}

struct ProblemRow {
    line: String,
    field: String,
    message: String,
}

struct ChangeRow {
    line: String,
    change: &'static str,
    class: &'static str,
    nik: String,
    name: String,
    before: String,
    after: String,
    amount: String,
}

#[derive(Template)]
#[template(path = "wage_report.html")]
struct ReportPage {
    t: &'static Tr,
    e: &'static Et,
    nav: Nav,
    code: String,
    name: String,
    month: String,
    month_value: String,
    outcome: &'static str,
    outcome_class: &'static str,
    problems: Vec<ProblemRow>,
    warnings: Vec<ProblemRow>,
    changes: Vec<ChangeRow>,
    totals: Vec<(&'static str, String)>,
    invoice_code: Option<String>,
    /// Offer to submit what was checked (the same text, again).
    resubmit: Option<String>,
    confirm: bool,
    csrf: String,
}

/// A wage report's column (or the part of the report) a problem is about, in words.
fn column_name(e: &Et, field: &str) -> &'static str {
    match field {
        "nik" => e.nik,
        "name" => e.name,
        "birth_date" => e.col_birth_date,
        "sex" => e.col_sex,
        "village_code" => e.col_village,
        "occupation_code" => e.col_occupation,
        "basic_wage" => e.col_basic_wage,
        "fixed_allowances" => e.col_allowances,
        "programs" => e.col_programs,
        "action" => e.col_action,
        "month" => e.col_month,
        "file" => e.col_file,
        _ => e.col_row,
    }
}

fn problem_rows(lang: Lang, e: &Et, problems: &[LineProblem]) -> Vec<ProblemRow> {
    problems
        .iter()
        .map(|p| ProblemRow {
            line: if p.line == 0 {
                e.whole_report.to_string()
            } else {
                p.line.to_string()
            },
            field: column_name(e, &p.field).to_string(),
            message: lang.field_message(&p.field_error()),
        })
        .collect()
}

/// What the report form sends.
#[derive(Debug, Default)]
struct ReportForm {
    csrf: String,
    month: String,
    text: String,
    confirm: bool,
    submit: bool,
}

async fn read_form(mut m: Multipart) -> Result<ReportForm, String> {
    let mut f = ReportForm::default();
    let mut file = String::new();
    while let Some(field) = m.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or("").to_string();
        let value = field.text().await.map_err(|e| e.to_string())?;
        match name.as_str() {
            "csrf" => f.csrf = value,
            "month" => f.month = value,
            "file" => file = value,
            "text" => f.text = value,
            "confirm" => f.confirm = !value.is_empty(),
            "do" => f.submit = value == "submit",
            _ => {}
        }
    }
    if !file.trim().is_empty() {
        f.text = file;
    }
    Ok(f)
}

/// `POST /pemberi-kerja/{code}/laporan` (multipart): checks or submits a wage report.
pub async fn report_submit(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    form: Multipart,
) -> Result<Response, PageError> {
    let f = read_form(form)
        .await
        .map_err(|m| PageError::Internal(format!("the form could not be read: {m}")))?;
    let me = page.check_csrf(&f.csrf)?.clone();
    let emp = visible(&st, &page, &code, Action::ReportWages).await?;
    let (lang, e) = (page.lang, words(page.lang));
    let render = |outcome: Option<&ReportOutcome>,
                  problems: Vec<ProblemRow>,
                  month: String,
                  status: StatusCode| {
        let warnings = outcome
            .map(|o| problem_rows(lang, e, &o.plan.warnings))
            .unwrap_or_default();
        let (outcome_text, class, changes, totals, invoice_code, resubmit) = match outcome {
            None => (
                e.outcome_blocked,
                "errors",
                Vec::new(),
                Vec::new(),
                None,
                None,
            ),
            Some(o) => {
                let p = &o.plan;
                let (text, class) = if p.repeat_of.is_some() {
                    (e.outcome_repeat, "flash")
                } else if p.blocked {
                    (e.outcome_blocked, "errors")
                } else if !f.submit {
                    (e.outcome_previewed, "note")
                } else {
                    (e.outcome_billed, "flash")
                };
                let money = |v: Option<i64>| v.map(|x| lang.rupiah(x)).unwrap_or_default();
                let changes = p
                    .diff
                    .iter()
                    .map(|d| ChangeRow {
                        line: if d.line == 0 {
                            "–".into()
                        } else {
                            d.line.to_string()
                        },
                        change: change_name(e, d.change),
                        class: match d.change {
                            Change::New | Change::Rejoined => "st-active",
                            Change::Changed => "st-arrears",
                            Change::Unchanged => "st-pending",
                            Change::Stopped | Change::Missing => "st-nonactive",
                        },
                        nik: d.nik.clone(),
                        name: d.name.clone(),
                        before: match (&d.wage_before, &d.programs_before) {
                            (Some(w), Some(pr)) => format!("{} · {pr}", lang.rupiah(*w)),
                            _ => String::new(),
                        },
                        after: match (&d.wage_after, &d.programs_after) {
                            (Some(w), Some(pr)) => format!("{} · {pr}", lang.rupiah(*w)),
                            _ => String::new(),
                        },
                        amount: money(d.amount),
                    })
                    .collect();
                let totals = vec![
                    (e.workers, p.workers_billed.to_string()),
                    (e.contributions, lang.rupiah(p.contributions.0)),
                    (e.employer_share, lang.rupiah(p.employer_share.0)),
                    (e.worker_share, lang.rupiah(p.worker_share.0)),
                    (e.fees_carried, lang.rupiah(p.fees_carried.0)),
                    (e.total, lang.rupiah(p.total.0)),
                    (e.due_on, p.due_on.map(format_date).unwrap_or_default()),
                    (e.left_out, p.lines_left_out.to_string()),
                    (e.lines_paid, o.lines_paid.to_string()),
                ];
                // What was not written can be corrected and checked again, or sent.
                let written = f.submit && !p.blocked;
                let resubmit = (!written && p.repeat_of.is_none()).then(|| f.text.clone());
                (
                    text,
                    class,
                    changes,
                    totals,
                    o.invoice.as_ref().map(|i| i.payment_code.clone()),
                    resubmit,
                )
            }
        };
        html_status(
            status,
            &ReportPage {
                t: page.t(),
                e,
                nav: page.nav(),
                code: emp.code.clone(),
                name: emp.name.clone(),
                month: Month::parse(month.trim())
                    .map(|m| lang.month(m))
                    .unwrap_or(month.clone()),
                month_value: month,
                outcome: outcome_text,
                outcome_class: class,
                problems,
                warnings,
                changes,
                totals,
                invoice_code,
                resubmit,
                confirm: f.confirm,
                csrf: me.csrf.clone(),
            },
        )
    };
    let lines = match parse_csv(&f.text) {
        Ok(l) => l,
        Err(p) => {
            return render(
                None,
                problem_rows(lang, e, &[p]),
                f.month.clone(),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let out = match api::run_report(
        &st,
        &emp,
        &me.who.username,
        &f.month,
        &lines,
        !f.submit,
        f.confirm,
    )
    .await
    {
        Ok(o) => o,
        Err(ApiError::Invalid(errs)) => {
            let problems = errs
                .iter()
                .map(|x| ProblemRow {
                    line: e.whole_report.into(),
                    field: column_name(e, &x.field).to_string(),
                    message: lang.field_message(x),
                })
                .collect();
            return render(
                None,
                problems,
                f.month.clone(),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(x) => return Err(page_err(&page, x)),
    };
    let written = f.submit && !out.plan.blocked && out.plan.repeat_of.is_none();
    page.audit(
        &st,
        if written {
            "wage_report.submit"
        } else {
            "wage_report.check"
        },
        format!("employer:{}", emp.code),
        "contribution",
    )
    .await?;
    let (status, _) = report_body(&out, !f.submit);
    render(
        Some(&out),
        problem_rows(lang, e, &out.plan.problems),
        out.plan.month.to_string(),
        status,
    )
}

struct LineRow {
    kpj: String,
    nik: String,
    name: String,
    person: Option<i64>,
    wage: String,
    programs: String,
    amount: String,
    employer_share: String,
    worker_share: String,
    paid_on: String,
    late_fee: String,
}

#[derive(Template)]
#[template(path = "invoice.html")]
struct InvoicePage {
    t: &'static Tr,
    e: &'static Et,
    nav: Nav,
    code: String,
    name: String,
    month: String,
    facts: Vec<(&'static str, String)>,
    lines: Vec<LineRow>,
    jkp: Vec<(String, String)>,
    provisional: Option<String>,
}

/// `/pemberi-kerja/{code}/tagihan/{month}`: an invoice and its lines.
pub async fn invoice(
    State(st): St,
    page: Page,
    Path((code, month)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let emp = visible(&st, &page, &code, Action::ReadEmployer).await?;
    let me = page.require()?;
    let (lang, e) = (page.lang, words(page.lang));
    let month = Month::parse(month.trim()).map_err(|_| PageError::NotFound(lang))?;
    let (inv, people) = st
        .store
        .employer_invoice(&emp.code, month)
        .await?
        .ok_or(PageError::NotFound(lang))?;
    let acct = st
        .store
        .employer_account(&emp.code, (st.today)())
        .await?
        .ok_or(PageError::NotFound(lang))?;
    let state = acct
        .invoices
        .iter()
        .find(|i| i.head.id == inv.id)
        .ok_or(PageError::NotFound(lang))?;
    page.audit(
        &st,
        "invoice.read",
        format!("employer:{}", emp.code),
        "contribution",
    )
    .await?;
    let link = me.who.role.can(Capability::ManagesRegion);
    let person = |pid: i64| people.iter().find(|p| p.id == pid);
    let lines = inv
        .lines
        .iter()
        .map(|l| {
            let p = person(l.participant_id);
            LineRow {
                kpj: p.map(|p| p.kpj.clone()).unwrap_or_default(),
                nik: p.map(|p| p.registration.nik.masked()).unwrap_or_default(),
                name: p.map(|p| p.registration.name.clone()).unwrap_or_default(),
                person: link.then_some(l.participant_id),
                wage: lang.rupiah(l.wage.0),
                programs: l.programmes.to_string(),
                amount: lang.rupiah(l.amount.0),
                employer_share: lang.rupiah(l.employer_share.0),
                worker_share: lang.rupiah(l.worker_share.0),
                paid_on: l.paid_on.map(format_date).unwrap_or_else(|| "–".into()),
                late_fee: lang.rupiah(l.late_fee.0),
            }
        })
        .collect();
    let mut facts = vec![(e.payment_code, state.payment_code.clone())];
    if let Some(va) = cakupan_app::payments::invoice_code(&st, inv.id) {
        facts.push((page.t().payment_code, va.digits()));
    }
    facts.extend([
        (e.due_on, format_date(state.head.due_on)),
        (e.risk_class, inv.risk_class.to_string()),
        (e.total, lang.rupiah(state.head.total.0)),
        (e.fees_carried, lang.rupiah(state.head.fees_carried.0)),
        (e.paid, lang.rupiah(state.paid.0)),
        (e.outstanding, lang.rupiah(state.outstanding.0)),
    ]);
    html(&InvoicePage {
        t: page.t(),
        e,
        nav: page.nav(),
        code: emp.code.clone(),
        name: emp.name.clone(),
        month: lang.month(month),
        facts,
        lines,
        jkp: api::jkp_accounting(&st, &inv, &people)
            .into_iter()
            .map(|(l, a, _)| (allocation_words(e, &l).to_string(), lang.rupiah(a.0)))
            .collect(),
        provisional: api::provisional_jp(&st, &inv)
            .map(|c| format!("{} {}", e.provisional_jp, lang.rupiah(c.0))),
    })
}

/// The employers of a list as CSV: every row the filter kept (the reader's area only), one
/// line each, in the list's order.
fn employers_csv(list: &[cakupan_store::employers::EmployerSummary]) -> Response {
    let mut out = String::from(
        "nib,name,size,risk_class,region,workers,last_reported,billed,paid,outstanding,overdue,oldest_overdue\n",
    );
    for s in list {
        let e = &s.employer;
        out.push_str(&format!(
            "{},\"{}\",{},{},{},{},{},{},{},{},{},{}\n",
            e.code,
            e.name.replace('"', "\"\""),
            e.size.as_str(),
            e.risk_class,
            e.region,
            s.workers,
            s.last_month.map(|m| m.to_string()).unwrap_or_default(),
            s.standing.billed.0,
            s.standing.paid.0,
            s.standing.outstanding.0,
            s.standing.overdue.0,
            s.standing
                .oldest_overdue
                .map(|m| m.to_string())
                .unwrap_or_default(),
        ));
    }
    super::csv_response("pemberi-kerja.csv", out)
}

/// `/pemberi-kerja/{code}/contoh-laporan.csv`: next month's wage report to fill in, one line per
/// worker employed now (action `continue`), with the wage of the latest invoice that billed
/// them (as the basic wage: the split between basic wage and fixed allowances is not kept).
/// Only for those who may report the employer's wages; the read is audited.
pub async fn report_template(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let emp = visible(&st, &page, &code, Action::ReportWages).await?;
    let workers = st.store.employer_workers(&emp.code).await?;
    let last = st
        .store
        .employer_account(&emp.code, (st.today)())
        .await?
        .and_then(|a| a.invoices.first().map(|i| i.head.month));
    let mut wages = std::collections::HashMap::new();
    if let Some(m) = last
        && let Some((inv, _)) = st.store.employer_invoice(&emp.code, m).await?
    {
        for l in inv.lines {
            wages.insert(l.participant_id, (l.wage.0, l.programmes.to_string()));
        }
    }
    page.audit_many(
        &st,
        "participant.read",
        workers
            .iter()
            .map(|(_, p)| format!("participant:{}", p.id))
            .collect(),
        "wage report template",
    )
    .await?;
    let mut out = cakupan_domain::employers::WAGE_FIELDS.join(",");
    out.push('\n');
    for (_, p) in &workers {
        let r = &p.registration;
        let (wage, programmes) = wages
            .get(&p.id)
            .cloned()
            .unwrap_or_else(|| (r.income_base.0, r.programmes.to_string()));
        out.push_str(&format!(
            "{},\"{}\",{},{},{},{},{wage},0,{programmes},continue\n",
            r.nik,
            r.name.replace('"', "\"\""),
            format_date(r.birth_date),
            r.sex.as_str(),
            r.village,
            r.occupation_code,
        ));
    }
    Ok(super::csv_response(
        &format!("laporan-upah-{}.csv", emp.code),
        out,
    ))
}

/// The JKP accounting's lines (`quote::jkp_allocations`) in the reader's words.
fn allocation_words<'a>(e: &'static Et, label: &'a str) -> &'a str {
    match label {
        "JKK retained (JKK paid less the JKP share)" => e.jkk_retained,
        "JKM retained (JKM paid less the JKP share)" => e.jkm_retained,
        "JKP from the employer's JKK" => e.jkp_from_jkk,
        "JKP from the employer's JKM" => e.jkp_from_jkm,
        "JKP receivable from the central government" => e.jkp_government,
        other => other,
    }
}

#[derive(Debug, Deserialize)]
pub struct PayForm {
    csrf: String,
    reference: String,
    amount: String,
    paid_on: String,
    #[serde(default)]
    payment_code: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct PayErrorPage {
    t: &'static Tr,
    nav: Nav,
    message: String,
}

/// `POST /pemberi-kerja/{code}/bayar`: the branch records a payment.
pub async fn pay(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Form(f): Form<PayForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let emp = visible(&st, &page, &code, Action::ManageEmployers).await?;
    let lang = page.lang;
    // Written as people write amounts ("1.000.000", "Rp 1.000.000,00"); anything else is
    // refused by the payment rules as an amount that is not a positive whole number.
    let amount = cakupan_domain::Rupiah::parse(&f.amount).map_or(0, |r| r.0);
    match api::record_payment(
        &st,
        &emp,
        &me.who.username,
        &f.reference,
        amount,
        &f.paid_on,
        Some(f.payment_code.as_str()),
    )
    .await
    {
        Ok((out, _)) => {
            page.audit(
                &st,
                "employer.payment",
                format!("employer:{}", emp.code),
                "contribution",
            )
            .await?;
            let ok = if out.repeat { "bayar-ulang" } else { "bayar" };
            Ok(Redirect::to(&format!("/pemberi-kerja/{}?ok={ok}", emp.code)).into_response())
        }
        Err(ApiError::Invalid(errs)) => html_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PayErrorPage {
                t: page.t(),
                nav: page.nav(),
                message: errs
                    .iter()
                    .map(|x| lang.summary_line(x))
                    .collect::<Vec<_>>()
                    .join("; "),
            },
        ),
        Err(x) => Err(page_err(&page, x)),
    }
}
