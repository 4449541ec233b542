//! Each step kind run through the PMML engine, against results worked out by hand.

use super::*;
use crate::runtime::pmml::PmmlModel;
use crate::runtime::{Predictor, RecordError, Value};

fn spec(name: &str, dtype: DType) -> FieldSpec {
    FieldSpec {
        name: name.into(),
        dtype,
        shape: vec![],
        categories: None,
    }
}

fn steps(texts: &[&str]) -> Vec<Step> {
    texts.iter().map(|t| t.parse().unwrap()).collect()
}

struct Case {
    header: Vec<(String, Ty)>,
    inputs: Vec<FieldSpec>,
}

fn case(header: &[(&str, Ty)], inputs: &[(&str, DType)]) -> Case {
    Case {
        header: header.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        inputs: inputs.iter().map(|(n, d)| spec(n, *d)).collect(),
    }
}

impl Case {
    fn build(&self, texts: &[&str], stats: &Stats) -> Result<Chain, ChainError> {
        build(&steps(texts), Some(&self.header), &self.inputs, stats, None)
    }

    /// Runs each row (cells in header order, "" for missing) through the chain.
    fn run(&self, texts: &[&str], stats: &Stats, rows: &[&[&str]]) -> Vec<Vec<Value>> {
        let chain = self.build(texts, stats).unwrap();
        self.eval(&chain, rows)
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{e}\n{}", chain.pmml)))
            .collect()
    }

    /// The chain's values for each row, its filters' verdicts last.
    fn eval(&self, chain: &Chain, rows: &[&[&str]]) -> Vec<Result<Vec<Value>, RecordError>> {
        let model = PmmlModel::parse(&chain.pmml).unwrap_or_else(|e| panic!("{e}\n{}", chain.pmml));
        let skip = model.signature().outputs.len() - chain.outputs - chain.filters;
        let prepared = chain.prepare().unwrap();
        let records = self.records(chain, rows);
        // What `Prepared` hands on agrees with the raw outputs.
        let kept = prepared.apply(&records);
        model
            .predict(&records)
            .into_iter()
            .zip(kept)
            .map(|(all, kept)| {
                let all = all.map(|v| v[skip..].to_vec());
                if let (Ok(all), Ok(kept)) = (&all, &kept) {
                    let pass = all[chain.outputs..].iter().all(is_true);
                    assert_eq!(kept.is_some(), pass);
                }
                all
            })
            .collect()
    }

