"""A small pet shop that publishes a Swagger 2.0 document, in a style unlike the demo.

Plain Starlette (no FastAPI, so no generated OpenAPI 3 document): ``basePath: /shop``, HTTP Basic
on writes, a form-encoded create (``formData``), a multipart upload (``type: file``), a path-level
parameter, and nothing at the well-known documentation paths: the root answers JSON linking to
a Swagger UI page (``/api-explorer/``) whose script loads the document from a non-standard URL
(``/internal/specs/petshop-v2.json``), so discovery has to follow the root and read the page.
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

SPEC_URL = "/internal/specs/petshop-v2.json"
USERS = {"keeper": "keeper-pass-1"}

PET_ID = {"name": "petId", "in": "path", "required": True, "type": "integer", "minimum": 1}
DOCUMENT: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "Pet shop", "version": "2.1"},
    "host": "petshop.invalid:9999",
    "basePath": "/shop",
    "schemes": ["https"],
    "consumes": ["application/json"],
    "produces": ["application/json"],
    "securityDefinitions": {"keeper": {"type": "basic"}},
    "definitions": {
        "Pet": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "tag": {"type": "string", "x-nullable": True},
            },
        }
    },
    "paths": {
        "/pets": {
            "get": {
                "operationId": "listPets",
                "parameters": [
                    {"name": "limit", "in": "query", "type": "integer", "minimum": 1, "maximum": 50}
                ],
                "responses": {
                    "200": {
                        "description": "pets",
                        "schema": {"type": "array", "items": {"$ref": "#/definitions/Pet"}},
                    }
                },
            },
            "post": {
                "operationId": "createPet",
                "security": [{"keeper": []}],
                "consumes": ["application/x-www-form-urlencoded"],
                "parameters": [
                    {
                        "name": "name",
                        "in": "formData",
                        "type": "string",
                        "required": True,
                        "minLength": 1,
                        "maxLength": 30,
                    },
                    {"name": "tag", "in": "formData", "type": "string"},
                ],
                "responses": {
                    "201": {"description": "made", "schema": {"$ref": "#/definitions/Pet"}},
                    "401": {"description": "who are you"},
                    "422": {"description": "bad form"},
                },
            },
        },
        "/pets/{petId}": {
            "parameters": [PET_ID],
            "get": {
                "operationId": "showPet",
                "responses": {
                    "200": {"description": "a pet", "schema": {"$ref": "#/definitions/Pet"}},
                    "404": {"description": "no such pet"},
                },
            },
        },
        "/pets/{petId}/photo": {
            "parameters": [PET_ID],
            "post": {
                "operationId": "uploadPhoto",
                "security": [{"keeper": []}],
                "consumes": ["multipart/form-data"],
                "parameters": [
                    {"name": "photo", "in": "formData", "type": "file", "required": True},
                    {"name": "caption", "in": "formData", "type": "string"},
                ],
                "responses": {
                    "201": {
                        "description": "stored",
                        "schema": {
                            "type": "object",
                            "required": ["bytes"],
                            "properties": {"bytes": {"type": "integer"}},
                        },
                    },
                    "401": {"description": "who are you"},
                    "404": {"description": "no such pet"},
                    "422": {"description": "no file"},
                },
            },
        },
    },
}

PAGE = f"""<!doctype html><html><head><title>Pet shop API</title></head><body>
<div id="swagger-ui"></div>
<script src="/api-explorer/swagger-ui-bundle.js"></script>
<script>
window.onload = () => {{
  window.ui = SwaggerUIBundle({{ url: "{SPEC_URL}", dom_id: "#swagger-ui" }});
}};
</script></body></html>"""


def build_app() -> Starlette:
    pets: dict[int, dict[str, Any]] = {1: {"id": 1, "name": "Rex", "tag": None}}

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return USERS.get(user) == password

    async def document(request: Request) -> Response:
        return JSONResponse(DOCUMENT)

    async def explorer(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def root(request: Request) -> Response:
        links = [{"rel": "self", "href": "/"}, {"rel": "documentation", "href": "/api-explorer/"}]
        return JSONResponse({"service": "pet shop", "links": links})

    async def list_pets(request: Request) -> Response:
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            return JSONResponse({"error": "limit must be an integer"}, status_code=400)
        return JSONResponse(list(pets.values())[: max(1, min(limit, 50))])

    async def create_pet(request: Request) -> Response:
        if not authorised(request):
            return Response(status_code=401, headers={"WWW-Authenticate": "Basic"})
        if "form" not in request.headers.get("content-type", ""):
            return JSONResponse({"error": "send a form"}, status_code=422)
        form = await request.form()
        name = str(form.get("name") or "")
        if not 1 <= len(name) <= 30:
            return JSONResponse({"error": "name"}, status_code=422)
        pet = {"id": max(pets) + 1, "name": name, "tag": form.get("tag")}
        pets[pet["id"]] = pet
        return JSONResponse(pet, status_code=201)

    def pet_id(request: Request) -> int | None:
        try:
            value = int(request.path_params["pet_id"])
        except ValueError:
            return None
        return value if value in pets else None

    async def show_pet(request: Request) -> Response:
        found = pet_id(request)
        if found is None:
            return JSONResponse({"error": "no such pet"}, status_code=404)
        return JSONResponse(pets[found])

    async def upload(request: Request) -> Response:
        if not authorised(request):
            return Response(status_code=401, headers={"WWW-Authenticate": "Basic"})
        if pet_id(request) is None:
            return JSONResponse({"error": "no such pet"}, status_code=404)
        if "multipart/form-data" not in request.headers.get("content-type", ""):
            return JSONResponse({"error": "send multipart"}, status_code=422)
        form = await request.form()
        photo = form.get("photo")
        if photo is None or isinstance(photo, str):
            return JSONResponse({"error": "no file"}, status_code=422)
        data = await photo.read()
        return JSONResponse({"bytes": len(data)}, status_code=201)

    return Starlette(
        routes=[
            Route(SPEC_URL, document),
            Route("/", root),
            Route("/api-explorer/", explorer),
            Route("/shop/pets", list_pets, methods=["GET"]),
            Route("/shop/pets", create_pet, methods=["POST"]),
            Route("/shop/pets/{pet_id}", show_pet, methods=["GET"]),
            Route("/shop/pets/{pet_id}/photo", upload, methods=["POST"]),
        ]
    )
