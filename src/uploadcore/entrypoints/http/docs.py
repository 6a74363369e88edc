"""`/openapi.json`: the OpenAPI document of exactly the routes this app mounts."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from uploadcore.bootstrap import Uploadcore
from uploadcore.entrypoints.http import openapi
from uploadcore.entrypoints.http.common import Resource
from uploadcore.entrypoints.http.responses import JsonResponse


class Docs(Resource):
    def __init__(self, core: Uploadcore, api: Iterable[BaseRoute]) -> None:
        super().__init__(core)
        self.paths = frozenset(r.path for r in api if isinstance(r, Route))

    def routes(self) -> list[BaseRoute]:
        return [Route("/openapi.json", self.openapi, methods=["GET"])]

    async def openapi(self, request: Request) -> Response:
        return JsonResponse(openapi.document(self.paths, self.base_url(request.scope)))
