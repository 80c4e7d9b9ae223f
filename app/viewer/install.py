"""Prepare OHIF's prebuilt ``dist/`` (npm ``@ohif/app``) to be served under ``/viewer/``.

The published build assumes it is served at ``/``: ``index.html`` links ``/app.bundle…js``,
CSS loads fonts from ``url(/…)`` and webpack loads its chunks and workers from the public path
``"/"``. We rewrite those few places to ``/viewer/`` once at install time (``make viewer``)
instead of on every request, so the files are served straight from disk.

Run as ``python -m app.viewer.install DIST_DIR``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PREFIX = "/viewer/"
_PUBLIC_PATH = '__webpack_require__.p = "/";'
_HTML_LINK = re.compile(r'(href|src)="/(?!/|viewer/)')
_CSS_URL = re.compile(r"url\(/(?!/|viewer/)")


def patch_dist(dist: Path, prefix: str = PREFIX) -> int:
    """Rewrite the public path in ``dist`` to ``prefix``; returns the number of files changed.

    Idempotent: already patched files are left alone.
    """
    index = dist / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"{index} not found: is this OHIF's dist folder?")
    changed = 0
    html = index.read_text(encoding="utf-8")
    patched = _HTML_LINK.sub(lambda m: f'{m.group(1)}="{prefix}', html)
    patched = patched.replace('window.PUBLIC_URL="/"', f'window.PUBLIC_URL="{prefix}"')
    if patched != html:
        index.write_text(patched, encoding="utf-8")
        changed += 1
    for sheet in dist.glob("*.css"):
        css = sheet.read_text(encoding="utf-8")
        new_css = _CSS_URL.sub(f"url({prefix}", css)
        if new_css != css:
            sheet.write_text(new_css, encoding="utf-8")
            changed += 1
    for script in dist.glob("*.js"):
        text = script.read_text(encoding="utf-8", errors="surrogateescape")
        if _PUBLIC_PATH in text:
            new = text.replace(_PUBLIC_PATH, f'__webpack_require__.p = "{prefix}";')
            script.write_text(new, encoding="utf-8", errors="surrogateescape")
            changed += 1
    return changed


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m app.viewer.install DIST_DIR\n")
        return 2
    changed = patch_dist(Path(argv[0]))
    sys.stdout.write(f"OHIF viewer prepared for {PREFIX} ({changed} files patched)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
