"""Routes for vendors, products and transactions."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.exceptions import ValidationException
from litestar.params import Body, KwargDefinition, PathParameter, QueryParameter

from suppliers.auth.principal import Principal
from suppliers.db.models import INT4_MAX
from suppliers.inventory.qualification import Qualification
from suppliers.inventory.schemas import (
    Action,
    Page,
    ProductOut,
    ResupplyOut,
    TransactionDetail,
    TransactionIn,
    TransactionOut,
    VendorOut,
)
from suppliers.inventory.services import CatalogService, StockService
from suppliers.web.params import NON_NEGATIVE, Limit, Offset, Provided
from suppliers.web.problems import problems

AuthedRequest = Request[Principal, Any, Any]

# Names for the OpenAPI components: left to itself Litestar would call them Page_suppliers.inventory….
VendorPage = Annotated[Page[VendorOut], KwargDefinition(schema_component_key="VendorPage")]
ProductPage = Annotated[Page[ProductOut], KwargDefinition(schema_component_key="ProductPage")]
TransactionPage = Annotated[Page[TransactionOut], KwargDefinition(schema_component_key="TransactionPage")]
# PostgreSQL text cannot hold NUL: refuse it here rather than fail in the driver.
SEARCH_PATTERN = r"^[^\x00]*$"


# Instants are parsed here rather than by the framework, which would also take a bare number as a
# Unix timestamp: the schema promises an RFC 3339 date-time and nothing else.
INSTANT = {"format": "date-time"}
# RFC 3339's date-time (a missing offset is read as UTC); fromisoformat alone takes far more.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?$", re.ASCII
)


def parse_instant(name: str, raw: str | None) -> datetime | None:
    """An RFC 3339 instant, in UTC; 422 for anything else, including instants outside years 1-9999 UTC.

    ``9999-12-31T23:59:59-12:00`` parses, but is in year 10000 once in UTC, which neither Python nor
    PostgreSQL's parameter encoding can represent: refused here, not by the database.
    """
    if raw is None:
        return None
    reason = "expected an RFC 3339 date-time such as 2026-01-31T12:00:00Z"
    try:
        instant = datetime.fromisoformat(raw) if _RFC3339.match(raw) else None
        if instant is not None:
            instant = (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(UTC)
    except ValueError:
        instant = None
    except OverflowError:
        instant, reason = None, "out of range: the instant must fall within years 1 to 9999 in UTC"
    if instant is None:
        raise ValidationException(f"{name}: {reason}", extra=[{"key": name, "message": reason}])
    return instant


class VendorController(Controller):
    path = "/vendors"
    tags = ["vendors"]
    security = [{"BearerToken": []}]

    @get("/", summary="List vendors", responses=problems(401, 422))
    async def list_vendors(
        self,
        catalog: Provided[CatalogService],
        qualification: Annotated[Qualification | None, QueryParameter(description="Only this grade")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> VendorPage:
        return await catalog.vendors(qualification=qualification, limit=limit, offset=offset)

    @get("/{vendor_id:uuid}", summary="Get a vendor", responses=problems(401, 404, 422))
    async def get_vendor(
        self, catalog: Provided[CatalogService], vendor_id: Annotated[uuid.UUID, PathParameter()]
    ) -> VendorOut:
        return await catalog.vendor(vendor_id)


class ProductController(Controller):
    path = "/products"
    tags = ["products"]
    security = [{"BearerToken": []}]

    @get("/", summary="List products", responses=problems(401, 422))
    async def list_products(
        self,
        catalog: Provided[CatalogService],
        below: Annotated[
            int | None,
            QueryParameter(
                ge=0,
                le=INT4_MAX,
                schema_extra=NON_NEGATIVE,
                description="Only products with fewer units in stock",
            ),
        ] = None,
        required_qualification: Annotated[
            Qualification | None, QueryParameter(description="Only products requiring this grade")
        ] = None,
        name: Annotated[
            str | None,
            QueryParameter(
                max_length=255, pattern=SEARCH_PATTERN, description="Case-insensitive substring of the name"
            ),
        ] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> ProductPage:
        return await catalog.products(
            below=below, required_qualification=required_qualification, name=name, limit=limit, offset=offset
        )

    @get("/{product_id:uuid}", summary="Get a product", responses=problems(401, 404, 422))
    async def get_product(
        self, catalog: Provided[CatalogService], product_id: Annotated[uuid.UUID, PathParameter()]
    ) -> ProductOut:
        return await catalog.product(product_id)

    @put(
        "/quantity",
        summary="Resupply every product under the threshold (operators)",
        description=(
            "Adds the resupply amount to every product whose stock is under the threshold, in one database "
            "transaction, recorded as one 'addition' transaction over all of them, under the operator's "
            "vendor. Nothing to resupply is not an error: the count is 0. Vendor users get 403."
        ),
        responses=problems(401, 403),
    )
    async def resupply(self, stock: Provided[StockService], request: AuthedRequest) -> ResupplyOut:
        return await stock.resupply_for(request.user)


class TransactionController(Controller):
    path = "/transactions"
    tags = ["transactions"]
    security = [{"BearerToken": []}]

    @get(
        "/",
        summary="List transaction lines, newest first",
        description=(
            "Operators see every vendor's lines; a vendor user sees its own vendor's only (asking for "
            "another vendor's is a 403)."
        ),
        responses=problems(401, 403, 422),
    )
    async def list_transactions(
        self,
        catalog: Provided[CatalogService],
        request: AuthedRequest,
        vendor_id: Annotated[
            uuid.UUID | None, QueryParameter(description="Only lines by this vendor")
        ] = None,
        product_id: Annotated[
            uuid.UUID | None, QueryParameter(description="Only lines of this product")
        ] = None,
        action: Annotated[Action | None, QueryParameter(description="Only this action")] = None,
        since: Annotated[
            str | None,
            QueryParameter(description="From this instant, inclusive (RFC 3339)", schema_extra=INSTANT),
        ] = None,
        until: Annotated[
            str | None, QueryParameter(description="Before this instant (RFC 3339)", schema_extra=INSTANT)
        ] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> TransactionPage:
        return await catalog.transactions(
            request.user,
            vendor_id=vendor_id,
            product_id=product_id,
            action=action,
            since=parse_instant("since", since),
            until=parse_instant("until", until),
            limit=limit,
            offset=offset,
        )

    @get(
        "/{transaction_id:uuid}",
        summary="Every product line of a transaction",
        description="A vendor user sees its own vendor's lines; another vendor's transaction is a 404.",
        responses=problems(401, 404, 422),
    )
    async def get_transaction(
        self,
        catalog: Provided[CatalogService],
        request: AuthedRequest,
        transaction_id: Annotated[uuid.UUID, PathParameter()],
    ) -> TransactionDetail:
        return await catalog.transaction(request.user, transaction_id)

    @post(
        "/",
        summary="Withdraw or add stock",
        description=(
            "Withdrawals never take stock below 0 (409). The vendor must hold the product's required "
            "qualification or better (A > B > C, else 403), and a vendor user may act only for its own "
            "vendor (403). Retrying with the same `id`, product and body returns the stored transaction "
            "with `Idempotent-Replayed: true` and changes stock once; the same id and product with another "
            "body is a 409. An id belongs to the vendor that first used it: another vendor's line under it "
            "is a 409 too, which says nothing about the owner."
        ),
        responses=problems(401, 403, 404, 409, 422),
    )
    async def create_transaction(
        self,
        stock: Provided[StockService],
        request: AuthedRequest,
        data: Annotated[TransactionIn, Body(title="Transaction")],
    ) -> Response[TransactionOut]:
        recorded = await stock.record(request.user, data)
        headers = {"Idempotent-Replayed": "true"} if recorded.replayed else {}
        return Response(recorded.transaction, status_code=201, headers=headers)
