"""Static files: content-hashed URLs from one helper, a year's max-age, gzip (issue 20)."""

from __future__ import annotations

import re

from campusid.assets import IMMUTABLE, SHORT, content_hash


def test_pages_name_static_files_by_their_content_hash(client):
    page = client.get("/login").text
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert urls
    for url in urls:
        name, _, version = url.removeprefix("/static/").partition("?v=")
        assert version == content_hash(name)


def test_a_hashed_url_is_cached_for_a_year_and_compressed(client):
    url = f"/static/app.css?v={content_hash('app.css')}"
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["content-encoding"] == "gzip"
    assert "text/css" in response.headers["content-type"]
    assert int(response.headers["content-length"]) < len(response.content)  # decoded is bigger


def test_an_unversioned_or_stale_url_is_cached_briefly(client):
    for url in ("/static/app.css", "/static/app.css?v=000000000000"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == SHORT


def test_no_gzip_without_accept_encoding_and_404_for_unknown_files(client):
    plain = client.get("/static/app.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    missing = client.get("/static/nothing.css?v=abc")
    assert missing.status_code == 404
    assert client.get("/static/../config.py").status_code == 404
