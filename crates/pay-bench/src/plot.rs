//! The SVG plot of the drain report: messages per second against postback latency, one line per backend
//! and one for django-paypal, and the target as a dashed line. The rate axis is logarithmic: ours and the
//! peer's differ by two orders of magnitude, and a linear axis would flatten the peer onto zero. Hand-written SVG: a few lines and labels need no plotting crate.

use std::fmt::Write as _;

const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const PLOT_WIDTH: f64 = 420.0;
/// The least room right of the plot: the target's label.
const RIGHT: f64 = 150.0;
/// Where a legend name starts, right of the plot.
const LEGEND_TEXT: f64 = 34.0;
/// A generous width of one character at 12 px sans-serif, so that the longest legend name fits the image.
const CHAR_WIDTH: f64 = 7.5;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// `series`: (name, [(latency ms, messages/s)]), latencies in the same order for every series; `target` is
/// drawn as a dashed horizontal line. Latencies are placed evenly (0, 50, 200, 1000 are far from linear).
pub fn drain_svg(series: &[(String, Vec<(u64, f64)>)], target: f64) -> String {
    let latencies: Vec<u64> =
        series
            .iter()
            .flat_map(|(_, p)| p.iter().map(|(l, _)| *l))
            .fold(Vec::new(), |mut v, l| {
                if !v.contains(&l) {
                    v.push(l);
                }
                v
            });
    let top_value = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, r)| *r))
        .fold(target, f64::max);
    let decades = decades(top_value);
    let plot_w = PLOT_WIDTH;
    let longest_name = series.iter().map(|(name, _)| name.chars().count()).max().unwrap_or(0);
    let width = LEFT + plot_w + RIGHT.max(LEGEND_TEXT + CHAR_WIDTH * longest_name as f64 + 8.0);
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x_of = |latency: u64| {
        let i = latencies.iter().position(|l| *l == latency).unwrap_or(0) as f64;
        let n = (latencies.len().max(2) - 1) as f64;
        LEFT + plot_w * i / n
    };
    let y_of = |v: f64| TOP + plot_h * (1.0 - v.max(1.0).log10() / decades);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">Drain rate against PayPal postback latency</text>"#,
        LEFT + plot_w / 2.0
    );
    for k in 0..=decades as i32 {
        let v = 10f64.powi(k);
        let y = y_of(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v:.0}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0
        );
    }
    for &l in &latencies {
        let x = x_of(l);
        let _ = writeln!(
            svg,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{l}</text>"#,
            TOP + plot_h + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">postback latency, ms</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">messages verified and applied / s (log)</text>"#,
        TOP + plot_h / 2.0
    );
    let ty = y_of(target);
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" stroke="#888" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#555">target {target:.0}/s</text>"##,
        LEFT + plot_w,
        LEFT + plot_w + 8.0,
        ty + 4.0
    );
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|(l, r)| format!("{:.1},{:.1}", x_of(*l), y_of(*r)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for (l, r) in points {
            let (x, y) = (x_of(*l), y_of(*r));
            let _ = writeln!(
                svg,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}"/><text x="{:.1}" y="{:.1}" fill="{colour}">{r:.0}</text>"#,
                x + 6.0,
                y - 6.0 - 12.0 * i as f64
            );
        }
        let ly = TOP + 20.0 + 20.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{name}</text>"#,
            LEFT + plot_w + 8.0,
            LEFT + plot_w + 28.0,
            LEFT + plot_w + LEGEND_TEXT,
            ly + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// How many powers of ten the rate axis spans from 1/s: enough to leave a tenth of headroom above `top`.
fn decades(top: f64) -> f64 {
    (top.max(1.0) * 1.1).log10().ceil().max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_axis_ends_on_the_power_of_ten_above_the_highest_rate() {
        assert_eq!(decades(1300.0), 4.0);
        assert_eq!(decades(950.0), 4.0, "1,000 would put the target on the frame");
        assert_eq!(decades(800.0), 3.0);
        assert_eq!(decades(0.0), 1.0);
    }

    #[test]
    fn each_series_is_a_line_with_its_values() {
        let svg = drain_svg(
            &[
                ("SQLite".into(), vec![(0, 3000.0), (200, 1100.0)]),
                ("PostgreSQL".into(), vec![(0, 2500.0), (200, 1050.0)]),
                ("django-paypal".into(), vec![(0, 180.0), (200, 9.0)]),
            ],
            1000.0,
        );
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert!(svg.contains(">1100<") && svg.contains(">PostgreSQL<") && svg.contains("target 1000/s"));
        assert!(svg.contains(">9<") && svg.contains(">django-paypal<"));
    }

    #[test]
    fn the_longest_legend_name_fits_in_the_image() {
        let name = "django-paypal (5 workers, gunicorn sync)";
        let svg = drain_svg(&[(name.into(), vec![(0, 180.0), (200, 9.0)])], 1000.0);
        let width: f64 = svg
            .split("width=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|w| w.parse().ok())
            .expect("the image's width");
        let legend_x: f64 = svg
            .split(&format!(">{name}<"))
            .next()
            .and_then(|before| before.rsplit("x=\"").next())
            .and_then(|rest| rest.split('"').next())
            .and_then(|x| x.parse().ok())
            .expect("the legend's x");
        let needed = legend_x + CHAR_WIDTH * name.chars().count() as f64;
        assert!(needed <= width, "the legend ends at {needed} in an image {width} wide");
    }
}
