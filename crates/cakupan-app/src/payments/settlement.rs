//! Partners' settlement files (issue #19 item 4, docs/formats.md "Settlement files"): the
//! documented CSV and MT940 statements, read a line (or a statement) at a time so that
//! memory does not grow with the file, each good line a [`SettlementLine`], each bad one
//! reported by its line number.

use cakupan_domain::Rupiah;
use cakupan_store::payments::SettlementLine;
use std::io::BufRead;

/// The CSV header a settlement file starts with.
pub const CSV_HEADER: &str = "date,payment_request_id,virtual_account,amount";

/// A line that could not be read, by its line number in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: u64,
    pub message: String,
}

/// Which kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Mt940,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Mt940 => "mt940",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "mt940" | "sta" => Some(Format::Mt940),
            _ => None,
        }
    }
}

fn date(s: &str) -> Option<time::Date> {
    time::Date::parse(
        s.trim(),
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// Whole rupiah from `16800`, `16800.00` or `16800,00` (MT940 writes a comma).
fn rupiah(s: &str) -> Option<i64> {
    let t = s.trim();
    let whole = t
        .strip_suffix(".00")
        .or_else(|| t.strip_suffix(",00"))
        .or_else(|| t.strip_suffix(".0"))
        .or_else(|| t.strip_suffix(','))
        .unwrap_or(t);
    if whole.is_empty() || whole.len() > 15 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    whole.parse().ok().filter(|v: &i64| *v > 0)
}

fn va_digits(s: &str) -> Option<String> {
    let d: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (!d.is_empty() && d.len() <= 28 && d.bytes().all(|b| b.is_ascii_digit())).then_some(d)
}

/// Reads a file in `format`, handing the good lines to `each` in chunks of `chunk` and
/// collecting the bad ones. `each` returning an error stops the reading with it.
pub fn read<R: BufRead, E>(
    format: Format,
    input: R,
    chunk: usize,
    each: &mut dyn FnMut(Vec<SettlementLine>) -> Result<(), E>,
) -> Result<(u64, Vec<BadLine>), ReadError<E>> {
    match format {
        Format::Csv => read_csv(input, chunk, each),
        Format::Mt940 => read_mt940(input, chunk, each),
    }
}

/// Why a file could not be read at all.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The file itself: not readable, not the format (its header), not UTF-8.
    File(String),
    /// What the caller did with the lines failed.
    Caller(E),
}

fn read_csv<R: BufRead, E>(
    input: R,
    chunk: usize,
    each: &mut dyn FnMut(Vec<SettlementLine>) -> Result<(), E>,
) -> Result<(u64, Vec<BadLine>), ReadError<E>> {
    let mut bad = Vec::new();
    let mut good = 0u64;
    let mut buf = Vec::with_capacity(chunk);
    let mut lines = input.lines();
    let header = lines
        .next()
        .transpose()
        .map_err(|e| ReadError::File(e.to_string()))?
        .unwrap_or_default();
    if header.trim().trim_start_matches('\u{feff}') != CSV_HEADER {
        return Err(ReadError::File(format!(
            "a settlement CSV starts with the header {CSV_HEADER}"
        )));
    }
    for (i, l) in lines.enumerate() {
        let n = i as u64 + 2;
        let l = l.map_err(|e| ReadError::File(format!("line {n}: {e}")))?;
        if l.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split(',').collect();
        let line = (|| {
            if f.len() != 4 {
                return Err(
                    "a line has 4 fields: date, payment_request_id, virtual_account, amount"
                        .to_string(),
                );
            }
            let day = date(f[0]).ok_or("date: YYYY-MM-DD")?;
            let id = f[1].trim();
            if id.is_empty() || id.len() > 128 {
                return Err("payment_request_id: 1 to 128 characters".into());
            }
            let va = va_digits(f[2]).ok_or("virtual_account: digits")?;
            let amount = rupiah(f[3]).ok_or("amount: whole rupiah, more than 0")?;
            Ok(SettlementLine {
                line_no: n as i64,
                day,
                payment_request_id: id.to_string(),
                virtual_account: va,
                amount: Rupiah(amount),
            })
        })();
        match line {
            Ok(x) => {
                good += 1;
                buf.push(x);
                if buf.len() >= chunk {
                    each(std::mem::take(&mut buf)).map_err(ReadError::Caller)?;
                }
            }
            Err(message) => bad.push(BadLine { line: n, message }),
        }
    }
    if !buf.is_empty() {
        each(buf).map_err(ReadError::Caller)?;
    }
    Ok((good, bad))
}

/// The payment request id and the virtual account an MT940 line's `:86:` carries:
/// `REQ <paymentRequestId> VA <virtualAccountNo>`.
fn mt940_refs(info: &str) -> Option<(String, String)> {
    let words: Vec<&str> = info.split_whitespace().collect();
    let after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1))
            .map(|s| s.to_string())
    };
    Some((after("REQ")?, va_digits(&after("VA")?)?))
}

