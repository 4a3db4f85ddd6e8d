"""POST /api/v1/ops/{op}: one route per op so each documents its own parameters."""
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Body, Depends, Request

from ..core.exceptions import NotFound
from ..core.ops import OPS, run_op
from ..examples import for_op
from ..responses import JSONResponse
from ..schemas import OP_REQUESTS, OpResponse
from .deps import ERRORS, device_of, gate_of, rendered, require_json, settings_of

router = APIRouter(prefix="/api/v1/ops", tags=["ops"], dependencies=[Depends(require_json)])


def _handler(op: str, model: type) -> Callable[..., Any]:
    # No `from __future__ import annotations` in this module: FastAPI must see the model class itself.
    examples = for_op(op)

    async def handle(body: Annotated[model, Body(openapi_examples=examples)],  # type: ignore[valid-type]
                     request: Request) -> JSONResponse:
        settings = settings_of(request)
        payload = body.model_dump(exclude_unset=True)
        result = await gate_of(request).run(run_op, op, payload, limits=settings.limits,
                                            device=device_of(request))
        return await rendered(request, {"ok": True, **result})

    handle.__name__ = f"op_{op}"
    return handle


for _op in OPS:
    router.add_api_route(
        f"/{_op}", _handler(_op, OP_REQUESTS[_op]), methods=["POST"], response_model=OpResponse,
        responses=ERRORS, summary=f"Run {_op}",
        description=f"torch.nn.functional.{_op}, forward, and backward when grad_output is given.")


@router.post("/{op}", responses=ERRORS, response_model=OpResponse, summary="An op that does not exist")
async def unknown_op(op: str) -> JSONResponse:
    run_op(op, {})  # raises NotFound naming the ops that exist
    raise NotFound(f"There is no op {op!r}.")  # pragma: no cover - run_op always raises for unknown ops
