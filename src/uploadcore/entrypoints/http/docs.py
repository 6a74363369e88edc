"""`/openapi.json`, the OpenAPI document of exactly the routes this app mounts, and `/docs`.

`/docs` is Swagger UI over that document, its assets served from the
`swagger-ui-py` package under `/docs/static/`: nothing is fetched from
elsewhere. Every URL in the page is relative, so it works under a mount point
(ASGI `root_path`) and behind a proxy (BASE_URL) alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.util import find_spec
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from uploadcore.bootstrap import Uploadcore
from uploadcore.entrypoints.http import openapi
from uploadcore.entrypoints.http.common import Resource, SlashRoute
from uploadcore.entrypoints.http.responses import JsonResponse

# `here` leads from the page to its directory: "docs/" at /docs, "" at /docs/.
PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>uploadcore API</title>
<link rel="stylesheet" href="{here}static/swagger-ui.css">
<link rel="icon" type="image/png" href="{here}static/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{here}static/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "{up}openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  layout: "BaseLayout"
}});
</script>
</body>
</html>
"""


class Docs(Resource):
    def __init__(self, core: Uploadcore, api: Iterable[BaseRoute]) -> None:
        super().__init__(core)
        self.paths = frozenset(r.path for r in api if isinstance(r, Route))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/openapi.json", self.openapi, methods=["GET"]),
            SlashRoute("/docs/", self.page, methods=["GET"]),
            Mount("/docs/static", StaticFiles(directory=swagger_ui_assets())),
        ]

    async def openapi(self, request: Request) -> Response:
        return JsonResponse(openapi.document(self.paths, self.base_url(request.scope)))

    async def page(self, request: Request) -> Response:
        at_directory = request.url.path.endswith("/")
        page = PAGE.format(here="" if at_directory else "docs/", up="../" if at_directory else "")
        return HTMLResponse(page)


def swagger_ui_assets() -> Path:
    """The directory of Swagger UI's files in `swagger-ui-py`, found without importing it."""
    spec = find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(spec.origin).parent / "static"