fn read_mt940<R: BufRead, E>(
    input: R,
    chunk: usize,
    each: &mut dyn FnMut(Vec<SettlementLine>) -> Result<(), E>,
) -> Result<(u64, Vec<BadLine>), ReadError<E>> {
    let mut bad = Vec::new();
    let mut good = 0u64;
    let mut buf = Vec::with_capacity(chunk);
    // One statement (from its `:20:` to the next) at a time.
    let mut statement = String::new();
    let mut first_line = 1u64;
    let mut flush = |text: &str,
                     start: u64,
                     buf: &mut Vec<SettlementLine>,
                     bad: &mut Vec<BadLine>,
                     good: &mut u64|
     -> Result<(), ReadError<E>> {
        if text.trim().is_empty() {
            return Ok(());
        }
        let messages = match mt940::parse_mt940(&mt940::sanitizers::sanitize(text)) {
            Ok(m) => m,
            Err(e) => {
                bad.push(BadLine {
                    line: start,
                    message: format!("the statement starting here does not parse as MT940: {e}"),
                });
                return Ok(());
            }
        };
        // Line numbers of each `:61:` in the statement, in order.
        let at: Vec<u64> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with(":61:"))
            .map(|(i, _)| start + i as u64)
            .collect();
        let mut k = 0;
        for m in messages {
            for sl in m.statement_lines {
                let n = at.get(k).copied().unwrap_or(start);
                k += 1;
                if !matches!(
                    sl.ext_debit_credit_indicator,
                    mt940::ExtDebitOrCredit::Credit
                ) {
                    continue;
                }
                let info = match &sl.information_to_account_owner {
                    Some(mt940::InformationToAccountOwner::Plain(s)) => s.clone(),
                    Some(other) => format!("{other:?}"),
                    None => String::new(),
                };
                let parsed = (|| {
                    let (id, va) = mt940_refs(&info).ok_or(
                        "the :86: field carries REQ <paymentRequestId> VA <virtualAccountNo>",
                    )?;
                    let day = date(&sl.value_date.to_string()).ok_or("the value date")?;
                    let amount =
                        rupiah(&sl.amount.to_string()).ok_or("the amount: whole rupiah")?;
                    Ok::<_, &str>(SettlementLine {
                        line_no: n as i64,
                        day,
                        payment_request_id: id,
                        virtual_account: va,
                        amount: Rupiah(amount),
                    })
                })();
                match parsed {
                    Ok(x) => {
                        *good += 1;
                        buf.push(x);
                        if buf.len() >= chunk {
                            each(std::mem::take(buf)).map_err(ReadError::Caller)?;
                        }
                    }
                    Err(m) => bad.push(BadLine {
                        line: n,
                        message: m.to_string(),
                    }),
                }
            }
        }
        Ok(())
    };
    for (i, l) in input.lines().enumerate() {
        let n = i as u64 + 1;
        let l = l.map_err(|e| ReadError::File(format!("line {n}: {e}")))?;
        if l.starts_with(":20:") && !statement.trim().is_empty() {
            flush(&statement, first_line, &mut buf, &mut bad, &mut good)?;
            statement.clear();
        }
        if statement.is_empty() {
            first_line = n;
        }
        statement.push_str(&l);
        statement.push('\n');
    }
    flush(&statement, first_line, &mut buf, &mut bad, &mut good)?;
    if !buf.is_empty() {
        each(buf).map_err(ReadError::Caller)?;
    }
    Ok((good, bad))
}

