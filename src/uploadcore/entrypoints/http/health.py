"""`/healthz`: the process answers (liveness). `/readyz`: the database and storage answer too."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from uploadcore.domain.errors import StorageUnavailable
from uploadcore.entrypoints.http.common import Resource, SlashRoute
from uploadcore.entrypoints.http.problems import problem
from uploadcore.entrypoints.http.responses import JsonResponse

log = logging.getLogger(__name__)


class Health(Resource):
    def routes(self) -> list[BaseRoute]:
        return [
            SlashRoute("/healthz/", self.healthz, methods=["GET"], name="healthz"),
            SlashRoute("/readyz/", self.readyz, methods=["GET"], name="readyz"),
        ]

    async def healthz(self, request: Request) -> Response:
        """Liveness: answers while the process serves, whatever its dependencies do."""
        return JsonResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        """Readiness: every dependency answers now; 503 naming those that do not."""
        checks = await run_in_threadpool(self.check)
        down = [name for name, state in checks.items() if state != "ok"]
        if not down:
            return JsonResponse({"status": "ok", "checks": checks})
        names = " and ".join(f"the {name}" for name in down)
        verb = "is" if len(down) == 1 else "are"
        return problem(
            503, "not_ready", "Not ready", f"{names} {verb} not available", checks=checks
        )

    def check(self) -> dict[str, str]:
        """Each check's state, `ok` or `down` (what went wrong is logged, not answered)."""
        states = {}
        for name, check in self.core.checks.items():
            try:
                check()
            except StorageUnavailable as error:
                log.warning("not ready: the %s is not available: %s", name, error.detail)
                states[name] = "down"
            except Exception:
                log.exception("not ready: checking the %s failed", name)
                states[name] = "down"
            else:
                states[name] = "ok"
        return states
