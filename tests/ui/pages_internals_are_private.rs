//! Used directly, `worktable-pages` still lets no one read a page at a link, retire a
//! version, or publish one outside a commit.
use std::sync::Arc;

use worktable_pages::{DataPages, Guard, PageWriter, Retirer};

fn main() {
    let pages = Arc::new(DataPages::<(u64, String)>::new(4096, 1).expect("valid size"));
    let mut writer = PageWriter::new(Arc::clone(&pages), 0).expect("shard 0");
    let version = writer.write_row(&(1, "a".to_string())).expect("fits");
    let _ = version.link();
    let link = version.publish();
    let guard = Guard::new();
    let _ = pages.read(link, &guard);
    let _ = pages.retirer();
}
