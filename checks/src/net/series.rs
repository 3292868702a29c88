//! CloudWatch series as the checks read them: one metric summed per period, per AZ
//! peaks, and runs of consecutive non-zero periods. Shared by idle-timeout-resets,
//! nlb-capacity and nlb-security-group so that they count the same way.

use crate::model::MetricSeries;
use std::collections::BTreeMap;

/// One metric summed across its series (per-AZ series are dropped when the
/// whole-load-balancer series exists, so nothing is counted twice), by timestamp.
pub fn per_period(
    metrics: &[MetricSeries],
    namespace: &str,
    names: &[&str],
) -> BTreeMap<String, f64> {
    let matching: Vec<&MetricSeries> = metrics
        .iter()
        .filter(|m| m.namespace == namespace && names.contains(&m.metric_name.as_str()))
        .collect();
    let whole: Vec<&&MetricSeries> = matching
        .iter()
        .filter(|m| !m.dimensions.contains_key("AvailabilityZone"))
        .collect();
    let chosen: Vec<&MetricSeries> = if whole.is_empty() {
        matching
    } else {
        whole.into_iter().copied().collect()
    };
    let mut out = BTreeMap::new();
    for m in chosen {
        for (t, v) in &m.points {
            *out.entry(t.clone()).or_insert(0.0) += v;
        }
    }
    out
}

/// Whether any series of the metric was collected at all (no series: not asked or not
/// visible; a series without points: asked, and nothing happened).
pub fn collected(metrics: &[MetricSeries], namespace: &str, name: &str) -> bool {
    metrics
        .iter()
        .any(|m| m.namespace == namespace && m.metric_name == name)
}

/// Sum of the values, from +0.0 (`Sum` for f64 starts at -0.0, which prints as "-0").
pub fn total(per_period: &BTreeMap<String, f64>) -> f64 {
    per_period.values().fold(0.0, |a, b| a + b)
}

/// The busiest period of the metric in each AZ (dimension `AvailabilityZone`): AZ name →
/// (period start, value). AZs whose series has no point above zero are left out.
pub fn peak_per_zone(
    metrics: &[MetricSeries],
    namespace: &str,
    name: &str,
) -> BTreeMap<String, (String, f64)> {
    let mut out: BTreeMap<String, (String, f64)> = BTreeMap::new();
    for m in metrics
        .iter()
        .filter(|m| m.namespace == namespace && m.metric_name == name)
    {
        let Some(zone) = m.dimensions.get("AvailabilityZone") else {
            continue;
        };
        for (t, v) in &m.points {
            let best = out.get(zone).map(|(_, b)| *b).unwrap_or(0.0);
            if *v > best {
                out.insert(zone.clone(), (t.clone(), *v));
            }
        }
    }
    out
}

/// The longest run of consecutive periods (in timestamp order) with a value above zero.
pub fn longest_nonzero_run(per_period: &BTreeMap<String, f64>) -> usize {
    let (mut best, mut run) = (0, 0);
    for v in per_period.values() {
        if *v > 0.0 {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, dims: &[(&str, &str)], values: &[f64]) -> MetricSeries {
        MetricSeries {
            namespace: "AWS/NetworkELB".into(),
            metric_name: name.into(),
            dimensions: dims
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            statistic: "Sum".into(),
            period_seconds: 300,
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("2026-11-24T09:{:02}:00Z", i * 5), *v))
                .collect(),
        }
    }

    #[test]
    fn whole_series_win_over_per_zone_ones_and_peaks_come_per_zone() {
        let lb = ("LoadBalancer", "net/a/1");
        let m = vec![
            series("PortAllocationErrorCount", &[lb], &[0.0, 5.0, 7.0]),
            series(
                "PortAllocationErrorCount",
                &[lb, ("AvailabilityZone", "us-east-1a")],
                &[0.0, 5.0, 3.0],
            ),
            series(
                "PortAllocationErrorCount",
                &[lb, ("AvailabilityZone", "us-east-1b")],
                &[0.0, 0.0, 4.0],
            ),
            series(
                "PortAllocationErrorCount",
                &[lb, ("AvailabilityZone", "us-east-1c")],
                &[0.0, 0.0, 0.0],
            ),
        ];
        let p = per_period(&m, "AWS/NetworkELB", &["PortAllocationErrorCount"]);
        assert_eq!(total(&p), 12.0, "the whole-NLB series only");
        let peaks = peak_per_zone(&m, "AWS/NetworkELB", "PortAllocationErrorCount");
        assert_eq!(peaks["us-east-1a"], ("2026-11-24T09:05:00Z".into(), 5.0));
        assert_eq!(peaks["us-east-1b"], ("2026-11-24T09:10:00Z".into(), 4.0));
        assert!(!peaks.contains_key("us-east-1c"), "no errors there");
        assert!(collected(&m, "AWS/NetworkELB", "PortAllocationErrorCount"));
        assert!(!collected(&m, "AWS/NetworkELB", "NewFlowCount"));
        // Without the whole series the zones add up.
        let p = per_period(&m[1..], "AWS/NetworkELB", &["PortAllocationErrorCount"]);
        assert_eq!(total(&p), 12.0);
    }

    #[test]
    fn runs_count_consecutive_nonzero_periods() {
        let p = |v: &[f64]| {
            per_period(
                &[series("PacketsDropped", &[], v)],
                "AWS/NetworkELB",
                &["PacketsDropped"],
            )
        };
        assert_eq!(longest_nonzero_run(&p(&[0.0, 1.0, 0.0, 1.0])), 1);
        assert_eq!(longest_nonzero_run(&p(&[3.0, 1.0, 2.0, 0.0, 9.0])), 3);
        assert_eq!(longest_nonzero_run(&p(&[])), 0);
        assert_eq!(total(&p(&[])).to_string(), "0");
    }
}
