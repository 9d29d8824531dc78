#!/usr/bin/env bash
# Browser end-to-end test: serves the page built by desktop/web/build.sh on 127.0.0.1, opens it
# in headless Chromium (Debian's `chromium`), draws a 7 with real mouse events over the
# DevTools protocol and checks that the page shows 7, then clears with Esc and draws a 1 with
# touch events and checks 1 (desktop/web/e2e.mjs); prints the page's
# size and the time per prediction in the browser. Needs: chromium, node >= 20, python3.
#
# Usage: desktop/web/test.sh [page-dir (default target/web)]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
page=${1:-${CARGO_TARGET_DIR:-$root/target}/web}
[ -f "$page/index.html" ] && [ -f "$page/sumi_desktop_bg.wasm" ] || {
    echo "test.sh: no page in $page: run desktop/web/build.sh first" >&2
    exit 1
}
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "test.sh: chromium is missing: apt-get install -y chromium" >&2; exit 1; }

wasm=$page/sumi_desktop_bg.wasm
js=$page/sumi_desktop.js
echo "test.sh: page size: wasm $(wc -c <"$wasm") B + JS $(wc -c <"$js") B;" \
    "gzip -9: wasm $(gzip -9 -c "$wasm" | wc -c) B + JS $(gzip -9 -c "$js" | wc -c) B"

port=$((20000 + RANDOM % 20000))
devtools=$((port + 1))
work=$(mktemp -d)
server="" chrome=""
cleanup() {
    for pid in $chrome $server; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$page" >"$work/server.log" 2>&1 &
server=$!
"$browser" --headless=new --no-sandbox --disable-gpu --no-first-run --no-default-browser-check \
    --user-data-dir="$work/profile" --remote-debugging-address=127.0.0.1 \
    --remote-debugging-port="$devtools" --window-size=1100,720 about:blank \
    >"$work/chromium.log" 2>&1 &
chrome=$!
out=${CARGO_TARGET_DIR:-$root/target}/web-e2e
mkdir -p "$out"
if ! node --experimental-websocket desktop/web/e2e.mjs "$devtools" \
    "http://127.0.0.1:$port/index.html" "$out/page.png" 2> >(grep -v ExperimentalWarning >&2); then
    echo "test.sh: Chromium log (last lines):" >&2
    tail -n 20 "$work/chromium.log" >&2
    exit 1
fi
echo "test.sh: screenshot $out/page.png"
