#!/usr/bin/env python3
"""Make the embedded UI font: Noto Sans CJK JP subset to exactly the characters Sumi shows.

The characters are: printable ASCII (so numbers, paths and error messages always render), plus
every character of desktop/ui/*.slint (the English UI text, written there as `@tr("...")`, and
symbols such as the check mark) and of the translations, the `msgstr`s of the gettext catalogues
desktop/lang/*/LC_MESSAGES/*.po. What Rust formats itself is ASCII plus "–" and "×", both of
which the .slint files use too. Re-run after changing UI text:

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb /tmp/noto
    pip install fonttools
    python3 desktop/ui/fonts/make_subset.py \
        /tmp/noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

The test `font_covers_every_ui_character` (desktop/tests/font.rs) fails when the UI uses a
character that the committed subset lacks.
"""
import ast
import pathlib
import sys

from fontTools import subset
from fontTools.ttLib import TTFont

HERE = pathlib.Path(__file__).resolve().parent
DESKTOP = HERE.parent.parent
OUT = HERE / "NotoSansCJKjp-Sumi-Regular.otf"


def po_msgstrs(path: pathlib.Path) -> list[str]:
    """The translations (msgstr, including plural forms) of a gettext catalogue."""
    out, current = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("msgstr"):
            current = ast.literal_eval(line.split(None, 1)[1])
            out.append(current)
        elif line.startswith('"') and current is not None:
            out[-1] += ast.literal_eval(line)
        else:
            current = None
    return out


def ui_characters() -> str:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    for path in sorted((DESKTOP / "ui").glob("*.slint")):
        chars |= {ch for ch in path.read_text(encoding="utf-8") if ch >= " "}
    for path in sorted((DESKTOP / "lang").glob("*/LC_MESSAGES/*.po")):
        for text in po_msgstrs(path):
            chars |= {ch for ch in text if ch >= " "}
    return "".join(sorted(chars))


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    text = ui_characters()
    # Index 0 of NotoSansCJK-Regular.ttc is "Noto Sans CJK JP".
    font = TTFont(sys.argv[1], fontNumber=0)
    family = font["name"].getDebugName(1)
    if family != "Noto Sans CJK JP":
        print(f"expected Noto Sans CJK JP at index 0, found {family!r}", file=sys.stderr)
        return 1
    cmap = font.getBestCmap()
    missing = [ch for ch in text if ord(ch) not in cmap]
    if missing:
        print(f"the font lacks these UI characters: {missing!r}; change the text", file=sys.stderr)
        return 1
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = True
    options.layout_features = ["kern", "palt", "vert", "liga", "locl"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    font.save(OUT)
    print(f"{OUT.name}: {len(text)} characters, {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
