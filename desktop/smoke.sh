#!/usr/bin/env bash
# CI smoke test of the desktop app on a virtual X display:
#   start Xvfb, run the app, draw a "7" on the canvas with real mouse events (xdotool),
#   take screenshots (OUT/smoke.png: whole screen, OUT/window.png: the window), close it.
#   Fails if the window never appears, the app dies, the screenshot is blank, or no
#   prediction was made (the app runs with SUMI_TRACE=1, which logs each prediction).
#
# Usage: desktop/smoke.sh path/to/sumi [out-dir (default target/smoke)]
# Needs: apt-get install -y xvfb xdotool imagemagick libx11-6 libx11-xcb1 libxcursor1 libxi6 libxkbcommon-x11-0
set -euo pipefail

bin=${1:?usage: smoke.sh path/to/sumi [out-dir]}
out=${2:-target/smoke}
mkdir -p "$out"
for tool in Xvfb xdotool import convert; do
    command -v "$tool" >/dev/null || {
        echo "smoke.sh: '$tool' is missing: apt-get install -y xvfb xdotool imagemagick" >&2
        exit 1
    }
done

display=":$((90 + RANDOM % 100))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$out/xvfb.log" 2>&1 &
xvfb=$!
app=""
cleanup() {
    [ -n "$app" ] && kill "$app" 2>/dev/null || true
    kill "$xvfb" 2>/dev/null || true
}
trap cleanup EXIT
export DISPLAY="$display"
x_up=""
for _ in $(seq 300); do
    xdotool getmouselocation >/dev/null 2>&1 && { x_up=1; break; }
    sleep 0.1
done
[ -n "$x_up" ] || {
    echo "smoke.sh: Xvfb $display did not start within 30 s:" >&2
    cat "$out/xvfb.log" >&2
    exit 1
}

SUMI_TRACE=1 "$bin" --lang en >"$out/app.log" 2>&1 &
app=$!

wid=""
for _ in $(seq 150); do
    wid=$(xdotool search --name '^Sumi' 2>/dev/null | head -n1 || true)
    [ -n "$wid" ] && break
    kill -0 "$app" 2>/dev/null || break
    sleep 0.2
done
if [ -z "$wid" ]; then
    echo "smoke.sh: the window never appeared; app log:" >&2
    cat "$out/app.log" >&2
    exit 1
fi
sleep 1.5 # first frame
eval "$(xdotool getwindowgeometry --shell "$wid")" # X Y WIDTH HEIGHT

# The canvas is the square in the left panel (see ui/app.slint): padding 12, header ~42,
# bottom row 150, three panels with stretch 3:2:2, card padding 12 and a 32 px title row.
top_h=$((HEIGHT - 24 - 42 - 20 - 150))
card_w=$(((WIDTH - 24 - 20) * 3 / 7))
side=$(((card_w - 24) < (top_h - 24 - 40) ? (card_w - 24) : (top_h - 24 - 40)))
cx=$((X + 12 + 12 + (card_w - 24 - side) / 2))
cy=$((Y + 12 + 42 + 10 + 12 + 40))
pt() { # fraction-x fraction-y -> absolute "x y"
    awk -v a="$1" -v b="$2" -v cx="$cx" -v cy="$cy" -v s="$side" 'BEGIN { printf "%d %d", cx + a * s, cy + b * s }'
}
stroke() { # list of "fx fy" pairs
    # shellcheck disable=SC2046
    xdotool mousemove $(pt $1 $2) mousedown 1
    shift 2
    while [ $# -ge 2 ]; do
        xdotool mousemove $(pt $1 $2)
        sleep 0.03
        shift 2
    done
    xdotool mouseup 1
}
stroke 0.28 0.22 0.40 0.21 0.50 0.21 0.62 0.21 0.72 0.22 0.66 0.36 0.58 0.50 0.52 0.66 0.46 0.84
sleep 1

import -window root "$out/smoke.png"
import -window "$wid" "$out/window.png"
colours=$(convert "$out/smoke.png" -format %k info:)
kill -0 "$app" 2>/dev/null || {
    echo "smoke.sh: the app exited while drawing; log:" >&2
    cat "$out/app.log" >&2
    exit 1
}
kill "$app"
wait "$app" 2>/dev/null || true
app=""
echo "smoke.sh: window $wid ${WIDTH}x${HEIGHT}, screenshot $out/smoke.png ($colours colours)"
grep -m1 'sumi: prediction' "$out/app.log" >/dev/null || {
    echo "smoke.sh: no prediction was made while drawing; log:" >&2
    cat "$out/app.log" >&2
    exit 1
}
echo "smoke.sh: last prediction: $(grep 'sumi: prediction' "$out/app.log" | tail -n1)"
[ "$colours" -gt 50 ] || {
    echo "smoke.sh: the screenshot looks blank ($colours colours)" >&2
    exit 1
}