    fn records(&self, chain: &Chain, rows: &[&[&str]]) -> Vec<Vec<Value>> {
        rows.iter()
            .map(|row| {
                chain
                    .raw
                    .iter()
                    .map(|c| {
                        let i = self.header.iter().position(|(h, _)| h == c).unwrap();
                        match row[i] {
                            "" => Value::Missing,
                            text => Value::String(text.into()),
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => *n,
        Value::Integer(i) => *i as f64,
        other => panic!("{other:?} is not a number"),
    }
}

fn text(v: &Value) -> String {
    v.to_string()
}

const D: DType = DType::Double;

#[test]
fn rename_select_and_drop_move_columns_only() {
    let c = case(
        &[("a", Ty::Double), ("b", Ty::Double), ("c", Ty::Double)],
        &[("x", D), ("b", D)],
    );
    let out = c.run(
        &["drop:c", "rename:a=x"],
        &Stats::new(),
        &[&["1", "2", "3"]],
    );
    assert_eq!(out[0].iter().map(num).collect::<Vec<_>>(), [1.0, 2.0]);
    let out = c.run(
        &["select:a,b", "rename:a=x"],
        &Stats::new(),
        &[&["4", "5", "6"]],
    );
    assert_eq!(out[0].iter().map(num).collect::<Vec<_>>(), [4.0, 5.0]);

    let err = c
        .build(&["rename:a=x", "drop:b"], &Stats::new())
        .unwrap_err();
    assert_eq!(err.at.as_ref().map(|a| a.0), Some(1), "{err}");
    assert!(err.to_string().contains("the model needs \"b\""), "{err}");
    let err = c
        .build(&["select:a", "rename:a=x"], &Stats::new())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "step 1 (select:a): the model needs \"b\", which this step leaves out"
    );
    let err = c
        .build(&["drop:a", "rename:a=x"], &Stats::new())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "step 2 (rename:a=x): there is no column \"a\" here: step 1 (drop) removed it"
    );
    let err = c.build(&["drop:zz"], &Stats::new()).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "step 1 (drop:zz): the input has no column \"zz\" (its header has 3 columns"
        ),
        "{err}"
    );
}

#[test]
fn cast_fill_and_map_rewrite_values() {
    let c = case(
        &[("n", Ty::String), ("s", Ty::String)],
        &[("n", D), ("s", D)],
    );
    let out = c.run(
        &["cast:n=double", "fill:n=30", "map:s a=1,b=2,*=0"],
        &Stats::new(),
        &[&["3.5", "b"], &["", "zz"], &["7", ""]],
    );
    assert_eq!(num(&out[0][0]), 3.5);
    assert_eq!(num(&out[0][1]), 2.0);
    assert_eq!(num(&out[1][0]), 30.0, "a missing value is filled");
    assert_eq!(
        num(&out[1][1]),
        0.0,
        "a value not in the table takes the default"
    );
    assert_eq!(out[2][1], Value::Missing, "a missing value stays missing");

    // A fill's statistic comes from a first pass when not given.
    let c = case(&[("n", Ty::Double)], &[("n", D)]);
    let chain = c.build(&["fill:n=median"], &Stats::new()).unwrap();
    assert_eq!(chain.needs, [(0, Need::Median)]);
    let stats = Stats::from([(0, Stat::Value("2.5".into()))]);
    let out = c.run(&["fill:n=median"], &stats, &[&[""], &["9"]]);
    assert_eq!((num(&out[0][0]), num(&out[1][0])), (2.5, 9.0));

    // Mode fills text too; the texts the model knows pass through the engine.
    let mut c = case(&[("s", Ty::String)], &[("s", DType::String)]);
    c.inputs[0].categories = Some(vec!["red".into(), "blue".into()]);
    let stats = Stats::from([(0, Stat::Value("red".into()))]);
    let out = c.run(&["fill:s=mode"], &stats, &[&[""], &["blue"]]);
    assert_eq!(
        (text(&out[0][0]), text(&out[1][0])),
        ("red".into(), "blue".into())
    );
}

#[test]
fn standardise_and_min_max_scale_linearly() {
    let c = case(
        &[("x", Ty::Double), ("y", Ty::Double)],
        &[("x", D), ("y", D)],
    );
    let out = c.run(
        &["standardise:x mean=10 std=2", "minmax:y min=0 max=10"],
        &Stats::new(),
        &[&["14", "5"], &["7", "15"], &["", ""]],
    );
    assert_eq!((num(&out[0][0]), num(&out[0][1])), (2.0, 0.5));
    assert_eq!(
        (num(&out[1][0]), num(&out[1][1])),
        (-1.5, 1.5),
        "beyond the range extrapolates"
    );
    assert_eq!(out[2], [Value::Missing, Value::Missing]);
    // Statistics from a pass; a column without spread maps to 0.
    let stats = Stats::from([(0, Stat::MeanStd(3.0, 0.0)), (1, Stat::Range(-1.0, 1.0))]);
    let out = c.run(&["standardise:x", "minmax:y"], &stats, &[&["3", "0"]]);
    assert_eq!((num(&out[0][0]), num(&out[0][1])), (0.0, 0.5));

    let c = case(&[("s", Ty::String)], &[("s", D)]);
    let err = c
        .build(&["standardise:s mean=1 std=1"], &Stats::new())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("standardise needs numbers, but \"s\" holds text: add a cast step"),
        "{err}"
    );
}

