//! The pages' two languages: Bahasa Indonesia first, English second. Every word a page shows
//! comes from [`Tr`]; numbers, money, percentages and months are written the way each
//! language writes them (`1.234.567` and `52,3%` in Indonesian, `1,234,567` and `52.3%` in
//! English). Field errors keep their rule code, with the message in the reader's language.

use cakupan_domain::{FieldError, Month};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Id,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim() {
            "id" => Some(Lang::Id),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Id => Lang::En,
            Lang::En => Lang::Id,
        }
    }

    pub fn tr(self) -> &'static Tr {
        match self {
            Lang::Id => &ID,
            Lang::En => &EN,
        }
    }

    /// `1234567` → `1.234.567` (id) or `1,234,567` (en).
    pub fn num(self, v: i64) -> String {
        let sep = match self {
            Lang::Id => '.',
            Lang::En => ',',
        };
        let digits = v.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        if v < 0 {
            out.push('−');
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(sep);
            }
            out.push(c);
        }
        out
    }

    /// A signed change: `+1.234` / `−56`.
    pub fn signed(self, v: i64) -> String {
        if v > 0 {
            format!("+{}", self.num(v))
        } else {
            self.num(v)
        }
    }

    /// Rupiah: `Rp16.800` (id) or `Rp16,800` (en).
    pub fn rupiah(self, v: i64) -> String {
        format!("Rp{}", self.num(v))
    }

    /// A share as a percentage: one decimal (`52,3%` / `52.3%`), more for shares under 0.1%
    /// so that a small share does not read as nothing (`0,0025%`).
    pub fn pct(self, share: f64) -> String {
        let p = share * 100.0;
        let s = if p != 0.0 && p.abs() < 0.1 {
            let decimals = (-(p.abs().log10().floor()) as usize + 1).min(6);
            format!("{p:.decimals$}%")
        } else {
            format!("{p:.1}%")
        };
        match self {
            Lang::Id => s.replace('.', ","),
            Lang::En => s,
        }
    }

    /// A large count in millions with two decimals: `41,56 juta` / `41.56 million`.
    pub fn millions(self, v: f64) -> String {
        let s = format!("{:.2}", v / 1e6);
        match self {
            Lang::Id => format!("{} juta", s.replace('.', ",")),
            Lang::En => format!("{s} million"),
        }
    }

    /// `15 Des 2026` / `15 Dec 2026`.
    pub fn date(self, d: time::Date) -> String {
        format!("{} {}", d.day(), self.month(Month::of(d)))
    }

    /// `Nov 2026` / `Nov 2026` with the language's month names.
    pub fn month(self, m: Month) -> String {
        let names = match self {
            Lang::Id => [
                "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
            ],
            Lang::En => [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ],
        };
        let i = usize::from(m.month()).saturating_sub(1).min(11);
        format!("{} {}", names[i], m.year())
    }

    /// A field error's message in this language (English keeps the rule's own message; the
    /// Indonesian text is chosen by rule code, with the English detail when it carries figures
    /// such as an expected amount).
    pub fn field_message(self, e: &FieldError) -> String {
        if self == Lang::En {
            return e.message.clone();
        }
        let id = match e.rule {
            "required" => "wajib diisi",
            "nik.length" => "NIK harus tepat 16 digit",
            "nik.digits" => "NIK hanya boleh berisi angka",
            "nik.birth_day" => {
                "tanggal lahir dalam NIK harus 01–31 (laki-laki) atau 41–71 (perempuan)"
            }
            "nik.birth_month" => "bulan lahir dalam NIK harus 01–12",
            "nik.serial" => "nomor urut NIK tidak boleh 0000",
            "nik.province_unknown" => {
                "kode provinsi NIK tidak ada dalam daftar Kemendagri (ditandai untuk diperiksa)"
            }
            "nik.date_impossible" => {
                "tanggal dalam NIK bukan tanggal yang ada (ditandai untuk diperiksa)"
            }
            "nik.birth_date_mismatch" => {
                "tanggal lahir dalam NIK berbeda dengan tanggal lahir yang diisi (ditandai untuk diperiksa)"
            }
            "nik.sex_mismatch" => {
                "jenis kelamin dalam NIK berbeda dengan yang diisi (ditandai untuk diperiksa)"
            }
            "nik.not_registered" => "NIK ini belum terdaftar pada segmen ini",
            "nik.one_per_segment" => "NIK ini sudah terdaftar pada segmen ini dengan data lain",
            "nik.registered_elsewhere" => {
                "NIK ini sudah terdaftar pada segmen ini di luar wilayah Anda: arahkan ke kantor cabang domisili peserta"
            }
            "name.length" => "nama paling banyak 100 karakter",
            "name.characters" => "nama seperti di KTP: huruf, spasi dan . , ' - saja",
            "text.length" => "terlalu panjang",
            "text.characters" => "hanya huruf, angka, spasi dan . , ' - / ( ) # : &",
            "date.format" => "tanggal harus benar, ditulis TTTT-BB-HH",
            "birth_date.future" => "tanggal lahir harus sebelum tanggal pendaftaran",
            "registered_on.future" => "tanggal pendaftaran tidak boleh setelah hari ini",
            "password.length" => "kata sandi terlalu pendek",
            "password.repetitive" => "kata sandi memakai terlalu sedikit karakter yang berbeda",
            "password.sequence" => "kata sandi berupa urutan papan ketik atau abjad",
            "password.username" => "kata sandi tidak boleh berisi nama pengguna",
            "password.common" => "kata sandi ini termasuk yang paling umum ditebak",
            "password.current" => "kata sandi sekarang salah",
            "password.same" => "kata sandi baru harus berbeda dari yang sekarang",
            "password.mismatch" => "kedua kata sandi baru tidak sama",
            "registered_on.before_scheme" => {
                "tanggal pendaftaran sebelum segmen ini menerima peserta"
            }
            "age.range" => "usia saat mendaftar di luar batas yang berlaku",
            "sex.value" => "pilih L (laki-laki) atau P (perempuan)",
            "phone.format" => "nomor HP: 08…, 628… atau +628…, 9–12 digit setelah awalan",
            "village_code.format" => "kode desa ditulis NN.NN.NN.NNNN",
            "village_code.level" => "pilih sampai tingkat desa/kelurahan",
            "village_code.unknown" => "desa/kelurahan tidak ada dalam daftar Kemendagri",
            "segment.value" => "segmen harus BPU atau PU",
            "occupation_code.unknown" => "pekerjaan tidak ada dalam daftar",
            "income_base.integer" => "penghasilan ditulis sebagai angka rupiah bulat",
            "income_base.bracket" => "pilih salah satu dasar penghasilan dalam tabel BPU",
            "income_base.positive" => "upah harus lebih dari nol",
            "income_base.no_table" => "tidak ada tabel dasar penghasilan untuk bulan ini",
            "programs.format" => "program ditulis seperti JKK+JKM",
            "programs.required" => "program wajib belum lengkap (JKK+JKM)",
            "programs.not_allowed" => "program ini tidak tersedia untuk segmen ini",
            "channel.value" => "saluran pendaftaran tidak dikenal",
            "agent_code.required" => "kode agen Perisai wajib diisi untuk saluran Perisai",
            "agent_code.format" => "kode agen: paling banyak 32 huruf, angka, - atau _",
            "agent_code.only_perisai" => "kode agen hanya untuk saluran Perisai",
            "heir.relationship" => "hubungan: suami/istri, anak, orang tua, saudara atau lainnya",
            "month.format" => "bulan ditulis TTTT-BB",
            "months.period" => {
                "jumlah bulan harus salah satu periode yang diizinkan (1, 3, 6 atau 12)"
            }
            "months.positive" => "jumlah bulan harus lebih dari nol",
            "first_month.before_registration" => {
                "bulan pertama tidak boleh sebelum bulan pendaftaran"
            }
            "month.before_registration" => "bulan tidak boleh sebelum bulan pendaftaran",
            "amount.dues" => "jumlah tidak sama dengan iuran bulan-bulan tersebut",
            "amount.positive" => "jumlah harus bilangan bulat rupiah lebih dari nol",
            "paid_on.future" => "tanggal bayar tidak boleh setelah hari ini",
            "participation.terminated" => "kepesertaan ini sudah berakhir",
            "reference.format" => "nomor referensi tidak sah",
            "reference.reused" => "nomor referensi sudah dipakai untuk pembayaran lain",
            "reference.nik_like" => {
                "nomor referensi tidak boleh memuat angka 16 digit atau lebih (seperti NIK): referensi disimpan tanpa enkripsi"
            }
            "csrf" => "formulir kedaluwarsa: muat ulang halaman dan coba lagi",
            "deposit.above_held" => "setoran melebihi uang pungutan yang dipegang agen",
            "agent.not_active" => "agen tidak aktif pada bulan itu",
            "agent.outside_villages" => "desa ini bukan wilayah layanan agen",
            "agent.unknown" => "kode agen tidak terdaftar",
            "agent.cooling" => "agen baru dapat diaktifkan kembali setelah masa tunggu",
            "collection.outside_scope" => {
                "agen hanya memungut dari peserta yang ia daftarkan di desanya"
            }
            "channel.collection" => "pungutan agen melalui saluran perisai",
            "code.taken" => "kode sudah dipakai dengan data lain",
            "office.unknown" => "kantor Perisai tidak terdaftar",
            "nib.format" => "NIB (Nomor Induk Berusaha) terdiri dari 13 angka",
            "size.value" => "skala usaha: micro, small, medium atau large",
            "risk_class.value" => "kelas risiko JKK 1 (sangat rendah) sampai 5 (sangat tinggi)",
            "region.level" => "pilih desa/kelurahan alamat usaha",
            "region.unknown" => "wilayah tidak ada dalam daftar Kemendagri",
            "email.format" => "alamat e-mail tidak sah",
            "employer.unknown" => "tidak ada pemberi kerja dengan NIB ini",
            "csv.header" => "baris pertama harus berisi nama kolom laporan upah",
            "csv.format" => "berkas bukan CSV yang sah",
            "csv.columns" => "jumlah kolom baris ini salah",
            "action.value" => "action: enrol, continue atau stop",
            "wage.required" => "upah wajib diisi",
            "wage.negative" => "upah tidak boleh negatif",
            "wage.integer" => "upah ditulis sebagai angka rupiah bulat",
            "wage.positive" => "upah (gaji pokok + tunjangan tetap) harus lebih dari nol",
            "wage.duplicate" => "pekerja ini sudah ada di baris lain",
            "wage.unknown_worker" => "NIK ini tidak terdaftar sebagai pekerja pemberi kerja ini",
            "wage.already_enrolled" => "pekerja ini sudah terdaftar: gunakan action continue",
            "wage.employed_elsewhere" => {
                "pekerja ini masih terdaftar di pemberi kerja lain yang belum melaporkannya berhenti"
            }
            "wage.registered_later" => "pekerja ini terdaftar setelah bulan laporan",
            "wage.missing" => {
                "pekerja terdaftar ini tidak ada di laporan: laporkan continue atau stop"
            }
            "programs.size_required" => "program wajib untuk skala usaha ini belum lengkap",
            "month.future" => "bulan laporan belum dimulai",
            "month.already_reported" => "bulan ini sudah dilaporkan",
            "month.order" => "laporan harus maju bulan demi bulan",
            "report.empty" => "laporan tidak berisi baris",
            "report.too_long" => "laporan terlalu panjang: pecah menjadi beberapa berkas",
            "paid_on.order" => "tanggal bayar sebelum pembayaran terakhir yang tercatat",
            "payment_code.format" => "kode iuran terdiri dari 11 angka",
            "payment_code.unknown" => "kode iuran ini bukan tagihan pemberi kerja ini",
            "pu.basis_required" => "iuran PU dibayar melalui tagihan pemberi kerja",
            "session.not_in_campaign" => "desa ini tidak termasuk dalam kampanye ini",
            "session.not_coordinated" => {
                "desa ini belum disetujui perangkat desa: catat koordinasinya dahulu"
            }
            "session.attendance_implausible" => {
                "jumlah hadir melebihi yang masuk akal untuk desa ini"
            }
            "session.attendance_empty" => "sosialisasi dihadiri paling sedikit satu orang",
            "session.audience" => "kelompok peserta tidak dikenal",
            "session.held_on" => "tanggal sosialisasi di luar gelombang atau setelah hari ini",
            "session.reference_taken" => {
                "sosialisasi ini sudah tercatat dengan isi lain: tidak dihitung dua kali"
            }
            "session.place" => "tempat sosialisasi wajib diisi",
            "campaign.already_coordinated" => "desa ini sudah disetujui oleh pejabat lain",
            "campaign.stage_order" => {
                "tahap desa hanya maju: direncanakan → dikoordinasikan → disurvei → dilaksanakan → ditindaklanjuti"
            }
            "campaign.already_held" => "sosialisasi sudah dilaksanakan: minggunya tidak diubah",
            "campaign.week" => "minggu di luar gelombang",
            "campaign.agent" => "agen ini tidak aktif atau tidak melayani desa ini",
            "coordination.required" => "nama wajib diisi",
            "survey.unit_answered" => {
                "responden ini sudah menjawab dengan isi lain: setiap orang dihitung sekali"
            }
            "survey.duplicate_upload" => "berkas ini sudah pernah diunggah: tidak dihitung lagi",
            "survey.unit" => "nomor responden tidak ada dalam sampel survei ini",
            "survey.yes_no" => "jawaban: ya atau tidak",
            "survey.number" => "jawaban berupa angka bulat dalam rentang yang ditentukan",
            "survey.choice" => "jawaban harus salah satu pilihan",
            "questionnaire.retired" => {
                "versi kuesioner ini sudah tidak dipakai: jawaban tidak diterima lagi"
            }
            _ => return format!("{} ({})", e.message, e.rule),
        };
        match e.rule {
            // The English message carries the figures (expected amount and its breakdown).
            "amount.dues"
            | "age.range"
            | "nik.one_per_segment"
            | "deposit.above_held"
            | "agent.not_active"
            | "agent.cooling"
            | "wage.missing"
            | "wage.employed_elsewhere"
            | "month.already_reported"
            | "month.order"
            | "paid_on.order" => {
                format!("{id} — {}", e.message)
            }
            _ => id.to_string(),
        }
    }
}

