"""Patching OHIF's prebuilt dist for /viewer/: every absolute root link moves, once."""

from __future__ import annotations

from pathlib import Path

from app.viewer.install import patch_dist

INDEX = (
    '<html><head><script>window.PUBLIC_URL="/"</script>'
    '<link href="/app.bundle.css" rel="stylesheet"><script src="/app-config.js"></script>'
    '<a href="https://ohif.org/">x</a><link href="//cdn.example/x.css"></head></html>'
)


def test_patch_is_complete_and_idempotent(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "app.bundle.css").write_text("@font-face{src:url(/a.woff2)}")
    (tmp_path / "app.bundle.js").write_text('(() => { __webpack_require__.p = "/"; })();')
    assert patch_dist(tmp_path) == 3
    html = (tmp_path / "index.html").read_text()
    assert 'window.PUBLIC_URL="/viewer/"' in html
    assert 'href="/viewer/app.bundle.css"' in html and 'src="/viewer/app-config.js"' in html
    assert 'href="https://ohif.org/"' in html and 'href="//cdn.example/x.css"' in html
    assert "url(/viewer/a.woff2)" in (tmp_path / "app.bundle.css").read_text()
    assert '__webpack_require__.p = "/viewer/"' in (tmp_path / "app.bundle.js").read_text()
    assert patch_dist(tmp_path) == 0


def test_not_a_dist_folder(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(FileNotFoundError):
        patch_dist(tmp_path)
