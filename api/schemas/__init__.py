"""Request and response schemas (pydantic v2). Requests forbid unknown fields; the OpenAPI document uses them all."""
