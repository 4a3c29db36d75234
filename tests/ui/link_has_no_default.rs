//! Nor can a `Link` be had by default, and the facade does not re-export the type: only
//! the pages that hold a row version make its link.
use worktable_pages::Link;

fn main() {
    let _ = Link::default();
    let _: worktable::__private::Link;
}
