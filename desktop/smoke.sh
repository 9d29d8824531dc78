#!/usr/bin/env bash
# CI smoke test of the desktop app on a virtual X display:
#   start Xvfb, run the app, draw a "7" on the canvas with real mouse events (xdotool),
#   take screenshots (OUT/smoke.png: whole screen, OUT/window.png: the window), close it.
#   Fails if the window never appears, the app dies, the screenshot is blank, or no
#   prediction was made (the app runs with SUMI_TRACE=1, which logs each prediction).
#   With --kiosk: `sumi --kiosk --kiosk-idle 3` on an 800x480 screen (a Raspberry Pi
#   touchscreen); the 7 must be read as 7, and 3 s later the canvas must be empty again.
#
# Usage: desktop/smoke.sh path/to/sumi [out-dir (default target/smoke)] [--kiosk]
# Needs: apt-get install -y xvfb xdotool imagemagick libx11-6 libx11-xcb1 libxcursor1 libxi6 libxkbcommon-x11-0
set -euo pipefail

bin=${1:?usage: smoke.sh path/to/sumi [out-dir] [--kiosk]}
out=${2:-target/smoke}
kiosk=""
[ "${3:-}" = "--kiosk" ] && kiosk=1
screen=1280x800
app_args=(--lang en)
if [ -n "$kiosk" ]; then
    screen=800x480
    app_args=(--lang en --kiosk --kiosk-idle 3)
fi
mkdir -p "$out"
for tool in Xvfb xdotool import convert; do
    command -v "$tool" >/dev/null || {
        echo "smoke.sh: '$tool' is missing: apt-get install -y xvfb xdotool imagemagick" >&2
        exit 1
    }
done

display=":$((90 + RANDOM % 100))"
Xvfb "$display" -screen 0 "${screen}x24" -nolisten tcp >"$out/xvfb.log" 2>&1 &
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

SUMI_TRACE=1 "$bin" "${app_args[@]}" >"$out/app.log" 2>&1 &
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

if [ -n "$kiosk" ]; then
    # Without a window manager, winit's full-screen request gives an 800x600 window on Xvfb's
    # 800x480 screen (a real kiosk compositor or X window manager sizes it to the screen):
    # do what the window manager would.
    if [ "${WIDTH}x${HEIGHT}" != "$screen" ]; then
        echo "smoke.sh: full-screen window is ${WIDTH}x${HEIGHT} without a window manager; sizing it to $screen"
        xdotool windowmove "$wid" 0 0 windowsize "$wid" 800 480
        sleep 1
        eval "$(xdotool getwindowgeometry --shell "$wid")"
    fi
    # Compact landscape layout in kiosk mode (ui/app.slint, tests/snapshots/800x480-kiosk-en.png):
    # padding 8, a 48 px header, spacing 8; canvas card 348 px wide (800 - 16 - 16 - 200 - 220),
    # card padding 12 and a 48 px button row + 8: the canvas is the 324 px square at (20, 132).
    side=324
    cx=$((X + 20))
    cy=$((Y + 132))
else
    # The canvas is the square in the left panel (see ui/app.slint): padding 12, header ~42,
    # bottom row 180, three panels with stretch 4:2:2, card padding 12 and a 40 px title row.
    top_h=$((HEIGHT - 24 - 42 - 20 - 180))
    card_w=$(((WIDTH - 24 - 20) * 4 / 8))
    side=$(((card_w - 24) < (top_h - 24 - 40) ? (card_w - 24) : (top_h - 24 - 40)))
    cx=$((X + 12 + 12 + (card_w - 24 - side) / 2))
    cy=$((Y + 12 + 42 + 10 + 12 + 40))
fi
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
if [ -n "$kiosk" ]; then
    last=$(grep 'sumi: prediction' "$out/app.log" | tail -n1 || true)
    case "$last" in
        "sumi: prediction 7 "*) ;;
        *)
            echo "smoke.sh: kiosk: the 7 was not read as 7 (last: '$last'); log:" >&2
            cat "$out/app.log" >&2
            exit 1
            ;;
    esac
    sleep 4.5 # --kiosk-idle 3
    import -window root "$out/idle.png"
    grep -q 'sumi: idle, back to the empty canvas' "$out/app.log" || {
        echo "smoke.sh: kiosk: the canvas was not emptied after 3 s idle; log:" >&2
        cat "$out/app.log" >&2
        exit 1
    }
    echo "smoke.sh: kiosk: back to the empty canvas after 3 s idle ($out/idle.png)"
fi
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
