// The admin UI is embedded from ui/dist (rust-embed); rebuild when a new UI build lands.
fn main() {
    println!("cargo:rerun-if-changed=../ui/dist");
}
