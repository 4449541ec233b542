//! The PMML runtime against bad input: every defect is a clear error (at load time with its
//! line, or for the one record), never a panic, a stack overflow or a hang.

use modeldeck::runtime::Predictor;
use modeldeck::runtime::Value;
use modeldeck::runtime::pmml::PmmlModel;

use crate::common::repo_path;

const HEAD: &str = r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>"#;
const DICT: &str = r#"<DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>"#;

fn load_err(doc: &str) -> String {
    match PmmlModel::parse(doc) {
        Ok(_) => panic!("accepted: {}", &doc[..doc.len().min(300)]),
        Err(e) => e.to_string(),
    }
}

/// A regression tree whose right spine is `depth` levels deep.
fn deep_tree(depth: usize) -> String {
    let mut body = String::with_capacity(depth * 120);
    for i in 0..depth {
        body.push_str(&format!(
            r#"<Node score="{i}"><SimplePredicate field="x" operator="greaterOrEqual" value="{i}"/><Node score="{i}"><SimplePredicate field="x" operator="lessThan" value="{}"/></Node>"#,
            i + 1
        ));
    }
    body.push_str(&"</Node>".repeat(depth));
    format!(
        r#"{HEAD}{DICT}<TreeModel functionName="regression" noTrueChildStrategy="returnLastPrediction"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema><Node score="-1"><True/>{body}</Node></TreeModel></PMML>"#
    )
}

#[test]
fn malformed_and_truncated_documents_name_the_line() {
    let e = load_err("<PMML version=\"4.4\"><DataDictionary></PMML>");
    assert!(e.starts_with("line 1: the XML is malformed"), "{e}");
    let iris = std::fs::read_to_string(repo_path("assets/iris/iris.pmml")).unwrap();
    let e = load_err(&iris[..iris.len() * 2 / 3]);
    assert!(e.contains("the XML is malformed"), "{e}");
}

#[test]
fn entity_bombs_are_refused_at_once() {
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]><PMML version="4.4">&lol9;</PMML>"#;
    let e = load_err(bomb);
    assert!(e.contains("malformed"), "{e}");
}

#[test]
fn deep_trees_compile_and_nesting_bombs_do_not() {
    let model = PmmlModel::parse(&deep_tree(3000)).expect("a 3000-level tree compiles");
    let answers = model.predict(&[vec![Value::Number(2500.5)], vec![Value::Number(-3.0)]]);
    assert_eq!(answers[0], Ok(vec![Value::Number(2500.0)]));
    assert_eq!(answers[1], Ok(vec![Value::Number(-1.0)]));

    let e = load_err(&deep_tree(100_000));
    assert!(e.contains("levels deep"), "{e}");

    // Nesting that is not a tree: predicates, expressions, segments.
    let preds = format!(
        r#"{HEAD}{DICT}<TreeModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema><Node score="1">{}<True/><True/>{}</Node></TreeModel></PMML>"#,
        r#"<CompoundPredicate booleanOperator="and"><True/>"#.repeat(100_000),
        "</CompoundPredicate>".repeat(100_000)
    );
    assert!(load_err(&preds).contains("nest deeper"));
    let applies = format!(
        r#"{HEAD}{DICT}<TransformationDictionary><DerivedField name="d" dataType="double" optype="continuous">{}<FieldRef field="x"/>{}</DerivedField></TransformationDictionary><RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema><RegressionTable intercept="0"/></RegressionModel></PMML>"#,
        r#"<Apply function="abs">"#.repeat(100_000),
        "</Apply>".repeat(100_000)
    );
    assert!(load_err(&applies).contains("nest deeper"));
    let segments = format!(
        r#"{HEAD}{DICT}{}<RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema><RegressionTable intercept="0"/></RegressionModel>{}</PMML>"#,
        r#"<MiningModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema><Segmentation multipleModelMethod="sum"><Segment><True/>"#.repeat(10_000),
        "</Segment></Segmentation></MiningModel>".repeat(10_000)
    );
    assert!(load_err(&segments).contains("nest deeper"));
}

