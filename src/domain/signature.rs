//! What a served model takes and gives, as the control API shows it, and the example request
//! built from it: the one builder behind the CLI's `curl` line and the console's `y`, so the
//! line people paste is a request the model answers, not a placeholder that answers 400.

use serde::{Deserialize, Serialize};

/// One input of a model: its name, element type and, for categorical inputs, the values it
/// declares valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputField {
    pub name: String,
    /// `double`, `float`, `integer`, `string` or `boolean`.
    pub dtype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
}

/// One output: its name, element type and what it means (`predicted_value`,
/// `predicted_label`, `probability(CLASS)` or `other`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputField {
    pub name: String,
    pub dtype: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModelSignature {
    pub inputs: Vec<InputField>,
    pub outputs: Vec<OutputField>,
    /// An instance the model answers, when one value per input would not be one (an Angel
    /// DeepFM takes exactly its fields' features).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<serde_json::Value>,
}

impl ModelSignature {
    /// A TF Serving `:predict` body with one instance the model accepts: a categorical input
    /// gets its first declared value, a number 1, text "a", a flag true.
    pub fn example_body(&self) -> String {
        if let Some(instance) = &self.example {
            return serde_json::json!({ "instances": [instance] }).to_string();
        }
        let mut instance = serde_json::Map::new();
        for input in &self.inputs {
            let value = match (&input.categories, input.dtype.as_str()) {
                (Some(c), "double" | "float") if !c.is_empty() => {
                    number_or_text(&c[0], serde_json::json!(c[0]))
                }
                (Some(c), "integer") if !c.is_empty() => c[0]
                    .parse::<i64>()
                    .map_or_else(|_| serde_json::json!(c[0]), |n| serde_json::json!(n)),
                (Some(c), _) if !c.is_empty() => serde_json::json!(c[0]),
                (_, "integer") => serde_json::json!(1),
                (_, "double" | "float") => serde_json::json!(1.0),
                (_, "boolean") => serde_json::json!(true),
                _ => serde_json::json!("a"),
            };
            instance.insert(input.name.clone(), value);
        }
        serde_json::json!({ "instances": [instance] }).to_string()
    }
}

/// A declared value as a JSON number when it reads as one (a numeric category), else as text.
fn number_or_text(text: &str, fallback: serde_json::Value) -> serde_json::Value {
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(fallback, serde_json::Value::Number)
}

/// A `curl` command that calls `service` through the gateway exactly as pasted into a POSIX
/// shell: the key and the body are single-quoted, with any `'` in them escaped as `'\''`.
pub fn curl_line(gateway: &str, service: &str, host: &str, key: &str, body: &str) -> String {
    format!(
        "curl -s {gateway}/v1/models/{service}:predict -H {} -H {} -d {}",
        shell_quote(&format!("Host: {host}")),
        shell_quote(&format!("Authorization: {key}")),
        shell_quote(body),
    )
}

/// `text` as one single-quoted shell word.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_uses_declared_categories_and_types() {
        let sig = ModelSignature {
            inputs: vec![
                InputField {
                    name: "x".into(),
                    dtype: "double".into(),
                    categories: None,
                },
                InputField {
                    name: "colour".into(),
                    dtype: "string".into(),
                    categories: Some(vec!["red".into(), "blue".into()]),
                },
                InputField {
                    name: "n".into(),
                    dtype: "integer".into(),
                    categories: Some(vec!["3".into()]),
                },
            ],
            outputs: vec![],
            example: None,
        };
        assert_eq!(
            sig.example_body(),
            r#"{"instances":[{"colour":"red","n":3,"x":1.0}]}"#
        );
    }

    #[test]
    fn quotes_inside_values_survive_the_shell() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        let line = curl_line("http://g", "s", "s.h", "k", r#"{"a":"it's"}"#);
        assert!(line.ends_with(r#"-d '{"a":"it'\''s"}'"#), "{line}");
    }
}
