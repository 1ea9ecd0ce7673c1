"""The pages everyone can reach render in the site's layout."""

import pytest


@pytest.mark.parametrize("path", ["/", "/about", "/account/login", "/account/signup",
                                  "/account/forgot"])
def test_public_pages_render(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert b"Dry Needling Directory" in response.data


def test_unknown_page_is_a_styled_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"We could not find that page." in response.data
    assert b"site-header" in response.data
