"""Every page route declares its access level and stays out of the API's OpenAPI document."""

from __future__ import annotations

from fastapi.routing import APIRoute

from frontdesk.settings import Settings
from frontdesk.web import pages
from frontdesk.web.app import create_app
from frontdesk.web.deps import Access, access_of

PAGE_MODULES = (pages.signin, pages.signup, pages.password, pages.account, pages.assets)


def test_every_page_route_declares_access_and_is_not_in_the_api_schema() -> None:
    routes = [route for module in PAGE_MODULES for route in module.router.routes]
    assert routes
    for route in routes:
        assert isinstance(route, APIRoute)
        assert access_of(route.endpoint) in (Access.OPEN, Access.USER), route.path
        assert route.include_in_schema is False, route.path
        if route.path.startswith("/account"):
            assert access_of(route.endpoint) is Access.USER, route.path


def test_the_api_schema_describes_the_api_only() -> None:
    app = create_app(Settings(database_url="sqlite://"), send_mail=False)
    paths = set(app.openapi()["paths"])
    assert "/v1/login" in paths
    page_paths = {route.path for module in PAGE_MODULES for route in module.router.routes}
    assert not paths & page_paths