/// A channel's name in the reader's language.
pub fn channel_name(lang: Lang, code: &str) -> String {
    let name = match (lang, code) {
        (Lang::Id, "self") => "mandiri (peserta sendiri)",
        (Lang::Id, "perisai") => "agen Perisai",
        (Lang::Id, "employer") => "pemberi kerja",
        (Lang::Id, "branch") => "kantor cabang",
        (Lang::Id, "bank") => "bank",
        (Lang::Id, "aggregator") => "agregator pembayaran",
        (Lang::Id, "autodebit") => "autodebet",
        (Lang::En, "self") => "self (the participant)",
        (Lang::En, "perisai") => "Perisai agent",
        (Lang::En, "employer") => "employer",
        (Lang::En, "branch") => "branch office",
        (Lang::En, "bank") => "bank",
        (Lang::En, "aggregator") => "payment aggregator",
        (Lang::En, "autodebit") => "autodebit",
        _ => code,
    };
    name.to_string()
}

/// Every word of the pages, in one language.
#[derive(Debug)]
pub struct Tr {
    pub lang: &'static str,
    pub other_lang_name: &'static str,
    pub skip: &'static str,
    pub nav_label: &'static str,
    pub nav_dashboard: &'static str,
    pub nav_participants: &'static str,
    pub nav_register: &'static str,
    pub nav_mine: &'static str,
    pub nav_my_village: &'static str,
    pub nav_about: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub wrong_password: &'static str,
    pub too_many_attempts: &'static str,
    /// The server turns sign-ins away for a moment (the hashing budget is spent).
    pub sign_in_busy: &'static str,
    pub nav_password: &'static str,
    pub password_title: &'static str,
    pub password_forced: &'static str,
    pub password_done: &'static str,
    pub password_hint: &'static str,
    pub password_current: &'static str,
    pub password_new: &'static str,
    pub password_again: &'static str,
    pub password_submit: &'static str,
    /// "Try again in {n} minute(s)" after a lockout.
    pub try_again_minutes: &'static str,
    pub footer: &'static str,
    pub breadcrumb: &'static str,
    pub nation: &'static str,
    pub national: &'static str,
    pub chart_target_off_scale: &'static str,
    pub as_of: &'static str,
    pub active_participants: &'static str,
    pub active_hint: &'static str,
    pub paid_active: &'static str,
    pub paid_hint: &'static str,
    pub registered: &'static str,
    pub nonactive: &'static str,
    pub target: &'static str,
    pub target_of: &'static str,
    pub no_target: &'static str,
    pub required_growth: &'static str,
    pub per_month: &'static str,
    pub run_rate: &'static str,
    pub projection: &'static str,
    pub met_in: &'static str,
    pub never_met: &'static str,
    pub already_met: &'static str,
    pub target_basis: &'static str,
    pub target_source: &'static str,
    pub basis_stated: &'static str,
    pub basis_employed: &'static str,
    pub basis_population: &'static str,
    pub basis_villages: &'static str,
    pub basis_actual: &'static str,
    pub target_gross: &'static str,
    pub target_net_of: &'static str,
    pub segment_jakon: &'static str,
    pub segment_pmi: &'static str,
    pub allocate_down: &'static str,
    pub allocate_hint: &'static str,
    pub allocated: &'static str,
    pub employed_share: &'static str,
    pub employed_note: &'static str,
    pub no_employed: &'static str,
    pub segments: &'static str,
    pub pu: &'static str,
    pub bpu: &'static str,
    pub yoy: &'static str,
    pub yoy_none: &'static str,
    pub chart_title: &'static str,
    pub chart_target: &'static str,
    pub chart_projection: &'static str,
    pub chart_data: &'static str,
    pub month: &'static str,
    pub flows_title: &'static str,
    pub lapsed_unpaid: &'static str,
    pub lapsed_left_employment: &'static str,
    pub new: &'static str,
    pub lapsed: &'static str,
    pub reactivated: &'static str,
    pub collected: &'static str,
    pub map_title_nation: &'static str,
    pub map_title_province: &'static str,
    pub map_legend_employed: &'static str,
    pub map_legend_active: &'static str,
    pub map_no_data: &'static str,
    pub map_source: &'static str,
    pub children_title: &'static str,
    pub region: &'static str,
    pub active_share: &'static str,
    pub target_share: &'static str,
    pub download_csv: &'static str,
    pub sort_by: &'static str,
    pub withheld: &'static str,
    pub withheld_note: &'static str,
    pub level_province: &'static str,
    pub level_regency: &'static str,
    pub level_district: &'static str,
    pub level_village: &'static str,
    pub no_children: &'static str,
    pub search_title: &'static str,
    pub search_label: &'static str,
    pub search_hint: &'static str,
    pub search_button: &'static str,
    pub search_none: &'static str,
    pub kpj: &'static str,
    pub nik: &'static str,
    pub name: &'static str,
    pub birth_date: &'static str,
    pub sex: &'static str,
    pub sex_l: &'static str,
    pub sex_p: &'static str,
    pub phone: &'static str,
    pub address: &'static str,
    pub budget_funded: &'static str,
    pub budget_funded_hint: &'static str,
    pub yes: &'static str,
    pub domicile: &'static str,
    pub province: &'static str,
    pub regency: &'static str,
    pub district: &'static str,
    pub village: &'static str,
    pub choose: &'static str,
    pub segment: &'static str,
    pub occupation: &'static str,
    pub sector: &'static str,
    pub income_base: &'static str,
    pub wage: &'static str,
    pub programmes: &'static str,
    pub registered_on: &'static str,
    pub channel: &'static str,
    pub agent_code: &'static str,
    pub heir: &'static str,
    pub heir_name: &'static str,
    pub relationship: &'static str,
    pub optional: &'static str,
    pub register_title: &'static str,
    pub register_intro: &'static str,
    pub register_button: &'static str,
    pub registered_ok: &'static str,
    pub already_registered: &'static str,
    pub warnings: &'static str,
    pub form_errors: &'static str,
    pub profile_title: &'static str,
    pub coverage_title: &'static str,
    pub status: &'static str,
    pub reason: &'static str,
    pub payments_title: &'static str,
    pub no_payments: &'static str,
    pub reference: &'static str,
    pub first_month: &'static str,
    pub months: &'static str,
    pub amount: &'static str,
    pub paid_on: &'static str,
    pub kind: &'static str,
    pub record_payment: &'static str,
    pub pay_title: &'static str,
    pub pay_due: &'static str,
    pub pay_button: &'static str,
    pub paid_ok: &'static str,
    pub paid_existing: &'static str,
    pub pay_explain: &'static str,
    pub pay_changed: &'static str,
    pub mine_title: &'static str,
    pub consents_title: &'static str,
    pub corrections_title: &'static str,
    pub none: &'static str,
    pub about_title: &'static str,
    pub about_text: &'static str,
    pub licences: &'static str,
    pub error_title: &'static str,
    pub not_found: &'static str,
    pub forbidden: &'static str,
    pub back_home: &'static str,
    pub landing_intro: &'static str,
    pub status_active_s: &'static str,
    pub status_in_arrears: &'static str,
    pub status_nonactive: &'static str,
    pub status_pending: &'static str,
    pub status_terminated: &'static str,
    pub reason_paid_by: &'static str,
    pub reason_unpaid: &'static str,
    pub reason_overdue: &'static str,
    pub reason_unpaid_earlier: &'static str,
    pub status_not_yet_due: &'static str,
    pub reason_due_on: &'static str,
    pub reason_never_paid: &'static str,
    pub reason_terminated: &'static str,
    pub reason_employment_ended: &'static str,
    pub nav_agents: &'static str,
    pub nav_my_work: &'static str,
    pub nav_employers: &'static str,
    pub nav_campaign: &'static str,
    pub nav_my_employer: &'static str,
    pub employer_label: &'static str,
    pub employer_in_arrears: &'static str,
    pub agents_title: &'static str,
    pub offices_title: &'static str,
    pub agent_code_h: &'static str,
    pub office: &'static str,
    pub home_village: &'static str,
    pub villages_served: &'static str,
    pub appointed: &'static str,
    pub agent_status: &'static str,
    pub agent_active: &'static str,
    pub agent_inactive: &'static str,
    pub agent_terminated: &'static str,
    pub new_participants: &'static str,
    pub collections_h: &'static str,
    pub cash_held: &'static str,
    pub cash_collected: &'static str,
    pub cash_deposited: &'static str,
    pub cash_oldest: &'static str,
    pub cash_alert: &'static str,
    pub deposit_title: &'static str,
    pub deposit_reference: &'static str,
    pub deposit_on: &'static str,
    pub deposit_button: &'static str,
    pub deposited_ok: &'static str,
    pub not_deposited: &'static str,
    pub receipt: &'static str,
    pub statement_title: &'static str,
    pub office_target_title: &'static str,
    pub office_target_h: &'static str,
    pub office_new_h: &'static str,
    pub office_no_target: &'static str,
    pub office_ended: &'static str,
    pub office_in_agreement: &'static str,
    pub office_months_below: &'static str,
    pub office_record_end: &'static str,
    pub office_target_from: &'static str,
    pub office_target_save: &'static str,
    pub office_target_saved: &'static str,
    pub office_reviewed: &'static str,
    pub statement_month: &'static str,
    pub fee_base: &'static str,
    pub fee_rate: &'static str,
    pub contribution_fee: &'static str,
    pub clawback: &'static str,
    pub incentive: &'static str,
    pub threshold: &'static str,
    pub total: &'static str,
    pub agent_share: &'static str,
    pub office_share: &'static str,
    pub scheme: &'static str,
    pub worklist_title: &'static str,
    pub due_this_month: &'static str,
    pub in_arrears_list: &'static str,
    pub paid_through: &'static str,
    pub months_unpaid: &'static str,
    pub villages_uncovered: &'static str,
    pub uncovered: &'static str,
    pub uncovered_note: &'static str,
    pub standing_title: &'static str,
    pub receipt_title: &'static str,
    pub receipt_number: &'static str,
    pub receipt_amount: &'static str,
    pub receipt_check: &'static str,
    pub receipt_valid: &'static str,
    pub receipt_reversed: &'static str,
    pub receipt_unknown: &'static str,
    pub receipt_deposited: &'static str,
    pub receipt_held: &'static str,
    pub receipt_deposit_h: &'static str,
    pub receipt_too_many: &'static str,
    pub none_yet: &'static str,
}

