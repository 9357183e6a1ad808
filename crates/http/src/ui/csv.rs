//! CSV downloads of the screens' tables (RFC 4180). A cell a spreadsheet would run as a formula
//! (one starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading apostrophe,
//! so an attacker-chosen name cannot execute when the file is opened.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use citius_app::AppResult;
use citius_domain::paging::{Cursor, Page};
use futures::future::BoxFuture;

/// One cell: neutralised when it could start a formula, quoted when it holds a separator, a
/// quote or a line break.
pub fn cell(value: &str) -> String {
    let risky = matches!(
        value.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    );
    let value = if risky {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One record, ended with CRLF.
pub fn line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut out = cells
        .iter()
        .map(|c| cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

/// A whole table as a file download.
pub fn download(
    filename: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Response {
    let mut body = line(header);
    for r in rows {
        body.push_str(&line(&r));
    }
    respond(filename, Body::from(body))
}

/// A paged list as a file download, streamed page by page so a long history never sits in
/// memory. The first page is fetched by the caller, so refusals still answer with a page.
pub fn paged<T: Send + 'static>(
    filename: &str,
    header: &'static [&'static str],
    first: Page<T>,
    next: impl Fn(Cursor) -> BoxFuture<'static, AppResult<Page<T>>> + Send + 'static,
    row: impl Fn(&T) -> Vec<String> + Send + 'static,
) -> Response {
    let stream = async_stream::stream! {
        yield Ok::<String, std::io::Error>(line(header));
        let mut page = first;
        loop {
            let chunk: String = page.items.iter().map(|t| line(&row(t))).collect();
            yield Ok(chunk);
            let Some(cursor) = page.next else { break };
            match next(cursor).await {
                Ok(p) => page = p,
                Err(e) => {
                    tracing::error!(error = %e, "CSV export stopped");
                    // Breaking the body tells the client the file is incomplete.
                    yield Err(std::io::Error::other("export failed"));
                    break;
                }
            }
        }
    };
    respond(filename, Body::from_stream(stream))
}

fn respond(filename: &str, body: Body) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_cells_stay_as_they_are() {
        assert_eq!(cell("Maya Lopez"), "Maya Lopez");
        assert_eq!(cell(""), "");
        assert_eq!(cell("a-b"), "a-b");
        assert_eq!(cell("ann@example.com"), "ann@example.com");
    }

    #[test]
    fn separators_quotes_and_line_breaks_are_quoted() {
        assert_eq!(cell("Lopez, Maya"), "\"Lopez, Maya\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("cr\rhere"), "\"cr\rhere\"");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(cell("=1+2"), "'=1+2");
        assert_eq!(cell("+49 30 1234"), "'+49 30 1234");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(
            cell("=HYPERLINK(\"http://x\",\"a,b\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"a,b\"\")\""
        );
    }

    #[test]
    fn lines_end_with_crlf() {
        assert_eq!(line(&["name", "email", "role"]), "name,email,role\r\n");
        assert_eq!(line(&["a,b", "=c"]), "\"a,b\",'=c\r\n");
    }
}
