//! Angel's on-disk matrices: a `meta` file (a big-endian length, then JSON) naming a text
//! format and the partitions, and partition files of `colId,value` or `rowId,colId,value`
//! lines (rows) or `featureId,v0,v1,…` lines (columns). Written from the format's own
//! readers (`Angel-ML/format@4b125d43f015`); see `../shared/reference/angel/FORMAT.md` §2–3.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The largest meta file read (the examples' are under 2 KB).
const MAX_META: u64 = 1 << 20;

/// The widest row held as a dense vector (2^28 floats, 1 GiB).
const MAX_DENSE: usize = 1 << 28;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    format_class_name: String,
    #[serde(default)]
    part_metas: BTreeMap<String, Part>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    file_name: String,
    #[serde(default)]
    offset: u64,
    #[serde(default)]
    row_metas: BTreeMap<String, RowMeta>,
    #[serde(default)]
    save_col_num: usize,
    #[serde(default)]
    save_col_elem_num: usize,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowMeta {
    row_id: usize,
    element_num: usize,
}

/// A matrix as saved: sparse rows (row id → column → value), or columns (feature → vector).
#[derive(Debug, Default)]
pub struct Matrix {
    pub rows: BTreeMap<usize, BTreeMap<usize, f32>>,
    pub columns: BTreeMap<usize, Vec<f32>>,
}

impl Matrix {
    /// Row `r` as a dense vector of `width` (columns not saved are 0); `None` past `width`.
    pub fn dense_row(&self, r: usize, width: usize) -> Result<Vec<f32>, String> {
        // What a graph says is allocated only within reason (a 1 GiB row at most).
        if width > MAX_DENSE {
            return Err(format!(
                "a row of {width} values is more than this runtime holds densely ({MAX_DENSE})"
            ));
        }
        let mut v = vec![0.0f32; width];
        if let Some(row) = self.rows.get(&r) {
            for (&c, &x) in row {
                *v.get_mut(c).ok_or_else(|| {
                    format!("row {r} has a value at column {c}, past the {width} the graph gives")
                })? = x;
            }
        }
        Ok(v)
    }
}

fn read_meta(dir: &Path) -> Result<Meta, String> {
    let path = dir.join("meta");
    let len = std::fs::metadata(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if !(4..=MAX_META).contains(&len) {
        return Err(format!(
            "{}: not an Angel meta file ({len} bytes)",
            path.display()
        ));
    }
    let raw = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let n = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
    let json = raw.get(4..4 + n).ok_or_else(|| {
        format!(
            "{}: its length says {n} bytes, it has {}",
            path.display(),
            raw.len() - 4
        )
    })?;
    serde_json::from_slice(json).map_err(|e| format!("{}: {e}", path.display()))
}

fn number<T: std::str::FromStr>(text: &str, what: &str, file: &Path) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{}: {text:?} is not a {what}", file.display()))
}

/// Loads the matrix saved in `dir` (`<layer>_<param>`).
pub fn load(dir: &Path) -> Result<Matrix, String> {
    let meta = read_meta(dir)?;
    let format = meta
        .format_class_name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut parts: Vec<&Part> = meta.part_metas.values().collect();
    parts.sort_by(|a, b| (&a.file_name, a.offset).cmp(&(&b.file_name, b.offset)));
    let mut m = Matrix::default();
    for p in parts {
        if p.file_name.contains('/') || p.file_name.contains("..") {
            return Err(format!(
                "{}: partition file {:?} is not in the folder",
                dir.display(),
                p.file_name
            ));
        }
        let file = dir.join(&p.file_name);
        let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let text = String::from_utf8_lossy(bytes.get(p.offset as usize..).unwrap_or_default());
        // Java's readLine: \n, \r\n or \r end a line.
        let mut lines = text.split(['\n', '\r']).filter(|l| !l.is_empty());
        let mut next = || {
            lines
                .next()
                .ok_or_else(|| format!("{}: fewer lines than the meta says", file.display()))
        };
        match format.as_str() {
            "ColIdValueTextRowFormat" | "RowIdColIdValueTextRowFormat" => {
                let mut rows: Vec<&RowMeta> = p.row_metas.values().collect();
                rows.sort_by_key(|r| r.row_id);
                let skip = usize::from(format.starts_with("RowId"));
                for r in rows {
                    let row = m.rows.entry(r.row_id).or_default();
                    for _ in 0..r.element_num {
                        let line = next()?;
                        let f: Vec<&str> = line.split(',').collect();
                        let (Some(c), Some(v)) = (f.get(skip), f.get(skip + 1)) else {
                            return Err(format!(
                                "{}: {line:?} is not an element line",
                                file.display()
                            ));
                        };
                        row.insert(number(c, "column", &file)?, number(v, "number", &file)?);
                    }
                }
            }
            "TextColumnFormat" => {
                for _ in 0..p.save_col_num {
                    let line = next()?;
                    let mut f = line.split(',');
                    let id = number(f.next().unwrap_or_default(), "feature id", &file)?;
                    let values = f
                        .take(p.save_col_elem_num)
                        .map(|v| number::<f32>(v, "number", &file))
                        .collect::<Result<Vec<_>, _>>()?;
                    m.columns.insert(id, values);
                }
            }
            other => {
                return Err(format!(
                    "{}: the {other} format is not supported (the text row and column formats are)",
                    dir.display()
                ));
            }
        }
    }
    Ok(m)
}
