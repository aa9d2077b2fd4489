"""workflow: the transparency log's API: the signed tree head, inclusion and consistency
proofs (public: they disclose only hashes), and the witnesses (administrators)."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Role, User
from storage.tlog_models import LogDelivery, LogWitness
from workflow import http
from workflow.errors import ForbiddenError
from workflow.http import api_blueprint, json_body
from workflow.schemas import log as schemas
from workflow.schemas.base import parse, parse_form
from workflow.schemas.openapi import operation
from workflow.services import get_session
from workflow.transparency import usecases, witnesses

api_bp = api_blueprint("log_api", __name__, url_prefix="/log")


@api_bp.get("/head")
@http.public
@operation(responses={200: schemas.TreeHead}, errors=(404,))
def head_api() -> Any:
    """Public: the newest signed tree head (size, root hash, seal signature, TSA token)."""
    head = usecases.published_head(get_session())
    return schemas.TreeHead.model_validate(usecases.head_json(head)).dump()


@api_bp.get("/proof")
@http.public
@operation(query=schemas.ProofQuery, responses={200: schemas.InclusionProof}, errors=(404,))
def proof_api() -> Any:
    """Public: the inclusion proof of entry ``entry`` in the tree of ``size`` entries."""
    query = parse_form(schemas.ProofQuery, request.args)
    body = usecases.inclusion(get_session(), query.entry, query.size)
    return schemas.InclusionProof.model_validate(body).dump()


@api_bp.get("/consistency")
@http.public
@operation(
    query=schemas.ConsistencyQuery, responses={200: schemas.ConsistencyProof}, errors=(404, 409)
)
def consistency_api() -> Any:
    """Public: the proof that the tree of ``to`` entries extends the tree of ``from``."""
    query = parse_form(schemas.ConsistencyQuery, request.args)
    body = usecases.consistency(get_session(), query.old, query.new)
    return schemas.ConsistencyProof.model_validate(body).dump()


def _require_admin(actor: User) -> None:
    if not actor.has_role(Role.ADMIN):
        raise ForbiddenError("Chỉ quản trị hệ thống mới quản lý các bên chứng kiến sổ nhật ký.")


def _answer(session: Session, witness: LogWitness) -> dict[str, Any]:
    counts = dict(
        session.execute(
            select(LogDelivery.state, func.count())
            .where(LogDelivery.witness_id == witness.id)
            .group_by(LogDelivery.state)
        ).all()
    )
    return {
        "id": witness.id,
        "name": witness.name,
        "url": witness.url,
        "active": witness.active,
        "delivered": int(counts.get("delivered", 0)),
        "pending": int(counts.get("pending", 0)),
        "failed": int(counts.get("failed", 0)),
    }


@api_bp.get("/witnesses")
@operation(responses={200: schemas.Witnesses})
def witnesses_api() -> Any:
    """Administrators: the witnesses and their deliveries."""
    _require_admin(http.actor())
    session = get_session()
    rows = [_answer(session, w) for w in witnesses.list_witnesses(session)]
    return schemas.Witnesses.model_validate({"witnesses": rows}).dump()


@api_bp.post("/witnesses")
@operation(body=schemas.WitnessRequest, responses={201: schemas.WitnessCreated})
def add_witness_api() -> Any:
    """Administrators: add a witness; its HMAC secret is answered once."""
    actor = http.actor()
    _require_admin(actor)
    data = parse(schemas.WitnessRequest, json_body())
    session = get_session()
    witness, secret = witnesses.add_witness(session, actor, data.name, data.url)
    body = dict(_answer(session, witness), secret=secret)
    session.commit()
    return schemas.WitnessCreated.model_validate(body).dump(), 201


@api_bp.delete("/witnesses/<int:witness_id>")
@operation(responses={200: schemas.Witness}, errors=(404,))
def remove_witness_api(witness_id: int) -> Any:
    """Administrators: stop sending tree heads to a witness (its history is kept)."""
    actor = http.actor()
    _require_admin(actor)
    session = get_session()
    witness = witnesses.deactivate_witness(session, actor, witness_id)
    body = _answer(session, witness)
    session.commit()
    return schemas.Witness.model_validate(body).dump()
