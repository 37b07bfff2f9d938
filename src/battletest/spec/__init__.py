"""The one API-document model: Swagger 2.0, OpenAPI 3.0 and 3.1 in, one shape out.

Every consumer — the suites, the scanner, the mock server, ``load --from-spec``, ``init`` and
``doctor`` — reads a ``Spec`` and its ``Operation`` list and keeps no model of its own.

- ``load_spec(source, base_url)`` / ``from_document(doc)``: read (file, URL or discovery),
  resolve ``$ref`` (jsonref, across files), normalise (``normalise.py``);
- ``discover(base_url)``: find the document a service publishes (``discover.py``);
- ``model.py``: ``Spec``, ``Operation``, ``Parameter``, ``ResponseSpec`` (with its 3.x
  ``Link``s), ``SecurityScheme``, ``OAuthFlow`` and the helpers that read them;
- ``links.py``: which operation a link leads to, and its runtime expressions evaluated;
- ``schema.py``: OpenAPI schemas as JSON Schema, cycle-safe ``$ref`` resolution.

The document's ``host``/``servers`` never say where requests go: only its base path is kept
(``Spec.base_path``, ``Operation.url_path``), under the target the user named.
"""

from __future__ import annotations

from battletest.spec.discover import DISCOVERY_PATHS, discover
from battletest.spec.links import LinkExchange, evaluate, links_to
from battletest.spec.load import from_document, load_spec
from battletest.spec.model import (
    METHODS,
    SAFE_METHODS,
    Link,
    OAuthFlow,
    Operation,
    Parameter,
    ResponseSpec,
    SecurityScheme,
    Spec,
    item_schema,
    path_matches,
    properties_of,
    response_spec_for,
    select,
)
from battletest.spec.normalise import synthesised_id
from battletest.spec.schema import to_json_schema

__all__ = [
    "DISCOVERY_PATHS",
    "METHODS",
    "SAFE_METHODS",
    "Link",
    "LinkExchange",
    "OAuthFlow",
    "Operation",
    "Parameter",
    "ResponseSpec",
    "SecurityScheme",
    "Spec",
    "discover",
    "evaluate",
    "from_document",
    "item_schema",
    "links_to",
    "load_spec",
    "path_matches",
    "properties_of",
    "response_spec_for",
    "select",
    "synthesised_id",
    "to_json_schema",
]