pub static ID: Tr = Tr {
    lang: "id",
    other_lang_name: "English",
    skip: "Lewati ke isi",
    nav_label: "Menu utama",
    nav_dashboard: "Dasbor",
    nav_participants: "Cari peserta",
    nav_register: "Daftarkan peserta",
    nav_mine: "Data saya",
    nav_my_village: "Desa saya",
    nav_about: "Tentang",
    sign_in: "Masuk",
    sign_out: "Keluar",
    signed_in_as: "Masuk sebagai",
    username: "Nama pengguna",
    password: "Kata sandi",
    wrong_password: "Nama pengguna atau kata sandi salah.",
    too_many_attempts: "Terlalu banyak percobaan gagal.",
    sign_in_busy: "Server sedang memeriksa banyak permintaan masuk. Coba lagi sebentar lagi.",
    nav_password: "Kata sandi",
    password_title: "Ganti kata sandi",
    password_forced: "Kata sandi Anda diatur ulang oleh administrator. Gantilah sebelum melanjutkan.",
    password_done: "Kata sandi sudah diganti. Sesi lain akun ini sudah diakhiri.",
    password_hint: "Pakai beberapa kata yang tidak berhubungan, paling sedikit {n} karakter. Kata sandi yang umum atau berisi nama pengguna ditolak.",
    password_current: "Kata sandi sekarang",
    password_new: "Kata sandi baru",
    password_again: "Ulangi kata sandi baru",
    password_submit: "Ganti kata sandi",
    try_again_minutes: "Coba lagi dalam {n} menit.",
    footer: "Cakupan — registri peserta jaminan sosial ketenagakerjaan.",
    breadcrumb: "Jejak wilayah",
    nation: "Indonesia",
    national: "Nasional",
    chart_target_off_scale: "Lintasan target tidak digambar: nilainya jauh di atas skala grafik (lihat angka target di atas).",
    as_of: "Keadaan",
    active_participants: "Peserta aktif",
    active_hint: "sudah membayar bulan ini, atau menunggak tetapi belum nonaktif",
    paid_active: "Membayar bulan ini",
    paid_hint: "iuran bulan ini sudah diterima",
    registered: "Terdaftar",
    nonactive: "Nonaktif",
    target: "Target",
    target_of: "Target peserta aktif",
    no_target: "Belum ada target untuk wilayah ini.",
    required_growth: "Pertumbuhan bersih yang diperlukan",
    per_month: "per bulan",
    run_rate: "Laju saat ini",
    projection: "Proyeksi pada bulan target",
    met_in: "Target tercapai pada laju ini",
    never_met: "tidak tercapai",
    already_met: "sudah tercapai",
    target_basis: "Dasar target",
    target_source: "Sumber target",
    basis_stated: "ditetapkan oleh keputusan",
    basis_employed: "bagian dari target wilayah di atasnya menurut jumlah penduduk bekerja (BPS Sakernas Agustus 2023)",
    basis_population: "bagian menurut jumlah penduduk (Kemendagri 2025), sebagai pengganti jumlah penduduk bekerja yang tidak diterbitkan",
    basis_villages: "bagian yang sama untuk setiap desa/kelurahan (jumlah penduduk kecamatan dan desa tidak diterbitkan)",
    basis_actual: "dinaikkan ke jumlah peserta aktif saat alokasi (bagiannya lebih kecil dari itu)",
    target_gross: "Target BPJS Ketenagakerjaan",
    target_net_of: "termasuk peserta yang tidak dicatat Cakupan; target di sini sudah dikurangi",
    segment_jakon: "Jasa Konstruksi",
    segment_pmi: "Pekerja Migran Indonesia",
    allocate_down: "Alokasikan target sampai desa",
    allocate_hint: "menyimpan target setiap wilayah di bawahnya; tercatat dalam log audit",
    allocated: "Target disimpan untuk wilayah sebanyak",
    employed_share: "Cakupan penduduk bekerja",
    employed_note: "peserta aktif dibagi penduduk bekerja",
    no_employed: "Data penduduk bekerja tidak tersedia untuk wilayah ini.",
    segments: "Penerima Upah (PU) dan Bukan Penerima Upah (BPU)",
    pu: "PU (penerima upah)",
    bpu: "BPU (bukan penerima upah)",
    yoy: "Dibanding 12 bulan lalu",
    yoy_none: "belum ada data 12 bulan lalu",
    chart_title: "Peserta aktif dan yang membayar, 36 bulan",
    chart_target: "lintasan target",
    chart_projection: "proyeksi laju saat ini",
    chart_data: "Data grafik",
    month: "Bulan",
    flows_title: "Baru, menjadi nonaktif dan aktif kembali per bulan",
    lapsed_unpaid: "Nonaktif: berhenti membayar",
    lapsed_left_employment: "Nonaktif: berhenti bekerja",
    new: "Baru",
    lapsed: "Menjadi nonaktif",
    reactivated: "Aktif kembali",
    collected: "Iuran diterima",
    map_title_nation: "Peta cakupan per provinsi",
    map_title_province: "Peta per kabupaten/kota",
    map_legend_employed: "Peserta aktif per penduduk bekerja",
    map_legend_active: "Peserta aktif per peserta terdaftar",
    map_no_data: "tidak ada data",
    map_source: "Batas wilayah: cahyadsn/wilayah_boundaries (MIT), disederhanakan; batas indikatif.",
    children_title: "Rincian wilayah",
    region: "Wilayah",
    active_share: "% aktif dari terdaftar",
    target_share: "% dari target",
    download_csv: "Unduh CSV",
    sort_by: "Urutkan menurut",
    withheld: "<5",
    withheld_note: "Angka 1–4 tidak ditampilkan (<5) agar tidak menunjuk orang tertentu.",
    level_province: "Provinsi",
    level_regency: "Kabupaten/kota",
    level_district: "Kecamatan",
    level_village: "Desa/kelurahan",
    no_children: "Tidak ada wilayah di bawahnya.",
    search_title: "Cari peserta",
    search_label: "NIK atau nomor KPJ",
    search_hint: "16 digit NIK atau nomor KPJ. Hanya peserta dalam wilayah Anda yang ditampilkan.",
    search_button: "Cari",
    search_none: "Tidak ada peserta dengan NIK atau KPJ ini dalam wilayah Anda.",
    kpj: "KPJ",
    nik: "NIK",
    name: "Nama lengkap (sesuai KTP)",
    birth_date: "Tanggal lahir",
    sex: "Jenis kelamin",
    sex_l: "Laki-laki",
    sex_p: "Perempuan",
    phone: "Nomor HP",
    address: "Alamat (jalan, nomor, RT/RW)",
    budget_funded: "Iuran JKK dan JKM dibayar APBN/APBD",
    budget_funded_hint: "Peserta yang iurannya dibayar anggaran negara atau daerah tidak mendapat potongan iuran PP 50/2025.",
    yes: "Ya",
    domicile: "Domisili",
    province: "Provinsi",
    regency: "Kabupaten/kota",
    district: "Kecamatan",
    village: "Desa/kelurahan",
    choose: "— pilih —",
    segment: "Segmen",
    occupation: "Pekerjaan",
    sector: "Sektor (PP 50/2025)",
    income_base: "Dasar penghasilan sebulan",
    wage: "Upah sebulan",
    programmes: "Program",
    registered_on: "Tanggal pendaftaran",
    channel: "Saluran",
    agent_code: "Kode agen Perisai",
    heir: "Ahli waris",
    heir_name: "Nama ahli waris",
    relationship: "Hubungan",
    optional: "tidak wajib",
    register_title: "Daftarkan peserta",
    register_intro: "Perlindungan dimulai saat iuran pertama diterima.",
    register_button: "Daftarkan",
    registered_ok: "Peserta terdaftar.",
    already_registered: "Peserta ini sudah terdaftar dengan data yang sama; tidak ada yang berubah.",
    warnings: "Ditandai untuk diperiksa",
    form_errors: "Periksa isian yang ditandai.",
    profile_title: "Peserta",
    coverage_title: "Status perlindungan per bulan",
    status: "Status",
    reason: "Keterangan",
    payments_title: "Pembayaran dan catatan",
    no_payments: "Belum ada pembayaran.",
    reference: "Referensi",
    first_month: "Bulan pertama",
    months: "Jumlah bulan",
    amount: "Jumlah",
    paid_on: "Tanggal bayar",
    kind: "Jenis",
    record_payment: "Catat pembayaran",
    pay_title: "Catat pembayaran iuran",
    pay_due: "Iuran yang harus dibayar",
    pay_button: "Simpan pembayaran",
    paid_ok: "Pembayaran tercatat.",
    paid_existing: "Pembayaran ini sudah tercatat sebelumnya; tidak ada yang berubah.",
    pay_explain: "Jumlah dihitung dari aturan iuran yang berlaku untuk setiap bulan (termasuk potongan).",
    pay_changed: "Jumlah iuran berubah sejak formulir dibuka: periksa jumlah baru lalu simpan lagi.",
    mine_title: "Data saya",
    consents_title: "Persetujuan",
    corrections_title: "Permintaan koreksi",
    none: "Tidak ada.",
    about_title: "Tentang Cakupan",
    about_text: "Cakupan adalah perangkat lunak sumber terbuka (MIT) untuk registri peserta, iuran, status perlindungan dan hitungan peserta aktif dari desa sampai nasional.",
    licences: "Data dan lisensi",
    error_title: "Tidak dapat ditampilkan",
    not_found: "Halaman atau data ini tidak ada, atau tidak dalam wilayah Anda.",
    forbidden: "Anda tidak berwenang membuka halaman ini.",
    back_home: "Kembali ke dasbor",
    landing_intro: "Registri peserta jaminan sosial ketenagakerjaan: perlindungan kecelakaan kerja dan kematian bagi pekerja, dari desa sampai nasional.",
    status_active_s: "Aktif",
    status_in_arrears: "Menunggak",
    status_nonactive: "Nonaktif",
    status_pending: "Belum terlindungi",
    status_terminated: "Berakhir",
    reason_paid_by: "dibayar, referensi",
    reason_unpaid: "bulan belum dibayar",
    reason_overdue: "lewat jatuh tempo",
    reason_unpaid_earlier: "bulan sebelumnya",
    status_not_yet_due: "Belum jatuh tempo",
    reason_due_on: "jatuh tempo",
    reason_never_paid: "belum pernah membayar",
    reason_terminated: "kepesertaan berakhir",
    reason_employment_ended: "dilaporkan berhenti bekerja oleh pemberi kerja",
    nav_agents: "Perisai",
    nav_my_work: "Tugas saya",
    nav_employers: "Pemberi kerja",
    nav_campaign: "Kampanye",
    nav_my_employer: "Perusahaan saya",
    employer_label: "Pemberi kerja",
    employer_in_arrears: "Pemberi kerja menunggak iuran sejak",
    agents_title: "Agen Perisai",
    offices_title: "Kantor Perisai",
    agent_code_h: "Kode agen",
    office: "Kantor",
    home_village: "Domisili agen",
    villages_served: "Desa yang dilayani",
    appointed: "Diangkat",
    agent_status: "Status agen",
    agent_active: "Aktif",
    agent_inactive: "Tidak aktif",
    agent_terminated: "Diberhentikan",
    new_participants: "Peserta baru",
    collections_h: "Iuran dipungut",
    cash_held: "Uang dipegang agen",
    cash_collected: "dipungut",
    cash_deposited: "disetor",
    cash_oldest: "pungutan tertua belum disetor",
    cash_alert: "Perlu tindakan",
    deposit_title: "Catat setoran",
    deposit_reference: "Referensi bank/kantor",
    deposit_on: "Tanggal setor",
    deposit_button: "Simpan setoran",
    deposited_ok: "Setoran tercatat.",
    not_deposited: "Pungutan belum disetor",
    receipt: "Kuitansi",
    statement_title: "Laporan imbal jasa",
    office_target_title: "Target bulanan kantor",
    office_target_h: "Target peserta baru",
    office_new_h: "Peserta baru",
    office_no_target: "Belum ada target untuk kantor ini.",
    office_ended: "Perjanjian kerja sama berakhir sejak",
    office_in_agreement: "Dalam perjanjian; bulan berturut-turut di bawah target",
    office_months_below: "bulan di bawah target",
    office_record_end: "Catat berakhirnya perjanjian dan penugasan agennya",
    office_target_from: "Berlaku mulai bulan",
    office_target_save: "Simpan target",
    office_target_saved: "Target kantor disimpan.",
    office_reviewed: "Kantor ditinjau; hasilnya tercatat.",
    statement_month: "Bulan laporan",
    fee_base: "Iuran dari peserta agen",
    fee_rate: "Tarif",
    contribution_fee: "Imbal jasa iuran",
    clawback: "Dikembalikan (pembayaran dibatalkan)",
    incentive: "Insentif akuisisi",
    threshold: "mulai dari",
    total: "Jumlah",
    agent_share: "Bagian agen",
    office_share: "Bagian kantor",
    scheme: "Skema",
    worklist_title: "Daftar kerja",
    due_this_month: "Jatuh tempo bulan ini",
    in_arrears_list: "Menunggak, akan nonaktif",
    paid_through: "Dibayar sampai",
    months_unpaid: "Bulan belum dibayar",
    villages_uncovered: "Desa dengan peserta tidak aktif terbanyak",
    uncovered: "Belum terlindungi",
    uncovered_note: "Terdaftar tetapi tidak aktif (nonaktif atau belum pernah membayar). Data angkatan kerja per desa tidak tersedia.",
    standing_title: "Status 12 bulan terakhir",
    receipt_title: "Periksa kuitansi",
    receipt_number: "Nomor kuitansi",
    receipt_amount: "Jumlah pada kuitansi (Rp)",
    receipt_check: "Periksa",
    receipt_valid: "Kuitansi sah",
    receipt_reversed: "Pembayaran ini dibatalkan",
    receipt_unknown: "Tidak ada kuitansi dengan nomor dan jumlah ini. Periksa keduanya, atau hubungi kantor cabang.",
    receipt_deposited: "sudah disetor agen",
    receipt_held: "masih dipegang agen",
    receipt_deposit_h: "Setoran agen",
    receipt_too_many: "Terlalu banyak pemeriksaan kuitansi dari alamat ini. Coba lagi dalam satu menit.",
    none_yet: "Belum ada.",
};

