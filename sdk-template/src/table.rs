//! The CSV file as a table: parse it (with the `csv` crate), look rows up by anchor, write it
//! back with the same delimiter, line ending and byte-order mark, and replace the file
//! atomically.
//!
//! A flat file has no transactions, so the connector gets its all-or-nothing batches from the
//! file system: the new content goes to a temporary file in the same folder, is flushed to
//! disk, and is renamed over the old file. Readers (and a crash) see the old file or the new
//! one, never half of either.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::CsvError;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Size, modification time and inode of the file as it was read; compared again before the
/// rename, so a hand edit made during a batch is not silently overwritten. (The inode changes
/// with every atomic rewrite, even within the file system's time resolution.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileStamp {
    fn of(metadata: &fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            inode,
        }
    }
}

/// The file, parsed. Deleted rows stay as `None` until the table is written, so a delete does
/// not shift the positions the anchor index holds.
#[derive(Clone, Debug)]
pub struct CsvTable {
    pub header: Vec<String>,
    rows: Vec<Option<Vec<String>>>,
    anchor_column: usize,
    index: HashMap<String, usize>,
    bom: bool,
    crlf: bool,
}

/// Columns must have distinct, non-empty names without surrounding spaces: they become
/// attribute names in the host's configuration and in SCIM.
fn check_header(path: &Path, header: &[String]) -> Result<(), CsvError> {
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(CsvError::malformed(path, "the file has no header row"));
    }
    for (i, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(CsvError::malformed(
                path,
                format!("column {} of the header has no name", i + 1),
            ));
        }
        if name.trim() != name {
            return Err(CsvError::malformed(
                path,
                format!("column name {name:?} has leading or trailing spaces"),
            ));
        }
        if header[..i].contains(name) {
            return Err(CsvError::malformed(
                path,
                format!("column '{name}' appears twice in the header"),
            ));
        }
    }
    Ok(())
}

/// The 1-based line a record starts on. The csv crate's own line count is off by one per
/// line in CRLF files (it points at the `\n` of the previous line ending), so count the line
/// breaks before the record's first byte instead; counting up to and including the byte it
/// names gives the right line for both kinds of line ending.
fn line_of(body: &[u8], position: Option<&csv::Position>) -> u64 {
    let Some(position) = position else { return 0 };
    let end = usize::try_from(position.byte())
        .unwrap_or(usize::MAX)
        .saturating_add(1)
        .min(body.len());
    1 + body[..end].iter().filter(|b| **b == b'\n').count() as u64
}

/// A parse error in words a person editing the file understands, with the right line.
fn describe(error: &csv::Error, body: &[u8], columns: usize) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { pos, len, .. } => format!(
            "line {}: the row has {len} fields but the header has {columns}",
            line_of(body, pos.as_ref())
        ),
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "line {}: the file is not valid UTF-8 (only UTF-8 is supported)",
            line_of(body, pos.as_ref())
        ),
        _ => error.to_string(),
    }
}

fn reader<R: Read>(delimiter: u8, input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        // Every row must have as many fields as the header: a ragged row is an error, not a
        // guess.
        .flexible(false)
        .from_reader(input)
}

