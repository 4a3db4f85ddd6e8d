"""POST /api/v1/exercises, POST /api/v1/exercises/grade, GET /api/v1/exercises/kinds: stateless exercises."""
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request

from .. import grading
from ..examples import for_endpoint
from ..responses import JSONResponse
from ..schemas_arith import ExerciseRequest, ExerciseResponse, GradeRequest, GradeResponse, KindsResponse
from .deps import ERRORS, gate_of, require_json

# No `from __future__ import annotations` here: FastAPI must see the model classes themselves.
router = APIRouter(prefix="/api/v1/exercises", tags=["exercises"], dependencies=[Depends(require_json)])


@router.get("/kinds", response_model=KindsResponse, responses=ERRORS, summary="The exercise kinds",
            description="Every kind with a description, its answer form and its difficulties, and the grading rules.")
async def kinds() -> JSONResponse:
    return JSONResponse(grading.kinds())


@router.post("", response_model=ExerciseResponse, responses=ERRORS, summary="Create an exercise",
             description="A pure function of (kind, seed, difficulty): the same triple gives the same exercise, "
                         "in any process. An unknown kind, a seed outside 0..2^63−1 or a difficulty other than "
                         "1, 2, 3 is a 422.")
async def create(body: Annotated[ExerciseRequest, Body(openapi_examples=for_endpoint("exercises"))],
                 request: Request) -> JSONResponse:
    return JSONResponse(await gate_of(request).run(grading.exercise, body.kind, body.seed, body.difficulty))


@router.post("/grade", response_model=GradeResponse, responses=ERRORS, summary="Grade an answer",
             description="Values by elementwise relative error ≤ 1e−6, shapes and integers exactly. A malformed or "
                         "wrongly shaped answer scores 0 with a feedback sentence (HTTP 200). reveal: true adds "
                         "expected.")
async def grade(body: Annotated[GradeRequest, Body(openapi_examples=for_endpoint("exercises/grade"))],
                request: Request) -> JSONResponse:
    return JSONResponse(await gate_of(request).run(grading.grade, body.kind, body.seed, body.difficulty,
                                                   body.answer, body.reveal))
