"""Salty Bucks (SPEC §6.5): ledger lists, the balance graph, the admin set, the deprecated wallet cash-out."""
from __future__ import annotations

import datetime as dt
from uuid import UUID

import falcon

from api import listing
from api.endpoint import endpoint
from api.schemas.students import AdminProfile, CashOutResult, SaltyBucksBalance
from core.errors import Invalid
from models.ledger import ops as ledger
from models.ledger import reports
from models.students import ops as students


def _date(req: falcon.Request, name: str) -> dt.date | None:
    raw = req.get_param(name)
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{name} must be a date (YYYY-MM-DD).",
                      errors=[{"field": name, "message": "must be a date (YYYY-MM-DD)"}]) from None


def ledger_page(req: falcon.Request, student_id: UUID | str) -> dict:
    take, page = listing.take(req), listing.page(req)
    order_by, direction = listing.order(req, reports.LEDGER_SORTS, "created_at")
    rows, total = reports.list_entries(
        student_id, operation_type=listing.one_of(req, "filter[operation_type]", ("income", "outcome")),
        operation_subtype=req.get_param("filter[operation_subtype]"), date_from=_date(req, "filter[from]"),
        date_to=_date(req, "filter[to]"), order_by=order_by, direction=direction, page=page, take=take)
    return listing.paged(rows, total, page, take)


class OwnLedger:
    @endpoint(guard="student", summary="The caller's Salty Bucks ledger", tags=("salty-bucks",), errors=(422,))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = ledger_page(req, req.context.principal.id)


class StudentLedger:
    @endpoint(guard="ledger_reader", summary="A student's Salty Bucks ledger", tags=("salty-bucks",),
              errors=(404, 422))
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        students.get_admin_profile(id)
        resp.media = ledger_page(req, id)


class BalanceGraph:
    @endpoint(guard="students_manager", summary="The data of the Salty Bucks balance graph", tags=("salty-bucks",),
              errors=(404,))
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID, mode: str) -> None:
        resp.media = {"data": reports.graph(id, mode)}


class SetBalance:
    @endpoint(guard="students_manager", summary="Set a student's Salty Bucks balance", body=SaltyBucksBalance,
              response=AdminProfile, tags=("salty-bucks",), errors=(404,))
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: UUID, body: SaltyBucksBalance) -> None:
        ledger.set_balance(id, body.salty_bucks_balance, admin_id=req.context.principal.id)
        resp.media = students.get_admin_profile(id)


class WalletCashOut:
    @endpoint(guard="student", summary="Cash the wallet out to the Salty Bucks balance (deprecated)",
              response=CashOutResult, tags=("salty-bucks",), deprecated="")
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = ledger.cash_out_wallet(req.context.principal.id)


def routes() -> list[tuple[str, object, None]]:
    return [
        ("/students/salty-bucks-logs", OwnLedger(), None),
        ("/students/{id:uuid}/salty-bucks-logs", StudentLedger(), None),
        ("/students/{id:uuid}/salty-bucks/{mode}", BalanceGraph(), None),
        ("/students/{id:uuid}/salty-bucks-balance", SetBalance(), None),
        ("/students/wallet/cash-out", WalletCashOut(), None),
    ]