/// The header row only, without reading the rest of the file.
pub fn read_header(path: &Path, delimiter: u8) -> Result<Vec<String>, CsvError> {
    let file = File::open(path).map_err(CsvError::read(path))?;
    let mut input = BufReader::new(file);
    if input
        .fill_buf()
        .map_err(CsvError::read(path))?
        .starts_with(BOM)
    {
        input.consume(BOM.len());
    }
    let header: Vec<String> = reader(delimiter, input)
        .headers()
        .map_err(|e| CsvError::malformed(path, e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    check_header(path, &header)?;
    Ok(header)
}

/// The whole file: its bytes (for the snapshot) and when it was read.
pub fn read_file(path: &Path) -> Result<(Vec<u8>, FileStamp), CsvError> {
    let mut file = File::open(path).map_err(CsvError::read(path))?;
    let stamp = FileStamp::of(&file.metadata().map_err(CsvError::read(path))?);
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(CsvError::read(path))?;
    Ok((bytes, stamp))
}

impl CsvTable {
    /// Parse `bytes` (read from `path`, named in errors) with `anchor` as the key column.
    pub fn parse(path: &Path, bytes: &[u8], delimiter: u8, anchor: &str) -> Result<Self, CsvError> {
        let bom = bytes.starts_with(BOM);
        let body = if bom { &bytes[BOM.len()..] } else { bytes };
        let crlf = body
            .iter()
            .position(|b| *b == b'\n')
            .is_some_and(|i| i > 0 && body[i - 1] == b'\r');
        let mut csv = reader(delimiter, body);
        let header: Vec<String> = csv
            .headers()
            .map_err(|e| CsvError::malformed(path, e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        check_header(path, &header)?;
        let anchor_column = header.iter().position(|c| c == anchor).ok_or_else(|| {
            CsvError::malformed(
                path,
                format!(
                    "the anchor column '{anchor}' is not in the header (it has: {})",
                    header.join(", ")
                ),
            )
        })?;
        let mut table = Self {
            header,
            rows: Vec::new(),
            anchor_column,
            index: HashMap::new(),
            bom,
            crlf,
        };
        let columns = table.header.len();
        for record in csv.records() {
            let record =
                record.map_err(|e| CsvError::malformed(path, describe(&e, body, columns)))?;
            let line = line_of(body, record.position());
            let row: Vec<String> = record.iter().map(str::to_string).collect();
            let key = &row[anchor_column];
            if key.is_empty() {
                return Err(CsvError::malformed(
                    path,
                    format!("line {line}: the anchor column '{anchor}' is empty"),
                ));
            }
            if table.index.contains_key(key) {
                return Err(CsvError::malformed(
                    path,
                    format!("line {line}: anchor value '{key}' appears on an earlier line too"),
                ));
            }
            table.insert(row);
        }
        Ok(table)
    }

    pub fn anchor_column(&self) -> usize {
        self.anchor_column
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|c| c == name)
    }

    /// The row whose anchor is `anchor`, by position.
    pub fn find(&self, anchor: &str) -> Option<usize> {
        self.index.get(anchor).copied()
    }

    pub fn row(&self, position: usize) -> Option<&[String]> {
        self.rows.get(position).and_then(|r| r.as_deref())
    }

    /// Live rows, in file order.
    pub fn rows(&self) -> impl Iterator<Item = &[String]> {
        self.rows.iter().filter_map(|r| r.as_deref())
    }

    /// Append a row. The caller checked that its anchor is new and that it has a field per
    /// column.
    pub fn insert(&mut self, row: Vec<String>) {
        self.index
            .insert(row[self.anchor_column].clone(), self.rows.len());
        self.rows.push(Some(row));
    }

    /// Overwrite the row at `position` in place (same anchor), keeping its place in the file.
    pub fn replace(&mut self, position: usize, row: Vec<String>) {
        if let Some(slot) = self.rows.get_mut(position) {
            *slot = Some(row);
        }
    }

    pub fn remove(&mut self, position: usize) {
        if let Some(row) = self.rows.get_mut(position).and_then(Option::take) {
            self.index.remove(&row[self.anchor_column]);
        }
    }

    /// The table as file content, in the original's dialect. Fields are quoted only when they
    /// need it (a delimiter, a quote, a line break).
    pub fn to_bytes(&self, delimiter: u8) -> Result<Vec<u8>, csv::Error> {
        let mut out = if self.bom { BOM.to_vec() } else { Vec::new() };
        {
            let mut writer = csv::WriterBuilder::new()
                .delimiter(delimiter)
                .terminator(if self.crlf {
                    csv::Terminator::CRLF
                } else {
                    csv::Terminator::Any(b'\n')
                })
                .from_writer(&mut out);
            writer.write_record(&self.header)?;
            for row in self.rows() {
                writer.write_record(row)?;
            }
            writer.flush()?;
        }
        Ok(out)
    }
}

/// The file a write really replaces: the target of a symbolic link, not the link.
fn resolve(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Replace `path` with `bytes` atomically: temp file in the same folder, fsync, rename, fsync
/// the folder. If `expected` is given and the file no longer matches it, nothing is replaced.
pub fn replace_file(
    path: &Path,
    bytes: &[u8],
    expected: Option<FileStamp>,
) -> Result<(), CsvError> {
    let target = resolve(path);
    let folder = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let write = CsvError::write;
    // The temp file must be in the same folder: a rename across file systems is not atomic.
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&folder)
        .map_err(write(&target))?;
    temp.write_all(bytes).map_err(write(&target))?;
    // Keep the original's permissions; tempfile creates files readable by the owner only.
    if let Ok(metadata) = fs::metadata(&target) {
        temp.as_file()
            .set_permissions(metadata.permissions())
            .map_err(write(&target))?;
    }
    temp.as_file().sync_all().map_err(write(&target))?;
    if let Some(expected) = expected {
        let now = fs::metadata(&target).map_err(CsvError::read(&target))?;
        if FileStamp::of(&now) != expected {
            return Err(CsvError::ChangedMeanwhile { path: target });
        }
    }
    temp.persist(&target).map_err(|e| CsvError::Write {
        path: target.clone(),
        source: e.error,
    })?;
    // The rename is durable only once the folder's entry is on disk too.
    File::open(&folder)
        .and_then(|f| f.sync_all())
        .map_err(write(&folder))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CsvTable, CsvError> {
        CsvTable::parse(Path::new("t.csv"), text.as_bytes(), b',', "Id")
    }

    #[test]
    fn round_trips_quoting_bom_and_crlf() {
        let text =
            "\u{feff}Id,Name\r\n1,\"Doe, Jane\"\r\n2,\"say \"\"hi\"\"\"\r\n3,\"two\nlines\"\r\n";
        let table = parse(text).unwrap();
        assert_eq!(table.rows().count(), 3);
        assert_eq!(table.row(0).unwrap()[1], "Doe, Jane");
        assert_eq!(table.row(2).unwrap()[1], "two\nlines");
        assert_eq!(
            String::from_utf8(table.to_bytes(b',').unwrap()).unwrap(),
            text
        );
    }

    #[test]
    fn refuses_files_it_cannot_use_and_says_where() {
        let cases = [
            ("", "no header"),
            ("Id,Name,Id\n", "appears twice"),
            ("Id,,Name\n", "column 2"),
            ("Id, Name\n", "spaces"),
            ("Name\nx\n", "anchor column 'Id'"),
            ("Id,Name\n1,a\n1,b\n", "line 3: anchor value '1'"),
            ("Id,Name\n,a\n", "line 2: the anchor column 'Id' is empty"),
            (
                "Id,Name\n1,a,extra\n",
                "line 2: the row has 3 fields but the header has 2",
            ),
            (
                "Id,Name\r\n1,a\r\n2,b,c\r\n",
                "line 3: the row has 3 fields",
            ),
            ("Id,Name\r\n1,a\r\n1,b\r\n", "line 3: anchor value '1'"),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
        let err = CsvTable::parse(Path::new("t.csv"), b"Id\n\xff\n", b',', "Id").unwrap_err();
        assert!(
            err.to_string()
                .contains("line 2: the file is not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn deletes_keep_positions_and_leave_the_file() {
        let mut table = parse("Id,Name\n1,a\n2,b\n3,c\n").unwrap();
        table.remove(table.find("2").unwrap());
        assert_eq!(table.find("3"), Some(2));
        assert_eq!(table.find("2"), None);
        table.insert(vec!["4".into(), "d".into()]);
        assert_eq!(
            String::from_utf8(table.to_bytes(b',').unwrap()).unwrap(),
            "Id,Name\n1,a\n3,c\n4,d\n"
        );
    }

    #[test]
    fn replace_file_keeps_permissions_and_refuses_a_changed_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("people.csv");
        fs::write(&path, "Id\n1\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let (_, stamp) = read_file(&path).unwrap();
        replace_file(&path, b"Id\n2\n", Some(stamp)).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "Id\n2\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);

        // The stamp from before the last write no longer matches.
        let err = replace_file(&path, b"Id\n3\n", Some(stamp)).unwrap_err();
        assert!(matches!(err, CsvError::ChangedMeanwhile { .. }), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "Id\n2\n");
        // No temp file is left behind either way.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