#[test]
fn one_hot_makes_a_column_per_value() {
    let c = case(&[("s", Ty::String)], &[("s_a", D), ("s_b", D)]);
    let out = c.run(
        &["onehot:s values=a|b"],
        &Stats::new(),
        &[&["b"], &["a"], &["c"]],
    );
    let nums = |r: &Vec<Value>| r.iter().map(num).collect::<Vec<_>>();
    assert_eq!(nums(&out[0]), [0.0, 1.0]);
    assert_eq!(nums(&out[1]), [1.0, 0.0]);
    assert_eq!(nums(&out[2]), [0.0, 0.0]);
    // Values from a pass; before it, the model's s_… inputs are taken on trust.
    let chain = c.build(&["onehot:s"], &Stats::new()).unwrap();
    assert_eq!(chain.needs, [(0, Need::Values)]);
    let stats = Stats::from([(0, Stat::Values(vec!["a".into(), "b".into()]))]);
    assert_eq!(
        nums(&c.run(&["onehot:s"], &stats, &[&["a"]])[0]),
        [1.0, 0.0]
    );
    let err = c.build(&["onehot:s", "derive:t=s"], &stats).unwrap_err();
    assert!(
        err.to_string().contains("step 1 (onehot) removed it"),
        "{err}"
    );
}

#[test]
fn filter_and_derive_run_expressions() {
    let c = case(
        &[("x", Ty::Double), ("s", Ty::String)],
        &[("y", D), ("big", DType::String)],
    );
    let chain = c
        .build(
            &[
                "derive:y=x * 2 + 1",
                "derive:big=if(x > 3, \"big\", \"small\")",
                "filter:not is_missing(s) and x >= 2",
            ],
            &Stats::new(),
        )
        .unwrap();
    assert_eq!(chain.filters, 1);
    let out: Vec<Vec<Value>> = c
        .eval(&chain, &[&["3", "k"], &["1", "k"], &["5", ""]])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!((num(&out[0][0]), text(&out[0][1])), (7.0, "small".into()));
    assert!(is_true(&out[0][2]));
    assert!(!is_true(&out[1][2]), "x below 2 is filtered out");
    assert_eq!(text(&out[2][1]), "big");
    assert!(!is_true(&out[2][2]), "a missing s is filtered out");

    let err = c.build(&["filter:x + 1"], &Stats::new()).unwrap_err();
    assert!(
        err.to_string()
            .contains("a filter keeps the rows where it is true"),
        "{err}"
    );
    let err = c.build(&["derive:y=x *"], &Stats::new()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("step 1 (derive:y=x *): \"x *\" at column"),
        "{err}"
    );
}

#[test]
fn the_model_input_types_are_checked_naming_the_step() {
    let c = case(&[("s", Ty::String)], &[("s", D)]);
    let err = c.build(&["map:s a=x,b=y"], &Stats::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "step 1 (map:s a=x,b=y): the model's input \"s\" is a double, but step 1 (map) makes it text"
    );
    // Untouched, a text column read for a numeric input is read as numbers (bad cells are bad
    // records), not refused.
    assert!(c.build(&[], &Stats::new()).is_ok());
    // Without a header, anything not produced is taken to be in the file.
    let chain = build(
        &steps(&["derive:z=x+y"]),
        None,
        &[spec("z", D), spec("w", D)],
        &Stats::new(),
        None,
    )
    .unwrap();
    assert_eq!(chain.raw, ["x", "y", "w"]);
    let err = c.build(&["drop:s"], &Stats::new()).unwrap_err();
    assert!(
        err.to_string()
            .contains("the model needs \"s\", which this step leaves out"),
        "{err}"
    );
}

#[test]
fn a_first_pass_sees_the_column_as_the_step_does() {
    let c = case(&[("x", Ty::Double)], &[("x", D)]);
    let s = steps(&["derive:x=x * 10", "fill:x=mean", "standardise:x"]);
    let chain = build(&s, Some(&c.header), &c.inputs, &Stats::new(), Some(1)).unwrap();
    let out = c.eval(&chain, &[&["2"]]);
    assert_eq!(num(&out[0].as_ref().unwrap()[0]), 20.0);
    let full = build(&s, Some(&c.header), &c.inputs, &Stats::new(), None).unwrap();
    assert_eq!(full.needs, [(1, Need::Mean), (2, Need::MeanStd)]);
}
