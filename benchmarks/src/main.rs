//! tmp
fn main() {
    let root = benchmarks::paths::repo_root();
    let files = benchmarks::data::generate(&benchmarks::paths::data_dir(&root), &benchmarks::data::DatasetsSpec::standard()).unwrap();
    for f in files { println!("{}", f.display()); }
}
