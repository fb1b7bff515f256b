//! Rebuilds this crate when a migration is added or changed: `embed_migrations!` reads the
//! folder at compile time, and cargo would not otherwise know to look at it again.

fn main() {
    println!("cargo::rerun-if-changed=../../migrations");
}
