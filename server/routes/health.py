from __future__ import annotations

import torch
from fastapi import APIRouter, Request

from .. import __version__
from ..schemas import Health
from .deps import device_of, gate_of

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get("/health", response_model=Health)
async def health(request: Request) -> dict[str, object]:
    return {"ok": True, "version": __version__, "torch": torch.__version__, "device": device_of(request),
            "compute": gate_of(request).stats(), "images": request.app.state.images.stats()}
