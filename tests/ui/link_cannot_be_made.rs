//! A `Link` cannot be forged from parts: its fields are private to `worktable-pages`.
use worktable_pages::Link;

fn main() {
    let _ = Link {
        page_id: 0,
        offset: 0,
        length: 1,
    };
}
