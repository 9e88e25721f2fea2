//! One line of the Kemendagri region files split into fields (shared by `region.rs` and the
//! crate's build script, which packs the carried files: `build.rs`).

/// Splits one CSV line, honouring double quotes (names may contain commas in quotes).
pub fn split_csv_line(line: &str) -> Vec<std::borrow::Cow<'_, str>> {
    // Most lines quote nothing: their fields are slices of the line.
    if !line.contains('"') && !line.contains('\r') {
        return line.split(',').map(std::borrow::Cow::Borrowed).collect();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).into()),
            '\r' if !quoted => {}
            _ => cur.push(c),
        }
    }
    out.push(cur.into());
    out
}
