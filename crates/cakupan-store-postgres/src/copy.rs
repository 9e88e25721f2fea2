//! Rows in PostgreSQL's binary `COPY` format, built in memory for `COPY … FROM STDIN (FORMAT
//! binary)`: the bulk load's staging (issue #23). Each value is its type's binary send form
//! (big-endian integers, dates as days since 2000-01-01, `bytea` and `text` as their bytes), so
//! the server parses nothing.

/// A binary `COPY` stream: the header, then rows, then the trailer.
pub(crate) struct CopyRows {
    buf: Vec<u8>,
}

/// Days from 1970-01-01 (Unix) to 2000-01-01 (PostgreSQL's date epoch).
const PG_EPOCH_DAYS: i32 = 10_957;

impl CopyRows {
    /// A stream with its header written.
    pub(crate) fn new() -> CopyRows {
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        CopyRows { buf }
    }

    /// Starts a row of `fields` values.
    pub(crate) fn row(&mut self, fields: i16) -> &mut Self {
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        // A value longer than 2 GiB cannot be a registration's field; written as NULL it
        // would be refused by the column's NOT NULL, not stored wrongly.
        match i32::try_from(bytes.len()) {
            Ok(n) => {
                self.buf.extend_from_slice(&n.to_be_bytes());
                self.buf.extend_from_slice(bytes);
            }
            Err(_) => self.null(),
        }
        self
    }

    fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    pub(crate) fn int8(&mut self, v: i64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub(crate) fn int2(&mut self, v: i16) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub(crate) fn int4(&mut self, v: i32) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub(crate) fn boolean(&mut self, v: bool) -> &mut Self {
        self.field(&[u8::from(v)])
    }

    pub(crate) fn text(&mut self, v: &str) -> &mut Self {
        self.field(v.as_bytes())
    }

    pub(crate) fn bytea(&mut self, v: &[u8]) -> &mut Self {
        self.field(v)
    }

    pub(crate) fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.text(v),
            None => {
                self.null();
                self
            }
        }
    }

    pub(crate) fn opt_bytea(&mut self, v: Option<&[u8]>) -> &mut Self {
        match v {
            Some(v) => self.bytea(v),
            None => {
                self.null();
                self
            }
        }
    }

    pub(crate) fn date(&mut self, d: time::Date) -> &mut Self {
        let unix_days = (d - time::Date::from_ordinal_date(1970, 1).unwrap_or(d)).whole_days();
        let days = i32::try_from(unix_days).unwrap_or(i32::MAX) - PG_EPOCH_DAYS;
        self.int4(days)
    }

    /// A one-dimensional `bytea[]` without NULLs (element type oid 17).
    pub(crate) fn bytea_array(&mut self, items: &[Vec<u8>]) -> &mut Self {
        let mut a = Vec::with_capacity(20 + items.iter().map(|i| 4 + i.len()).sum::<usize>());
        let dims: i32 = if items.is_empty() { 0 } else { 1 };
        a.extend_from_slice(&dims.to_be_bytes());
        a.extend_from_slice(&0i32.to_be_bytes()); // no NULLs
        a.extend_from_slice(&17i32.to_be_bytes()); // bytea
        if !items.is_empty() {
            a.extend_from_slice(&i32::try_from(items.len()).unwrap_or(i32::MAX).to_be_bytes());
            a.extend_from_slice(&1i32.to_be_bytes()); // lower bound
            for i in items {
                a.extend_from_slice(&i32::try_from(i.len()).unwrap_or(i32::MAX).to_be_bytes());
                a.extend_from_slice(i);
            }
        }
        self.field(&a)
    }

    /// Takes the rows written so far (the header with the first), leaving the stream empty.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The trailer that ends the stream.
    pub(crate) fn trailer() -> [u8; 2] {
        (-1i16).to_be_bytes()
    }
}
