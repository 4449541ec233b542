//! PMML validation: the document must compile with modeldeck's own evaluator, so a model that
//! imports is a model that serves. The evaluator's message (with the line) is the reason given
//! for a refusal.

use std::path::Path;

use crate::runtime::pmml::PmmlModel;

pub fn check(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        format!(
            "it is not UTF-8 text (bad byte at offset {})",
            e.valid_up_to()
        )
    })?;
    check_text(text)
}

pub fn check_text(text: &str) -> Result<(), String> {
    PmmlModel::parse(text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>
        <DataDictionary numberOfFields="1"><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
        <RegressionModel functionName="regression"><MiningSchema><MiningField name="y" usageType="target"/></MiningSchema>
        <RegressionTable intercept="1"/></RegressionModel></PMML>"#;

    #[test]
    fn a_minimal_document_passes() {
        check_text(OK).unwrap();
    }

    #[test]
    fn each_defect_is_named() {
        let cut = &OK[..OK.len() / 2];
        assert!(check_text(cut).unwrap_err().contains("malformed"));
        let other = "<html><body/></html>";
        assert!(check_text(other).unwrap_err().contains("<html>"));
        let no_model = OK.replace("RegressionModel", "Foo");
        assert!(
            check_text(&no_model)
                .unwrap_err()
                .contains("no model element")
        );
        let no_dict = OK.replace("DataDictionary", "Dictionary");
        assert!(check_text(&no_dict).unwrap_err().contains("DataDictionary"));
        let no_version = OK.replace(r#"version="4.4""#, "");
        assert!(check_text(&no_version).unwrap_err().contains("version"));
    }

    #[test]
    fn entity_expansion_is_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE PMML [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><PMML version="4.4">&b;</PMML>"#;
        assert!(check_text(bomb).is_err());
    }
}
