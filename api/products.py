"""Products (SPEC §6.4): grants from the shop, the student, admins; bulk grant and merge jobs; entitlement lists."""
from __future__ import annotations

from uuid import UUID

import falcon

from api import listing
from api.endpoint import endpoint
from api.jobs import accept_job
from api.schemas.jobs import Job
from api.schemas.products import (
    BulkCatalogueIds,
    BulkProductsPayload,
    CatalogueIds,
    ClassList,
    EntitlementList,
    GrantResults,
    HasProducts,
    ProductsPayload,
)
from core.errors import Invalid, NotFound
from models.jobs import types as job_types
from models.products import bulk, entitlements
from models.products import ops as products
from models.students import ops as students


def grant_items(payload: ProductsPayload) -> list[products.GrantItem]:
    """The payload's lists as grant items (`extensions` is the same list as the original's `extentions`)."""
    items = [products.GrantItem("exam", e.external_id, created_at=e.external_created_at) for e in payload.exams]
    items += [products.GrantItem("course", c.external_id, transaction_id=c.transaction_id,
                                 end_date_id=str(c.end_date_id) if c.end_date_id else None)
              for c in payload.courses]
    items += [products.GrantItem("extension", x.external_id, course_external_id=x.course_external_id)
              for x in payload.extentions + payload.extensions]
    return items


class PurchaseProducts:
    @endpoint(guard="shop", summary="Purchase products for the shop customer in the token", body=ProductsPayload,
              response=GrantResults, tags=("products",), errors=(404, 409))
    def on_post(self, req: falcon.Request, resp: falcon.Response, body: ProductsPayload) -> None:
        claims = req.context.principal.claims
        external_id = claims.get("external_student_id")
        if not isinstance(external_id, int) or isinstance(external_id, bool):
            raise Invalid("The token's external_student_id must be an integer.",
                          errors=[{"field": "external_student_id", "message": "must be an integer"}])
        outcome = products.purchase(external_id, grant_items(body), failure_code="students.purchase-products.failed")
        resp.media = {"results": outcome.results}


class AttachProductsSelf:
    @endpoint(guard="student", summary="Attach free-trial products to the caller", body=ProductsPayload,
              response=GrantResults, tags=("products",))
    def on_post(self, req: falcon.Request, resp: falcon.Response, body: ProductsPayload) -> None:
        outcome = products.grant(req.context.principal.id, grant_items(body), self_grant=True,
                                 failure_code="students.attach-products.failed")
        resp.media = {"results": outcome.results}


class AttachProducts:
    @endpoint(guard="students_manager", summary="Add several products to a student", body=ProductsPayload,
              response=GrantResults, tags=("products",), errors=(404,))
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: UUID, body: ProductsPayload) -> None:
        outcome = products.grant(id, grant_items(body), failure_code="students.attach-products.failed")
        resp.media = {"results": outcome.results}


class CatalogueProducts:
    @endpoint(guard="students_manager", summary="Add products by catalogue id (deprecated)", body=CatalogueIds,
              response=GrantResults, tags=("products",), errors=(404,),
              deprecated="/students/{id}/attach-products")
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: UUID, body: CatalogueIds) -> None:
        outcome = products.grant_catalogue_ids(id, body.product_ids, failure_code="students.products.failed")
        resp.media = {"results": outcome.results}


class BulkAttachProducts:
    @endpoint(guard="students_manager", summary="Add several products to students (a job)",
              body=BulkProductsPayload, response=Job, status=202, tags=("products",))
    def on_post(self, req: falcon.Request, resp: falcon.Response, body: BulkProductsPayload) -> None:
        items = grant_items(body)
        bulk.check_catalogue(items, failure_code="students.bulk.attach-products.failed")
        ids = list(dict.fromkeys(str(i) for i in body.student_ids))
        accept_job(req, resp, job_types.PRODUCTS_BULK_GRANT,
                   {"student_ids": ids, "items": [bulk.item_to_json(i) for i in items]}, total=len(ids))


class BulkCatalogueProducts:
    @endpoint(guard="students_manager", summary="Add products by catalogue id to students (deprecated; a job)",
              body=BulkCatalogueIds, response=Job, status=202, tags=("products",),
              deprecated="/students/bulk/attach-products")
    def on_post(self, req: falcon.Request, resp: falcon.Response, body: BulkCatalogueIds) -> None:
        items = products.items_for_catalogue_ids(body.product_ids, failure_code="students.bulk.products.failed")
        ids = list(dict.fromkeys(str(i) for i in body.student_ids))
        accept_job(req, resp, job_types.PRODUCTS_BULK_GRANT,
                   {"student_ids": ids, "items": [bulk.item_to_json(i) for i in items]}, total=len(ids))


class TransferProducts:
    @endpoint(guard="master", summary="Merge one student's account into another's (deprecated; a job)",
              response=Job, status=202, tags=("products",), errors=(404, 422), deprecated="")
    def on_post(self, req: falcon.Request, resp: falcon.Response, from_student_id: UUID,
                to_student_id: UUID) -> None:
        if from_student_id == to_student_id:
            raise Invalid("A student cannot be merged into itself.", code="students.merge.same-student",
                          errors=[{"field": "to_student_id", "message": "must differ from from_student_id"}])
        missing = students.missing_or_deleted([from_student_id, to_student_id])
        if missing:
            raise NotFound("Student not found.", code="students.not-found", extra={"ids": missing})
        accept_job(req, resp, job_types.STUDENTS_MERGE,
                   {"from_student_id": str(from_student_id), "to_student_id": str(to_student_id)}, total=1)


class HasProductsResource:
    @endpoint(guard="student", summary="Whether the caller has courses / exams", response=HasProducts,
              tags=("products",))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = products.has_products(req.context.principal.id)


def entitlement_list(kind: str):
    """`GET /students/{id}/<kind>`: that student's entitlements in the list format."""

    class Entitlements:
        @endpoint(guard="students_manager", summary=f"A student's {kind}", response=EntitlementList,
                  tags=("products",), errors=(404, 422))
        def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
            students.get_admin_profile(id)
            take, page = listing.take(req), listing.page(req)
            order_by, direction = listing.order(req, entitlements.sortable(kind), "created_at")
            rows, total = entitlements.list_entitlements(id, kind, status=req.get_param("filter[status]"),
                                                         order_by=order_by, direction=direction, page=page,
                                                         take=take)
            resp.media = listing.paged(rows, total, page, take)

    return Entitlements()


class Classes:
    @endpoint(guard="students_manager", summary="The classes a student's courses point to", response=ClassList,
              tags=("products",), errors=(404,))
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        students.get_admin_profile(id)
        resp.media = entitlements.classes(id)


def routes() -> list[tuple[str, object, None]]:
    return [
        ("/students/purchase-products", PurchaseProducts(), None),
        ("/students/attach-products", AttachProductsSelf(), None),
        ("/students/{id:uuid}/attach-products", AttachProducts(), None),
        ("/students/{id:uuid}/products", CatalogueProducts(), None),
        ("/students/bulk/attach-products", BulkAttachProducts(), None),
        ("/students/bulk/products", BulkCatalogueProducts(), None),
        ("/students/transfer-products/from/{from_student_id:uuid}/to/{to_student_id:uuid}", TransferProducts(),
         None),
        ("/students/has-products", HasProductsResource(), None),
        ("/students/{id:uuid}/courses", entitlement_list("courses"), None),
        ("/students/{id:uuid}/exams", entitlement_list("exams"), None),
        ("/students/{id:uuid}/books", entitlement_list("books"), None),
        ("/students/{id:uuid}/classes", Classes(), None),
    ]


