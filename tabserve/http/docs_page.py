"""The Swagger page at ``/``: BentoML's own Swagger UI files, under this service's title, offline.

BentoML's index page (``_bentoml_impl/server/main-openapi.html``) has three faults we cannot
configure away: its stylesheet hides the document's title (the page shows only the version), the
browser tab says "BentoML Prediction Service", and it loads Google Tag Manager from
googletagmanager.com (tracking nobody asked for, and console errors for an offline user). This page
replaces it: a route in an app mounted at ``/`` wins over BentoML's index route, which BentoML adds
after the mounted apps. It uses the Swagger UI bundle and stylesheet BentoML already serves under
``/static_content``, and loads nothing from any other host.
"""

from __future__ import annotations

from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

# Relative URLs, as in BentoML's page, so the page also works behind a path prefix. BaseLayout (the
# default) has no top bar and no online-validator badge, which would fetch from validator.swagger.io.
PAGE = """\
<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>{title}</title>
    <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css">
    <link rel="icon" type="image/png" href="./static_content/favicon-light-32x32.png">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script>
      window.ui = SwaggerUIBundle({{ url: "./docs.json", dom_id: "#swagger-ui", deepLinking: true }});
    </script>
  </body>
</html>
"""


def docs_page_app(title: str) -> Starlette:
    """An app answering ``GET /`` with the Swagger page for the OpenAPI document at ``./docs.json``."""
    page = PAGE.format(title=escape(title))

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    return Starlette(routes=[Route("/", index, methods=["GET"])])
