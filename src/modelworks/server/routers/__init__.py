"""The API's routers, one module per resource; each mirrors a group of store methods."""
