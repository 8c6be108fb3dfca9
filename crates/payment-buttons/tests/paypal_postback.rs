//! The HTTPS postback client against a local stand-in for PayPal's verification endpoint.
#![cfg(feature = "reqwest")]

use std::time::Duration;

use payment_buttons::paypal::{Postback, PostbackAnswer, ReqwestPostback};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// One HTTP request as the stand-in received it.
#[derive(Debug)]
struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves one request with `response` (raw HTTP), and hands back what it received.
async fn stand_in(response: &'static str) -> (String, oneshot::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cgi-bin/webscr", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let header_end = loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before the headers ended");
            raw.extend_from_slice(&buf[..n]);
            if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
        };
        let head = String::from_utf8(raw[..header_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap().to_owned();
        let headers: Vec<(String, String)> = lines
            .map(|l| l.split_once(':').unwrap())
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .expect("the postback must have a Content-Length");
        let mut body = raw[header_end + 4..].to_vec();
        while body.len() < length {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before the body ended");
            body.extend_from_slice(&buf[..n]);
        }
        socket.write_all(response.as_bytes()).await.unwrap();
        socket.shutdown().await.unwrap();
        let _ = tx.send(Received {
            request_line,
            headers,
            body,
        });
    });
    (url, rx)
}

const VERIFIED: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Length: 8\r\nConnection: close\r\n\r\nVERIFIED";
const INVALID: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Length: 7\r\nConnection: close\r\n\r\nINVALID";
const BUSY: &str = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: 45\r\nConnection: close\r\n\r\n<html><body>Service unavailable</body></html>";
const HTML_200: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 31\r\nConnection: close\r\n\r\n<html><body>Sorry</body></html>";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/paypal-ipn/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[tokio::test]
async fn the_body_goes_back_byte_for_byte_after_the_validate_command() {
    let (url, received) = stand_in(VERIFIED).await;
    // windows-1252 bytes and `+` spaces: any re-encoding would change them
    let body = fixture("dp-01-express_checkout-completed-win1252");
    let answer = ReqwestPostback::new(url).unwrap().validate(&body).await;
    assert_eq!(answer, PostbackAnswer::Verified);

    let received = received.await.unwrap();
    assert_eq!(received.request_line, "POST /cgi-bin/webscr HTTP/1.1");
    let mut expected = b"cmd=_notify-validate&".to_vec();
    expected.extend_from_slice(&body);
    assert_eq!(received.body, expected);
    assert_eq!(
        received.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        received.header("user-agent"),
        Some(concat!("librement-pay/", env!("CARGO_PKG_VERSION")))
    );
}

#[tokio::test]
async fn invalid_means_invalid() {
    let (url, received) = stand_in(INVALID).await;
    let answer = ReqwestPostback::new(url)
        .unwrap()
        .validate(&fixture("c-07-web_accept-completed-utf8"))
        .await;
    assert_eq!(answer, PostbackAnswer::Invalid);
    received.await.unwrap();
}

#[tokio::test]
async fn an_html_error_page_means_retry() {
    let (url, received) = stand_in(BUSY).await;
    let answer = ReqwestPostback::new(url)
        .unwrap()
        .validate(&fixture("c-07-web_accept-completed-utf8"))
        .await;
    assert_eq!(answer, PostbackAnswer::Retry("postback answered HTTP 500".into()));
    received.await.unwrap();
}

#[tokio::test]
async fn an_html_page_with_status_200_means_retry() {
    let (url, received) = stand_in(HTML_200).await;
    let answer = ReqwestPostback::new(url).unwrap().validate(b"txn_id=1").await;
    assert!(
        matches!(answer, PostbackAnswer::Retry(ref reason) if reason.contains("neither")),
        "{answer:?}"
    );
    received.await.unwrap();
}

#[tokio::test]
async fn a_silent_server_means_retry_after_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cgi-bin/webscr", listener.local_addr().unwrap());
    // Accepts, reads, never answers.
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut sink = Vec::new();
        let _ = socket.read_to_end(&mut sink).await;
    });
    let postback = ReqwestPostback::with_timeout(url, Duration::from_millis(300)).unwrap();
    assert_eq!(
        postback.validate(b"txn_id=1").await,
        PostbackAnswer::Retry("postback timed out".into())
    );
    server.abort();
}

#[tokio::test]
async fn a_refused_connection_means_retry() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cgi-bin/webscr", listener.local_addr().unwrap());
    drop(listener);
    let answer = ReqwestPostback::new(url).unwrap().validate(b"txn_id=1").await;
    assert_eq!(answer, PostbackAnswer::Retry("postback could not connect".into()));
}

#[tokio::test]
async fn the_answer_comes_back_as_it_came_for_the_log() {
    let (url, received) = stand_in(VERIFIED).await;
    let (answer, call) = ReqwestPostback::new(url.clone())
        .unwrap()
        .validate_with_call(&fixture("c-07-web_accept-completed-utf8"))
        .await;
    assert_eq!(answer, PostbackAnswer::Verified);
    let call = call.expect("an answer came, so there is one to log");
    assert_eq!(call.request, format!("POST {url}"));
    assert_eq!(call.status, 200);
    assert_eq!(call.content_type.as_deref(), Some("text/html; charset=UTF-8"));
    assert_eq!(call.body, b"VERIFIED");
    received.await.unwrap();
}

#[tokio::test]
async fn an_error_page_is_an_answer_to_log_too() {
    let (url, received) = stand_in(BUSY).await;
    let (answer, call) = ReqwestPostback::new(url).unwrap().validate_with_call(b"txn_id=1").await;
    assert!(matches!(answer, PostbackAnswer::Retry(_)), "{answer:?}");
    let call = call.expect("the error page is PayPal's answer");
    assert_eq!(call.status, 500);
    assert_eq!(call.body, b"<html><body>Service unavailable</body></html>");
    received.await.unwrap();
}

#[tokio::test]
async fn no_answer_means_nothing_to_log() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cgi-bin/webscr", listener.local_addr().unwrap());
    drop(listener);
    let (answer, call) = ReqwestPostback::new(url).unwrap().validate_with_call(b"txn_id=1").await;
    assert_eq!(answer, PostbackAnswer::Retry("postback could not connect".into()));
    assert_eq!(call, None);
}

#[tokio::test]
async fn the_logged_request_names_the_url_without_its_credentials() {
    let (url, received) = stand_in(INVALID).await;
    let with_secrets = url.replace("http://", "http://shop:s3cret@") + "?token=t0ken";
    let (answer, call) = ReqwestPostback::new(with_secrets)
        .unwrap()
        .validate_with_call(b"txn_id=1")
        .await;
    assert_eq!(answer, PostbackAnswer::Invalid);
    let request = call.expect("answered").request;
    assert_eq!(request, format!("POST {url}"));
    assert!(!request.contains("s3cret") && !request.contains("t0ken"), "{request}");
    received.await.unwrap();
}