#[test]
fn unsupported_and_undefined_things_are_named_with_their_line() {
    let e = load_err(&format!(
        "{HEAD}{DICT}\n<SupportVectorMachineModel functionName=\"regression\"><MiningSchema><MiningField name=\"x\"/></MiningSchema></SupportVectorMachineModel></PMML>"
    ));
    assert!(
        e.starts_with("line 2:") && e.contains("<SupportVectorMachineModel>"),
        "{e}"
    );
    let e = load_err(&format!(
        "{HEAD}{DICT}<RegressionModel functionName=\"regression\"><MiningSchema><MiningField name=\"x\"/></MiningSchema>\n<RegressionTable intercept=\"0\"><NumericPredictor name=\"zz\" coefficient=\"1\"/></RegressionTable></RegressionModel></PMML>"
    ));
    assert!(
        e.starts_with("line 2:") && e.contains("\"zz\" is not defined"),
        "{e}"
    );
    let e = load_err(&format!(
        "{HEAD}{DICT}<TransformationDictionary><DerivedField name=\"d\" dataType=\"double\" optype=\"continuous\"><Apply function=\"frobnicate\"><FieldRef field=\"x\"/></Apply></DerivedField></TransformationDictionary><RegressionModel functionName=\"regression\"><MiningSchema><MiningField name=\"x\"/></MiningSchema><RegressionTable intercept=\"0\"/></RegressionModel></PMML>"
    ));
    assert!(e.contains("\"frobnicate\" is not supported"), "{e}");
    let e = load_err(&format!(
        "{HEAD}{DICT}<TransformationDictionary><DerivedField name=\"d1\" dataType=\"double\" optype=\"continuous\"><FieldRef field=\"d2\"/></DerivedField><DerivedField name=\"d2\" dataType=\"double\" optype=\"continuous\"><FieldRef field=\"d1\"/></DerivedField></TransformationDictionary><RegressionModel functionName=\"regression\"><MiningSchema><MiningField name=\"x\"/></MiningSchema><RegressionTable intercept=\"0\"/></RegressionModel></PMML>"
    ));
    assert!(e.contains("depends on itself"), "{e}");
    let e = load_err(&format!("{HEAD}{DICT}</PMML>"));
    assert!(e.contains("no model element"), "{e}");
    let e = load_err(r#"<PMML version="3.0"><DataDictionary/></PMML>"#);
    assert!(e.contains("version 3.0 is not supported"), "{e}");
}

#[test]
fn bad_records_are_errors_for_that_record_only() {
    let doc = format!(
        "{HEAD}{DICT}<RegressionModel functionName=\"regression\"><MiningSchema><MiningField name=\"x\"/><MiningField name=\"c\"/><MiningField name=\"y\" usageType=\"target\"/></MiningSchema><RegressionTable intercept=\"1\"><NumericPredictor name=\"x\" coefficient=\"2\"/><CategoricalPredictor name=\"c\" value=\"a\" coefficient=\"10\"/></RegressionTable></RegressionModel></PMML>"
    );
    let model = PmmlModel::parse(&doc).unwrap();
    let s = |t: &str| Value::String(t.into());
    let answers = model.predict(&[
        vec![Value::Number(1.0), s("a")],
        vec![s("abc"), s("a")],
        vec![Value::Number(1.0), s("q")],
        vec![Value::Missing, s("b")],
        vec![s("2.5"), s("b")],
    ]);
    assert_eq!(answers[0], Ok(vec![Value::Number(13.0)]));
    let e = answers[1].as_ref().unwrap_err().to_string();
    assert!(
        e.contains("\"x\" expects a number") && e.contains("\"abc\""),
        "{e}"
    );
    let e = answers[2].as_ref().unwrap_err().to_string();
    assert!(
        e.contains("\"c\"") && e.contains("outside the declared values"),
        "{e}"
    );
    assert_eq!(answers[3], Ok(vec![Value::Missing]));
    assert_eq!(answers[4], Ok(vec![Value::Number(6.0)]));
}

/// Functions other than arithmetic, aggregates and the missingness tests refuse a missing
/// argument (as JPMML does), and say how to fix the model.
#[test]
fn a_function_that_cannot_take_a_missing_value_says_so() {
    let doc = format!(
        "{HEAD}{DICT}<TransformationDictionary><DerivedField name=\"t\" dataType=\"double\" optype=\"continuous\"><Apply function=\"threshold\"><FieldRef field=\"x\"/><Constant>1</Constant></Apply></DerivedField></TransformationDictionary><RegressionModel functionName=\"regression\"><MiningSchema><MiningField name=\"x\"/><MiningField name=\"y\" usageType=\"target\"/></MiningSchema><RegressionTable intercept=\"0\"><NumericPredictor name=\"t\" coefficient=\"1\"/></RegressionTable></RegressionModel></PMML>"
    );
    let model = PmmlModel::parse(&doc).unwrap();
    let answers = model.predict(&[vec![Value::Number(3.0)], vec![Value::Missing]]);
    assert_eq!(answers[0], Ok(vec![Value::Number(1.0)]));
    let e = answers[1].as_ref().unwrap_err().to_string();
    assert!(
        e.contains("function threshold got a missing value as argument 1")
            && e.contains("mapMissingTo"),
        "{e}"
    );
}
