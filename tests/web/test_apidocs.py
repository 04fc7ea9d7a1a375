"""/docs and /redoc: packaged assets, a strict CSP, nothing from another site; off in production
unless FRONTDESK_API_DOCS=on. (tests/web/pages/test_apidocs.py renders them in Chromium, offline.)"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from frontdesk.runtime import Frontdesk
from frontdesk.settings import Settings
from frontdesk.web.app import create_app
from tests.web.helpers import BACKENDS, error_code, run_async, shared_server

PAGES = ("/docs", "/redoc")


def test_the_pages_use_only_files_from_this_server(request: pytest.FixtureRequest) -> None:
    server = shared_server(request, "sqlite")
    with httpx.Client(base_url=server.url) as client:
        for path in PAGES:
            page = client.get(path)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            csp = page.headers["content-security-policy"]
            assert "script-src 'self';" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
            assert "<script>" not in page.text, "an inline script (the CSP would block it)"
            assert not re.search(r"(src|href)=\"(https?:)?//", page.text), "a file from another site"
            for url in re.findall(r"(?:src|href)=\"(/[^\"]+)\"", page.text):
                asset = client.get(url)
                assert asset.status_code == 200, url
                assert asset.headers["x-content-type-options"] == "nosniff"
                expected = {"js": "text/javascript", "css": "text/css", "png": "image/png"}[
                    url.split("?")[0].rsplit(".")[-1]
                ]
                assert asset.headers["content-type"].startswith(expected), url
        assert error_code(client.get("/docs/assets/../../settings.py"), 404) == "not_found"
        assert error_code(client.get("/docs/assets/core.py"), 404) == "not_found"


@pytest.mark.parametrize("backend", BACKENDS)
def test_production_has_no_api_docs_by_default(request: pytest.FixtureRequest, backend: str) -> None:
    strict = shared_server(request, backend, "strict")
    with httpx.Client(base_url=strict.url) as client:
        for path in (*PAGES, "/docs/assets/swagger-ui-bundle.js"):
            assert error_code(client.get(path), 404) == "not_found", path
        assert client.get("/openapi.json").status_code == 200  # the document itself stays


def status(tmp_path: Path, path: str, **settings: object) -> int:
    fd = Frontdesk(Settings(database_url=f"sqlite:///{tmp_path / 'frontdesk.db'}", **settings))  # type: ignore[arg-type]
    app = create_app(frontdesk=fd, send_mail=False)

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as c:
            return await c.get(path)

    try:
        return run_async(get).status_code
    finally:
        fd.close()


def test_the_setting_turns_them_on_or_off(tmp_path: Path) -> None:
    production = {"env": "production", "secret": "s" * 32, "smtp_url": "smtp://127.0.0.1:1"}
    for path in PAGES:
        assert status(tmp_path, path) == 200
        assert status(tmp_path, path, api_docs="off") == 404
        assert status(tmp_path, path, **production) == 404
        assert status(tmp_path, path, api_docs="on", **production) == 200