pub static EN: Tr = Tr {
    lang: "en",
    other_lang_name: "Bahasa Indonesia",
    skip: "Skip to content",
    nav_label: "Main menu",
    nav_dashboard: "Dashboard",
    nav_participants: "Find a participant",
    nav_register: "Register a participant",
    nav_mine: "My data",
    nav_my_village: "My village",
    nav_about: "About",
    sign_in: "Sign in",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    username: "Username",
    password: "Password",
    wrong_password: "Wrong username or password.",
    too_many_attempts: "Too many failed attempts.",
    sign_in_busy: "The server is checking many sign-ins right now. Please try again in a moment.",
    nav_password: "Password",
    password_title: "Change password",
    password_forced: "An administrator reset your password. Change it before you go on.",
    password_done: "Password changed. This account's other sessions have ended.",
    password_hint: "Use a few unrelated words, at least {n} characters. Common passwords and ones holding the username are refused.",
    password_current: "Current password",
    password_new: "New password",
    password_again: "New password again",
    password_submit: "Change password",
    try_again_minutes: "Try again in {n} minute(s).",
    footer: "Cakupan — the workers' social-security participant registry.",
    breadcrumb: "Region path",
    nation: "Indonesia",
    national: "National",
    chart_target_off_scale: "The target trajectory is not drawn: it lies far above the chart's scale (see the target figures above).",
    as_of: "As of",
    active_participants: "Active participants",
    active_hint: "paid for this month, or in arrears but not yet non-active",
    paid_active: "Paid for this month",
    paid_hint: "this month's contribution received",
    registered: "Registered",
    nonactive: "Non-active",
    target: "Target",
    target_of: "Active-participant target",
    no_target: "No target is set for this region yet.",
    required_growth: "Net growth now required",
    per_month: "per month",
    run_rate: "Current run-rate",
    projection: "Projection for the target month",
    met_in: "Target met at this rate in",
    never_met: "not met",
    already_met: "already met",
    target_basis: "Basis of the target",
    target_source: "Source of the target",
    basis_stated: "set by a decision",
    basis_employed: "share of the target above by employed persons (BPS Sakernas August 2023)",
    basis_population: "share by residents (Kemendagri 2025), standing in for employed persons, which are not published",
    basis_villages: "an equal share for each village (district and village populations are not published)",
    basis_actual: "raised to the region's active participants at allocation (its share was below them)",
    target_gross: "BPJS Ketenagakerjaan's target of",
    target_net_of: "counts participants Cakupan does not hold; the target here is net of",
    segment_jakon: "construction workers (Jakon)",
    segment_pmi: "migrant workers (PMI)",
    allocate_down: "Allocate the target down to the villages",
    allocate_hint: "stores every region's target below this one; recorded in the audit log",
    allocated: "Targets stored for regions:",
    employed_share: "Share of employed people covered",
    employed_note: "active participants divided by employed persons",
    no_employed: "No employed-person figure is available for this region.",
    segments: "Wage earners (PU) and non-wage earners (BPU)",
    pu: "PU (wage earners)",
    bpu: "BPU (non-wage earners)",
    yoy: "Against 12 months earlier",
    yoy_none: "no figure for 12 months earlier yet",
    chart_title: "Active and paying participants, 36 months",
    chart_target: "target trajectory",
    chart_projection: "projection at the current rate",
    chart_data: "Chart data",
    month: "Month",
    flows_title: "New, lapsed and reactivated per month",
    lapsed_unpaid: "Lapsed: stopped paying",
    lapsed_left_employment: "Lapsed: left employment",
    new: "New",
    lapsed: "Lapsed",
    reactivated: "Reactivated",
    collected: "Contributions received",
    map_title_nation: "Coverage map by province",
    map_title_province: "Map by regency/city",
    map_legend_employed: "Active participants per employed person",
    map_legend_active: "Active participants per registered participant",
    map_no_data: "no data",
    map_source: "Boundaries: cahyadsn/wilayah_boundaries (MIT), simplified; indicative lines.",
    children_title: "Regions below",
    region: "Region",
    active_share: "% active of registered",
    target_share: "% of target",
    download_csv: "Download CSV",
    sort_by: "Sort by",
    withheld: "<5",
    withheld_note: "Counts of 1–4 are withheld (<5) so that they cannot point to a person.",
    level_province: "Province",
    level_regency: "Regency/city",
    level_district: "District",
    level_village: "Village",
    no_children: "No regions below this one.",
    search_title: "Find a participant",
    search_label: "NIK or KPJ number",
    search_hint: "A 16-digit NIK or a KPJ number. Only participants in your area are shown.",
    search_button: "Search",
    search_none: "No participant with this NIK or KPJ in your area.",
    kpj: "KPJ",
    nik: "NIK",
    name: "Full name (as on the KTP)",
    birth_date: "Date of birth",
    sex: "Sex",
    sex_l: "Male",
    sex_p: "Female",
    phone: "Mobile number",
    address: "Address (street, number, RT/RW)",
    budget_funded: "JKK and JKM paid from a state or regional budget (APBN/APBD)",
    budget_funded_hint: "Participants whose contributions a state or regional budget pays get no PP 50/2025 discount.",
    yes: "Yes",
    domicile: "Domicile",
    province: "Province",
    regency: "Regency/city",
    district: "District",
    village: "Village",
    choose: "— choose —",
    segment: "Segment",
    occupation: "Occupation",
    sector: "Sector (PP 50/2025)",
    income_base: "Monthly income base",
    wage: "Monthly wage",
    programmes: "Programmes",
    registered_on: "Registration date",
    channel: "Channel",
    agent_code: "Perisai agent code",
    heir: "Heir",
    heir_name: "Heir's name",
    relationship: "Relationship",
    optional: "optional",
    register_title: "Register a participant",
    register_intro: "Protection starts when the first contribution is received.",
    register_button: "Register",
    registered_ok: "Participant registered.",
    already_registered: "This participant is already registered with the same details; nothing changed.",
    warnings: "Flagged for review",
    form_errors: "Check the fields marked.",
    profile_title: "Participant",
    coverage_title: "Protection status by month",
    status: "Status",
    reason: "Why",
    payments_title: "Payments and records",
    no_payments: "No payments yet.",
    reference: "Reference",
    first_month: "First month",
    months: "Months",
    amount: "Amount",
    paid_on: "Paid on",
    kind: "Kind",
    record_payment: "Record a payment",
    pay_title: "Record a contribution payment",
    pay_due: "Contribution due",
    pay_button: "Save the payment",
    paid_ok: "Payment recorded.",
    paid_existing: "This payment was already recorded; nothing changed.",
    pay_explain: "The amount follows the contribution rules in force for each month (discounts included).",
    pay_changed: "The contribution changed since the form was opened: check the new amount and save again.",
    mine_title: "My data",
    consents_title: "Consents",
    corrections_title: "Correction requests",
    none: "None.",
    about_title: "About Cakupan",
    about_text: "Cakupan is open-source software (MIT) for the participant registry, contributions, protection status and counts of active participants from village to nation.",
    licences: "Data and licences",
    error_title: "Cannot be shown",
    not_found: "This page or record does not exist, or is not in your area.",
    forbidden: "You are not allowed to open this page.",
    back_home: "Back to the dashboard",
    landing_intro: "The workers' social-security participant registry: protection against work accidents and death for workers, from village to nation.",
    status_active_s: "Active",
    status_in_arrears: "In arrears",
    status_nonactive: "Non-active",
    status_pending: "Not yet protected",
    status_terminated: "Ended",
    reason_paid_by: "paid, reference",
    reason_unpaid: "month(s) unpaid",
    reason_overdue: "overdue",
    reason_unpaid_earlier: "earlier month(s)",
    status_not_yet_due: "Not yet due",
    reason_due_on: "due on",
    reason_never_paid: "never paid yet",
    reason_terminated: "participation ended",
    reason_employment_ended: "reported stopped by the employer",
    nav_agents: "Perisai",
    nav_my_work: "My work",
    nav_employers: "Employers",
    nav_campaign: "Campaign",
    nav_my_employer: "My company",
    employer_label: "Employer",
    employer_in_arrears: "The employer is in arrears since",
    agents_title: "Perisai agents",
    offices_title: "Kantor Perisai (partner offices)",
    agent_code_h: "Agent code",
    office: "Office",
    home_village: "Agent's home",
    villages_served: "Villages served",
    appointed: "Appointed",
    agent_status: "Agent status",
    agent_active: "Active",
    agent_inactive: "Inactive",
    agent_terminated: "Terminated",
    new_participants: "New participants",
    collections_h: "Collections",
    cash_held: "Cash held by the agent",
    cash_collected: "collected",
    cash_deposited: "deposited",
    cash_oldest: "oldest collection not deposited",
    cash_alert: "Needs attention",
    deposit_title: "Record a deposit",
    deposit_reference: "Bank or office reference",
    deposit_on: "Deposited on",
    deposit_button: "Save the deposit",
    deposited_ok: "Deposit recorded.",
    not_deposited: "Collections not yet deposited",
    receipt: "Receipt",
    statement_title: "Fee statement",
    office_target_title: "The office's monthly target",
    office_target_h: "Target of new participants",
    office_new_h: "New participants",
    office_no_target: "No target is set for this office yet.",
    office_ended: "The cooperation agreement ended from",
    office_in_agreement: "In agreement; consecutive months below target",
    office_months_below: "months below target",
    office_record_end: "Record the end of the agreement and of its agents' appointments",
    office_target_from: "From the month",
    office_target_save: "Save the target",
    office_target_saved: "The office's target is saved.",
    office_reviewed: "The office was reviewed; the outcome is recorded.",
    statement_month: "Statement month",
    fee_base: "Contributions from the agent's participants",
    fee_rate: "Rate",
    contribution_fee: "Contribution fee",
    clawback: "Clawed back (payments reversed)",
    incentive: "Acquisition incentive",
    threshold: "from",
    total: "Total",
    agent_share: "Agent's share",
    office_share: "Office's share",
    scheme: "Scheme",
    worklist_title: "Worklist",
    due_this_month: "Due this month",
    in_arrears_list: "In arrears, about to lapse",
    paid_through: "Paid through",
    months_unpaid: "Months unpaid",
    villages_uncovered: "Villages with the most uncovered participants",
    uncovered: "Uncovered",
    uncovered_note: "Registered but not active (non-active or never paid). No labour-force figures exist per village.",
    standing_title: "Standing, last 12 months",
    receipt_title: "Check a receipt",
    receipt_number: "Receipt number",
    receipt_amount: "Amount on the receipt (Rp)",
    receipt_check: "Check",
    receipt_valid: "Valid receipt",
    receipt_reversed: "This payment was reversed",
    receipt_unknown: "No receipt with this number and amount. Check both, or contact the branch.",
    receipt_deposited: "deposited by the agent",
    receipt_held: "still held by the agent",
    receipt_deposit_h: "Agent's deposit",
    receipt_too_many: "Too many receipt checks from this address. Please try again in a minute.",
    none_yet: "None yet.",
};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn numbers_are_written_per_language() {
        assert_eq!(Lang::Id.num(70_000_000), "70.000.000");
        assert_eq!(Lang::En.num(70_000_000), "70,000,000");
        assert_eq!(Lang::Id.num(-1_234), "−1.234");
        assert_eq!(Lang::En.num(999), "999");
        assert_eq!(Lang::Id.rupiah(16_800), "Rp16.800");
        assert_eq!(Lang::Id.pct(0.523), "52,3%");
        assert_eq!(Lang::En.pct(0.523), "52.3%");
        assert_eq!(Lang::Id.pct(0.000_025), "0,0025%");
        assert_eq!(Lang::En.pct(0.0), "0.0%");
        assert_eq!(Lang::Id.signed(5), "+5");
        let m = Month::parse("2026-05").unwrap();
        assert_eq!(Lang::Id.month(m), "Mei 2026");
        assert_eq!(Lang::En.month(m), "May 2026");
    }

    #[test]
    fn field_messages_are_translated_by_rule() {
        let e = FieldError::new("nik", "nik.length", "NIK must be exactly 16 digits");
        assert_eq!(Lang::Id.field_message(&e), "NIK harus tepat 16 digit");
        assert_eq!(Lang::En.field_message(&e), "NIK must be exactly 16 digits");
        let unknown = FieldError::new("x", "x.unknown_rule", "something");
        assert_eq!(
            Lang::Id.field_message(&unknown),
            "something (x.unknown_rule)"
        );
    }
}
