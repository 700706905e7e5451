"""The HTTP surface: every dataset's APIs and routes, guards, error bodies and the OpenAPI document."""