/// A settlement's lines as MT940 (for the simulated partners and the tests): one statement
/// per day of `lines`, a credit line per payment.
pub fn to_mt940(account: &str, lines: &[SettlementLine]) -> String {
    let mut days: Vec<time::Date> = lines.iter().map(|l| l.day).collect();
    days.sort();
    days.dedup();
    let mut out = String::new();
    for (i, d) in days.iter().enumerate() {
        let ymd = format!(
            "{:02}{:02}{:02}",
            d.year() % 100,
            u8::from(d.month()),
            d.day()
        );
        let total: i64 = lines
            .iter()
            .filter(|l| l.day == *d)
            .map(|l| l.amount.0)
            .sum();
        out.push_str(&format!(
            ":20:CKP{ymd}{i:03}\n:25:{account}\n:28C:{:05}/001\n:60F:C{ymd}IDR0,00\n",
            i + 1
        ));
        for l in lines.iter().filter(|l| l.day == *d) {
            out.push_str(&format!(
                ":61:{ymd}C{},00NTRFNONREF\n:86:REQ {} VA {}\n",
                l.amount.0, l.payment_request_id, l.virtual_account
            ));
        }
        out.push_str(&format!(":62F:C{ymd}IDR{total},00\n"));
    }
    out
}

/// A settlement's lines as the documented CSV.
pub fn to_csv(lines: &[SettlementLine]) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for l in lines {
        out.push_str(&format!(
            "{},{},{},{}\n",
            cakupan_domain::month::format_date(l.day),
            l.payment_request_id,
            l.virtual_account,
            l.amount.0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: i64, id: &str, amount: i64) -> SettlementLine {
        SettlementLine {
            line_no: n,
            day: time::macros::date!(2026 - 11 - 23),
            payment_request_id: id.into(),
            virtual_account: "888991000000000123".into(),
            amount: Rupiah(amount),
        }
    }

    fn all(format: Format, text: &str) -> (Vec<SettlementLine>, Vec<BadLine>) {
        let mut got = Vec::new();
        let (_, bad) = read::<_, ()>(format, text.as_bytes(), 2, &mut |c| {
            got.extend(c);
            Ok(())
        })
        .unwrap();
        (got, bad)
    }

    #[test]
    fn csv_reads_good_lines_and_names_bad_ones() {
        let text = format!(
            "{CSV_HEADER}\n2026-11-23,PAY-1,888991000000000123,16800\n2026-11-32,PAY-2,8889,1\n2026-11-23,PAY-3,888991000000000123,16800.00\nx\n"
        );
        let (good, bad) = all(Format::Csv, &text);
        assert_eq!(good.len(), 2);
        assert_eq!(good[1].amount, Rupiah(16_800));
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![3, 5]);
        assert!(matches!(
            read::<_, ()>(Format::Csv, "a,b\n".as_bytes(), 2, &mut |_| Ok(())),
            Err(ReadError::File(_))
        ));
    }

    #[test]
    fn mt940_round_trips_what_the_partners_write() {
        let lines = vec![line(0, "PAY-1", 16_800), line(0, "PAY-2", 50_400)];
        let text = to_mt940("1234567890", &lines);
        let (good, bad) = all(Format::Mt940, &text);
        assert!(bad.is_empty(), "{bad:?}\n{text}");
        assert_eq!(good.len(), 2);
        assert_eq!(good[0].payment_request_id, "PAY-1");
        assert_eq!(good[1].amount, Rupiah(50_400));
        assert_eq!(good[0].virtual_account, "888991000000000123");
        assert_eq!(good[0].line_no, 5);
        // A line without the references is named; the rest still read.
        let broken = text.replacen(":86:REQ PAY-1 VA 888991000000000123", ":86:paid", 1);
        let (good, bad) = all(Format::Mt940, &broken);
        assert_eq!((good.len(), bad.len()), (1, 1), "{bad:?}");
        assert_eq!(bad[0].line, 5);
    }
}
