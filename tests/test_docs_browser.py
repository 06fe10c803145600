"""The docs page in a real browser (Debian's Chromium, driven by Playwright), as a newcomer uses it.

Open /docs with no internet access, sign in through Authorize as b/b (the OAuth2 password flow),
record a withdrawal for b's vendor from the page and see the 201 with its traceresponse header,
then read the product's new stock from the page too. Every request the page makes must stay on
the API's own address: Swagger UI's files are served by the API, not by a CDN.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect
from playwright.async_api import FloatRect as Clip

from tests.conftest import TEST_JWT_SECRET, stock_of
from tests.rows import MakeProduct
from tests.servers import ApiProcess
from tests.toolchain import REPO_ROOT, require_program

B_VENDOR = "306c68cb-164e-48ab-bae1-1f4340b2548c"  # demo user b acts for this vendor
SCREENSHOT = REPO_ROOT / "reports" / "docs" / "swagger-withdrawal.png"
# As the machine's own probe starts it: root needs --no-sandbox; the rest keeps Chromium from
# calling home (refused here, and slow to give up on).
CHROMIUM_ARGUMENTS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def traced_api(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """Telemetry on (spans made, nothing exported): responses carry their traceresponse header."""
    api = ApiProcess(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SUPPLIERS_JWT_SECRET": TEST_JWT_SECRET,
            "OTEL_SDK_DISABLED": "false",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        },
        log_path=tmp_path_factory.mktemp("docs") / "api.log",
    ).start()
    yield api
    api.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = require_program("chromium", install="apt-get install chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGUMENTS)
        yield launched
        await launched.close()


async def _operation(page: Page, method: str, path: str) -> Locator:
    """Expand one operation of the page and press Try it out."""
    # The displayed path has zero-width spaces between its segments; data-path holds it as written.
    summary = page.locator(f".opblock-summary-path[data-path='{path}']")
    block = page.locator(f".opblock-{method}").filter(has=summary)
    await block.locator(".opblock-summary").first.click()
    await block.get_by_role("button", name="Try it out").click()
    return block


async def test_from_the_docs_page_sign_in_withdraw_and_read_the_stock(
    traced_api: ApiProcess, browser: Browser, make_product: MakeProduct, db: asyncpg.Pool
) -> None:
    product = await make_product(quantity=10, required="C")
    page = await browser.new_page(viewport={"width": 1280, "height": 1800})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    await page.goto(f"{traced_api.base_url}/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("suppliers")

    # Authorize: the OAuth2 password flow against POST /login/token.
    await page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".dialog-ux")
    await dialog.locator("#oauth_username").fill("b")
    await dialog.locator("#oauth_password").fill("b")
    await dialog.locator("button.modal-btn.authorize").click()  # its label: "Apply given OAuth2 credentials"
    await expect(dialog.locator("button.modal-btn", has_text="Logout")).to_be_visible()  # signed in
    await dialog.locator("button.modal-btn.btn-done").click()

    # POST /transactions for b's vendor, from the page.
    post = await _operation(page, "post", "/transactions")
    body = {"product_id": str(product), "vendor_id": B_VENDOR, "action": "withdrawal", "quantity": 3}
    await post.locator("textarea.body-param__text").fill(json.dumps(body, indent=2))
    await post.get_by_role("button", name="Execute").click()
    live = post.locator(".live-responses-table").first
    await expect(live.locator("tbody .response-col_status").first).to_have_text("201")
    await expect(live.locator("tbody .response-col_description")).to_contain_text("traceresponse")
    headers_text = await live.locator("tbody .response-col_description").inner_text()
    assert "traceresponse: 00-" in headers_text.replace("\n", " ")
    # The operation from its title down to the server's answer (not the documented responses below).
    top, answer = await post.bounding_box(), await live.bounding_box()
    assert top is not None and answer is not None
    scrolled = await page.evaluate("window.scrollY")  # boxes are in the viewport, the clip in the page
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    height = answer["y"] + answer["height"] - top["y"]
    area: Clip = {"x": top["x"], "y": top["y"] + scrolled, "width": top["width"], "height": height}
    await page.screenshot(path=str(SCREENSHOT), clip=area, full_page=True)
    assert await stock_of(db, product) == 7

    # GET /products/{product_id}: the page shows the new stock.
    one = await _operation(page, "get", "/products/{product_id}")
    await one.locator("input[placeholder='product_id']").fill(str(product))
    await one.get_by_role("button", name="Execute").click()
    shown = one.locator(".live-responses-table .response-col_description .microlight").first
    await expect(shown).to_contain_text('"quantity": 7')

    # Nothing left the machine: every request went to the API itself.
    assert requested and all(url.startswith(traced_api.base_url) for url in requested), [
        url for url in requested if not url.startswith(traced_api.base_url)
    ]
    assert any("/schema/swagger-ui/swagger-ui-bundle.js" in url for url in requested)
    await page.close()
