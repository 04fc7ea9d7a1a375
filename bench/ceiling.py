"""The ceiling: a bare Starlette JSON hello-world, answering every path.

Served by uvicorn with the same workers, pinning and load as frontdesk, it is the most any
Starlette + uvicorn service can do on this machine; `verify / ceiling` is the headline figure.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


app = Starlette(routes=[Route("/{path:path}", hello, methods=["GET", "POST"])])
