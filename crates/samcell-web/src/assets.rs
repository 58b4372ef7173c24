//! The page, embedded in the binary at compile time (`include_str!`): no files to install, no
//! build step. Plain HTML, CSS and JavaScript in `crates/samcell-web/assets/`.

/// (path under `/assets/`, content type, content)
pub const ASSETS: [(&str, &str, &str); 4] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    ),
    (
        "series.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/series.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../assets/favicon.svg"),
    ),
];

/// The page itself, served at `/`.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");

/// An embedded asset by name.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, t, c)| (*t, *c))
}
