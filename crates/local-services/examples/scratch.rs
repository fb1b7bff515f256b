//! Temporary manual check.
fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_default());
    let t = std::time::Instant::now();
    match local_services::MariaDb::start(&dir, None) {
        Ok(db) => {
            println!(
                "reused? port {} pid {:?} in {:?}",
                db.port(),
                db.pid(),
                t.elapsed()
            );
            if std::env::args().nth(2).as_deref() == Some("detach") {
                println!("detached {:?}", db.detach());
            }
        }
        Err(e) => println!("error: {e}"),
    }
}
