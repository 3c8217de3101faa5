"""Accounts and sessions of the storefronts: SSO sync, token refresh, the shop's account and external-id routes."""
from __future__ import annotations

import datetime as dt

import falcon

from api.auth import issue_student_token
from api.endpoint import endpoint, validate
from api.schemas.students import (
    EmailExists,
    ExternalIdResult,
    ShopAccountClaims,
    ShopEmailClaims,
    ShopExternalIdClaims,
    SyncClaims,
    SyncResult,
    TokenResult,
    UpsertResult,
)
from models.products.ops import GrantItem
from models.students import ops as students
from models.students import sessions

_SYNC_KINDS = {"exam": "exam", "book": "book", "course": "course"}


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",")] if value else []


def _date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def sync_grants(claims: SyncClaims) -> tuple[list[GrantItem], list[str]]:
    """The SSO token's aligned comma-separated lists as grant items; items of an unknown type are reported back."""
    items, unknown = [], []
    types, dates = _split(claims.product_type), _split(claims.date_created)
    for i, external_id in enumerate(_split(claims.product_ids)):
        if not external_id:
            continue
        kind = _SYNC_KINDS.get(types[i] if i < len(types) and types[i] else "exam")
        if kind is None:
            unknown.append(external_id)
            continue
        items.append(GrantItem(kind, external_id, created_at=_date(dates[i] if i < len(dates) else None)))
    transdates = _split(claims.course_transdate)
    for i, external_id in enumerate(_split(claims.course_ids)):
        if external_id:
            items.append(GrantItem("course", external_id,
                                   created_at=_date(transdates[i] if i < len(transdates) else None)))
    return items, unknown


class SyncStudent:
    @endpoint(guard="sso", summary="Authorize a student from the SSO storefront's token", response=SyncResult,
              tags=("accounts",), errors=(409, 422))
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        claims = validate(SyncClaims, req.context.principal.claims, "token's claims")
        grants, bad_types = sync_grants(claims)
        result = sessions.sync_student(email=claims.student_email, name=claims.student_name,
                                       phone_number=claims.student_phone, username=claims.username, grants=grants)
        row = result.student
        preview = claims.preview_admin.model_dump() if claims.preview_admin else None
        token = issue_student_token(req.context.auth.settings, student_id=str(row["id"]), email=row["email"],
                                    preview_admin=preview)
        resp.media = {"id": row["id"], "name": row["name"], "email": row["email"], "token": token,
                      "unknown_products": bad_types + result.unknown_products}


class RefreshToken:
    @endpoint(guard="student", summary="Refresh the student's token", response=TokenResult, tags=("accounts",))
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = req.context.principal
        row = principal.student
        token = issue_student_token(req.context.auth.settings, student_id=principal.id, email=row["email"],
                                    impersonated_by=principal.impersonated_by,
                                    preview_admin=principal.preview_admin)
        resp.media = {"id": row["id"], "name": row["name"], "email": row["email"],
                      "external_id": row["external_id"], "token": token}


def _upsert(req: falcon.Request, resp: falcon.Response) -> None:
    claims = validate(ShopAccountClaims, req.context.principal.claims, "token's claims")
    student_id, created = sessions.upsert_with_external_id(
        external_id=claims.external_student_id, email=claims.email, name=claims.name,
        phone_number=claims.phone_number)
    resp.media = {"id": student_id, "created": created}


class CreateAccount:
    @endpoint(guard="shop", summary="Create (or update) a student account with the shop's external id",
              response=UpsertResult, tags=("accounts",), errors=(409, 422))
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        _upsert(req, resp)


class UpsertWithExternalId:
    @endpoint(guard="shop", summary="Upsert a student account by the shop's external id", response=UpsertResult,
              tags=("accounts",), errors=(409, 422))
    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        _upsert(req, resp)


class ShopExternalId:
    @endpoint(guard="shop", summary="Set the shop's external id on the student with this e-mail",
              response=ExternalIdResult, tags=("accounts",), errors=(404, 409, 422))
    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        claims = validate(ShopExternalIdClaims, req.context.principal.claims, "token's claims")
        row = sessions.assign_external_id(email=claims.email, external_id=claims.external_student_id)
        resp.media = {"id": row["id"], "external_id": row["external_id"]}


class EmailExistsResource:
    @endpoint(guard="shop", summary="Whether a (non-deleted) student has this e-mail", response=EmailExists,
              tags=("accounts",), errors=(422,))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        claims = validate(ShopEmailClaims, req.context.principal.claims, "token's claims")
        resp.media = {"email_exists": students.email_exists(claims.email)}
