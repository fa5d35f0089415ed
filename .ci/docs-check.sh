#!/usr/bin/env bash
# Builds the manual (docs/, an mdBook) and checks every internal link of the built book.
#   1. mdbook, pinned, installed once into the tools cache with cargo (crates.io);
#   2. graphviz's `dot` (Debian's package) renders docs/diagrams/*.dot to docs/src/images/*.svg
#      (the SVGs are build output, not committed; redrawn only when their source changed);
#   3. `mdbook build docs` (into docs/book/);
#   4. every relative href/src of every generated page must name an existing file, and every
#      #fragment an existing id in its target page. A dead link fails the script and is printed.
# Idempotent: a second run finds the tools and the SVGs and only rebuilds the book (a few seconds).
# Usage: bash .ci/docs-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MDBOOK_VERSION="0.5.4"
OCEAN_CI_TOOLS="${OCEAN_CI_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ocean-codecov-ci}"
MDBOOK="$OCEAN_CI_TOOLS/bin/mdbook"
started=$SECONDS

# 1. mdbook
if [ -x "$MDBOOK" ] && "$MDBOOK" --version 2>/dev/null | grep -qx "mdbook v$MDBOOK_VERSION"; then
  echo "mdbook $MDBOOK_VERSION: $MDBOOK (cached)"
else
  echo "installing mdbook $MDBOOK_VERSION into $OCEAN_CI_TOOLS (a release build, about 3 minutes on 2 cores)"
  mkdir -p "$OCEAN_CI_TOOLS"
  # Only the HTML renderer with search: `serve` and `watch` are not needed to build.
  nice -n 10 cargo install mdbook --version "$MDBOOK_VERSION" --locked --quiet \
    --no-default-features --features search --root "$OCEAN_CI_TOOLS"
  "$MDBOOK" --version
fi

# 2. diagrams (and python3 for the link check below)
if ! command -v python3 >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
fi
if ! command -v dot >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
fi
mkdir -p docs/src/images
drawn=0
for source in docs/diagrams/*.dot; do
  svg="docs/src/images/$(basename "$source" .dot).svg"
  if [ ! -s "$svg" ] || [ "$source" -nt "$svg" ]; then
    dot -Tsvg "$source" -o "$svg.tmp"
    mv "$svg.tmp" "$svg"
    drawn=$((drawn + 1))
  fi
done
echo "diagrams: $(ls docs/diagrams/*.dot | wc -l) sources, $drawn drawn ($(dot -V 2>&1))"

# 3. the book
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! "$MDBOOK" build docs >"$log" 2>&1; then
  cat "$log"
  echo "FAIL mdbook build docs"
  exit 1
fi
# mdbook's warnings (an unknown key, a missing include) are shown, and fail the check too.
if grep -E ' (WARN|ERROR) ' "$log"; then
  echo "FAIL mdbook build docs: warnings above"
  exit 1
fi
echo "mdbook build docs: $(find docs/book -name '*.html' | wc -l) pages"

# 4. internal links
python3 - docs/book <<'PY'
import html.parser
import os
import sys
import urllib.parse

root = os.path.realpath(sys.argv[1])


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []  # (attribute, value, line)
        self.base = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "base" and attrs.get("href"):
            self.base = attrs["href"]
        for key in ("href", "src"):
            value = attrs.get(key)
            if value is not None:
                self.links.append((key, value, self.getpos()[0]))


pages = {}
for folder, _, files in os.walk(root):
    for name in files:
        if name.endswith(".html"):
            path = os.path.join(folder, name)
            page = Page()
            with open(path, encoding="utf-8") as f:
                page.feed(f.read())
            pages[os.path.realpath(path)] = page

dead = []
checked = 0
for path, page in sorted(pages.items()):
    here = os.path.relpath(path, root)
    # A page with <base href="/..."> (mdbook's 404.html) resolves links from the book's root.
    folder = root if page.base and page.base.startswith("/") else os.path.dirname(path)
    for key, value, line in page.links:
        url = urllib.parse.urlsplit(value)
        if url.scheme or value.startswith("//"):
            continue  # external (http:, https:, mailto:, data:, javascript:)
        checked += 1
        target_path = urllib.parse.unquote(url.path)
        if target_path:
            base = root if target_path.startswith("/") else folder
            target = os.path.realpath(os.path.join(base, target_path.lstrip("/")))
            if os.path.isdir(target):
                target = os.path.join(target, "index.html")
        else:
            target = path
        if not target.startswith(root + os.sep) and target != root:
            dead.append(f"{here}:{line}: {key}={value!r} leaves the book")
            continue
        if not os.path.isfile(target):
            dead.append(f"{here}:{line}: {key}={value!r}: no file {os.path.relpath(target, root)}")
            continue
        fragment = urllib.parse.unquote(url.fragment)
        if fragment and target.endswith(".html"):
            ids = pages[os.path.realpath(target)].ids
            if fragment not in ids:
                dead.append(
                    f"{here}:{line}: {key}={value!r}: no id {fragment!r} in {os.path.relpath(target, root)}"
                )

dead = list(dict.fromkeys(dead))  # mdbook may emit one image twice on a line
for line in dead:
    print(f"DEAD {line}")
print(f"links: {checked} internal links in {len(pages)} pages checked, {len(dead)} dead")
sys.exit(1 if dead else 0)
PY

echo "ok   docs: book in docs/book ($(find docs/book -name '*.html' | wc -l) pages), $((SECONDS - started)) s"
