//! Attachments: uploaded base64 with a message, downloaded as the same bytes, always as a
//! download (never rendered inline), within size limits.

use base64::Engine;
use citius_app::AppConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::kit::{
    Backend, TestApp, assert_error, assert_invalid, id, spawn_app_with, within_limit,
};

const MAX_ATTACHMENT: usize = 64 * 1024;

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

async fn upload_and_download(t: TestApp) {
    let tok = t.token.as_str();
    let conv = t.conversation(tok, "files@example.com", "Files").await;
    let path = format!("/api/v1/conversations/{}/messages", id(&conv));

    // Every byte value, not valid UTF-8: the bytes must survive exactly.
    let pdf: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let m = t
        .post_created(
            &path,
            tok,
            json!({"body": "Two files", "attachments": [
                {"filename": "report.pdf", "content_type": "application/pdf", "data_base64": b64(&pdf)},
                {"filename": "../../etc/page \"x\".html", "content_type": "text/html", "data_base64": b64(&html)},
            ]}),
        )
        .await;
    let list = m["attachments"]
        .as_array()
        .unwrap_or_else(|| panic!("no attachments in {m}"));
    assert_eq!(list.len(), 2, "{m}");
    let (a, evil) = (&list[0], &list[1]);
    assert_eq!(a["filename"], "report.pdf");
    assert_eq!(a["content_type"], "application/pdf");
    assert_eq!(a["size"], pdf.len());
    assert_eq!(a["sha256"].as_str().map(str::len), Some(64), "{a}");
    let evil_name = evil["filename"].as_str().expect("filename");
    assert!(
        !evil_name.contains('/') && !evil_name.contains('"'),
        "path and quote characters must go: {evil_name}"
    );

    // Listed with the message too.
    let listed = t.get_ok(&path, tok).await;
    let with_files = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|x| id(x) == id(&m))
        .cloned()
        .expect("message listed");
    assert_eq!(with_files["attachments"], m["attachments"]);

    // Download: same bytes, as an attachment, never sniffed.
    let r = t
        .send(t.request(Method::GET, &format!("/api/v1/attachments/{}", id(a)), tok))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.bytes, pdf, "downloaded bytes differ");
    let disposition = r
        .header("content-disposition")
        .unwrap_or_default()
        .to_string();
    assert!(
        disposition.starts_with("attachment"),
        "Content-Disposition: {disposition:?}"
    );
    assert!(
        disposition.contains("report.pdf"),
        "Content-Disposition names the file: {disposition:?}"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));

    // An HTML file is still only a download, and its name cannot break out of the header.
    let r = t
        .send(t.request(
            Method::GET,
            &format!("/api/v1/attachments/{}", id(evil)),
            tok,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.bytes, html);
    let disposition = r
        .header("content-disposition")
        .unwrap_or_default()
        .to_string();
    assert!(
        disposition.starts_with("attachment"),
        "Content-Disposition: {disposition:?}"
    );
    assert!(!disposition.contains('/'), "{disposition:?}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let ct = r.header("content-type").unwrap_or_default().to_lowercase();
    let csp = r
        .header("content-security-policy")
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        !ct.starts_with("text/html") || csp.contains("sandbox"),
        "HTML served as HTML without a sandbox: {ct} / {csp}"
    );

    // Credentials are needed, and unknown ids are 404.
    let (s, b) = t.get(&format!("/api/v1/attachments/{}", id(a)), "").await;
    assert_error(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "download without credentials",
    );
    let (s, b) = t.get("/api/v1/attachments/999999999", tok).await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "missing attachment",
    );

    // Bad uploads are refused as a whole: no message is stored.
    let count = || async {
        t.get_ok(&path, tok).await["items"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let before = count().await;
    let too_big = vec![7u8; MAX_ATTACHMENT + 1];
    let (s, b) = t.post(&path, tok, json!({"body": "big", "attachments": [{"filename": "big.bin", "data_base64": b64(&too_big)}]})).await;
    assert_invalid(s, &b, "attachments", "attachment over the limit");
    let (s, b) = t.post(&path, tok, json!({"body": "bad", "attachments": [{"filename": "x.bin", "data_base64": "***not base64***"}]})).await;
    assert_invalid(s, &b, "data_base64", "invalid base64");
    let (s, b) = t
        .post(
            &path,
            tok,
            json!({"body": "bad", "attachments": [{"filename": "", "data_base64": b64(b"x")}]}),
        )
        .await;
    assert_invalid(s, &b, "filename", "empty filename");
    let (s, b) = t
        .post(&path, tok, json!({"body": "bad", "attachments": [{"filename": "x", "content_type": "text/html\r\nX-Evil: 1", "data_base64": b64(b"x")}]}))
        .await;
    assert_invalid(s, &b, "content_type", "content type with a line break");
    let eleven: Vec<Value> = (0..11)
        .map(|n| json!({"filename": format!("f{n}.txt"), "data_base64": b64(b"x")}))
        .collect();
    let (s, b) = t
        .post(&path, tok, json!({"body": "many", "attachments": eleven}))
        .await;
    assert_invalid(s, &b, "attachments", "eleven attachments");
    // Far beyond any limit: refused without reading it all. The server may answer and close
    // while the upload is still being sent; then the client sees a broken connection instead of
    // the 413, which is also a refusal (checked below: nothing stored, server fine).
    let huge = b64(&vec![1u8; 30 * 1024 * 1024]);
    let body =
        json!({"body": "huge", "attachments": [{"filename": "huge.bin", "data_base64": huge}]});
    match t
        .try_send(t.request_alone(Method::POST, &path, tok).json(&body))
        .await
    {
        Ok(r) => assert_error(
            r.status,
            &r.body,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "30 MiB upload",
        ),
        Err(e) => assert!(
            e.is_request() || e.is_body(),
            "30 MiB upload failed oddly: {e}"
        ),
    }
    assert_eq!(t.get("/api/v1/health", "").await.0, StatusCode::OK);
    assert_eq!(count().await, before, "refused uploads stored messages");
}

// Spelled out instead of `both!`: these run with a small attachment limit.
mod upload_and_download {
    use super::*;

    fn config() -> AppConfig {
        AppConfig {
            max_attachment_bytes: MAX_ATTACHMENT,
            ..AppConfig::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        within_limit(super::upload_and_download(
            spawn_app_with(Backend::Sqlite, config()).await,
        ))
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        within_limit(super::upload_and_download(
            spawn_app_with(Backend::Postgres, config()).await,
        ))
        .await;
    }
}
