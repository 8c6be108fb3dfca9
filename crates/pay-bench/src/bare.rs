//! The framework's limit: an actix-web server whose only handler reads the body and answers 200 empty,
//! like `POST /notify/paypal` does minus the log. Run as `pay-bench bare-server --bind ADDR`.

use actix_web::{App, HttpResponse, HttpServer, web};

/// Same body limit as the notification route.
const MAX_BODY: usize = 256 * 1024;

async fn notify(body: web::Bytes) -> HttpResponse {
    // Reading the body is the work being measured; its length keeps the read from being optimised away.
    std::hint::black_box(body.len());
    HttpResponse::Ok().finish()
}

/// Serves until killed; prints the bound address like `librement-server` does.
pub fn serve(bind: &str) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(|| {
            App::new().service(
                web::resource("/notify/paypal")
                    .app_data(web::PayloadConfig::new(MAX_BODY))
                    .route(web::post().to(notify)),
            )
        })
        .bind(bind)?;
        let addr = server.addrs().first().copied();
        if let Some(addr) = addr {
            println!("bare actix-web listening on http://{addr}");
        }
        server.run().await
    })?;
    Ok(())
}
