//! CloudWatch metrics as Embedded Metric Format (EMF) log lines: CloudWatch Logs extracts
//! them from the function's log group, so there is no PutMetricData call on the event's
//! path and no permission beyond writing logs.
//!
//! Dimensions are chosen for cost: each combination is a billed custom metric. Events
//! are split by `EventType` and `Outcome` (about ten combinations), everything else only
//! by `Deployment` (the module's `name`, so instances in one account stay apart).

use crate::shared::time::now_ms;

use serde_json::{json, Map, Value};

/// Where metrics go; absent when the module's `metrics_enabled` is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub namespace: String,
    pub deployment: String,
}

impl MetricsConfig {
    /// `METRICS_NAMESPACE` and `METRICS_DEPLOYMENT`; None unless both are set.
    pub fn from_env() -> Option<Self> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Some(Self {
            namespace: var("METRICS_NAMESPACE")?,
            deployment: var("METRICS_DEPLOYMENT")?,
        })
    }
}

/// One metric value of a directive.
pub struct Metric<'a> {
    pub name: &'a str,
    pub unit: &'a str,
    pub value: f64,
}

impl<'a> Metric<'a> {
    pub fn count(name: &'a str, value: f64) -> Self {
        Self {
            name,
            unit: "Count",
            value,
        }
    }
}

/// Metrics sharing one set of dimensions (beside `Deployment`, which every set has).
pub struct Directive<'a> {
    pub dimensions: &'a [(&'a str, &'a str)],
    pub metrics: &'a [Metric<'a>],
}

/// One EMF document holding every directive, as a single JSON line.
pub fn emf_line(config: &MetricsConfig, timestamp_ms: u64, directives: &[Directive<'_>]) -> String {
    let mut root = Map::new();
    root.insert("Deployment".into(), Value::from(config.deployment.as_str()));
    let mut declared = Vec::new();
    for directive in directives {
        let mut keys = vec!["Deployment"];
        for (name, value) in directive.dimensions {
            keys.push(name);
            root.insert((*name).into(), Value::from(*value));
        }
        for metric in directive.metrics {
            root.insert(metric.name.into(), json!(metric.value));
        }
        declared.push(json!({
            "Namespace": config.namespace,
            "Dimensions": [keys],
            "Metrics": directive.metrics.iter()
                .map(|m| json!({"Name": m.name, "Unit": m.unit}))
                .collect::<Vec<_>>(),
        }));
    }
    root.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": declared}),
    );
    Value::Object(root).to_string()
}

/// Writes an EMF line to standard output, which Lambda sends to the log group.
pub fn emit(config: &MetricsConfig, directives: &[Directive<'_>]) {
    println!("{}", emf_line(config, now_ms() as u64, directives));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_emf_specification() {
        let config = MetricsConfig {
            namespace: "IoTDeviceConnectivity".into(),
            deployment: "fleet".into(),
        };
        let line = emf_line(
            &config,
            1_700_000_000_000,
            &[
                Directive {
                    dimensions: &[("EventType", "connected"), ("Outcome", "applied")],
                    metrics: &[Metric {
                        name: "Events",
                        unit: "Count",
                        value: 1.0,
                    }],
                },
                Directive {
                    dimensions: &[],
                    metrics: &[Metric {
                        name: "EventLag",
                        unit: "Milliseconds",
                        value: 42.0,
                    }],
                },
            ],
        );
        let document: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            document,
            json!({
                "_aws": {"Timestamp": 1_700_000_000_000_u64, "CloudWatchMetrics": [
                    {"Namespace": "IoTDeviceConnectivity", "Dimensions": [["Deployment", "EventType", "Outcome"]],
                     "Metrics": [{"Name": "Events", "Unit": "Count"}]},
                    {"Namespace": "IoTDeviceConnectivity", "Dimensions": [["Deployment"]],
                     "Metrics": [{"Name": "EventLag", "Unit": "Milliseconds"}]}
                ]},
                "Deployment": "fleet", "EventType": "connected", "Outcome": "applied",
                "Events": 1.0, "EventLag": 42.0
            })
        );
        assert!(!line.contains('\n'), "one event per line");
    }
}
